"""Every Delta table of the lakehouse: its StructType, its DDL file and where it lives.

The StructTypes here and the versioned DDL in ``sql/migrations/`` are two statements of one
contract; ``tests/integration/test_table_contracts.py`` applies the DDL and requires them equal.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from pyspark.sql import types as T

from reconnect.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"

MONEY = T.DecimalType(18, 4)


def _f(name: str, dtype: T.DataType, nullable: bool = True) -> T.StructField:
    return T.StructField(name, dtype, nullable)


LINEAGE = [_f("source_file", T.StringType(), False), _f("source_line", T.LongType(), False)]

EVENTS = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("event_date", T.DateType(), False),
        _f("user_id", T.StringType(), False),
        _f("cuid", T.StringType()),
        _f("session_id", T.StringType()),
        _f("event_type", T.StringType(), False),
        _f("event_name", T.StringType()),
        _f("product_id", T.StringType()),
        _f("quantity", T.IntegerType()),
        _f("price", MONEY),
        _f("currency", T.StringType()),
        _f("category", T.StringType()),
        _f(
            "cart",
            T.ArrayType(
                T.StructType([_f("product_id", T.StringType()), _f("quantity", T.IntegerType())])
            ),
        ),
        _f("order_id", T.StringType()),
        _f("revenue", MONEY),
        _f(
            "items",
            T.ArrayType(
                T.StructType(
                    [
                        _f("product_id", T.StringType()),
                        _f("quantity", T.IntegerType()),
                        _f("price", MONEY),
                    ]
                )
            ),
        ),
        _f("message_id", T.StringType()),
        _f("channel", T.StringType()),
        _f("address", T.StringType()),
        _f("properties", T.MapType(T.StringType(), T.StringType())),
        *LINEAGE,
    ]
)

PRODUCT_SNAPSHOTS = T.StructType(
    [
        _f("sync_time", T.TimestampType(), False),
        _f("product_id", T.StringType(), False),
        _f("price", MONEY, False),
        _f("name", T.StringType()),
        _f("url", T.StringType()),
        _f("image_url", T.StringType()),
        _f("category", T.StringType()),
        _f("brand", T.StringType()),
        _f("currency", T.StringType()),
        _f("stock", T.IntegerType()),
        _f("attributes", T.MapType(T.StringType(), T.StringType()), False),
        *LINEAGE,
    ]
)

USER_SNAPSHOTS = T.StructType(
    [
        _f("sync_time", T.TimestampType(), False),
        _f("cuid", T.StringType(), False),
        _f("email", T.StringType()),
        _f("phone", T.StringType()),
        _f("timezone", T.StringType()),
        _f("country", T.StringType()),
        _f("loyalty_tier", T.StringType()),
        _f("attributes", T.MapType(T.StringType(), T.StringType()), False),
        *LINEAGE,
    ]
)

SUBSCRIPTIONS = T.StructType(
    [
        _f("sync_time", T.TimestampType(), False),
        _f("channel", T.StringType(), False),
        _f("cuid", T.StringType(), False),
        _f("address", T.StringType(), False),
        *LINEAGE,
    ]
)

QUARANTINE = T.StructType(
    [
        _f("source", T.StringType(), False),
        _f("source_file", T.StringType(), False),
        _f("source_line", T.LongType(), False),
        _f("sync_time", T.TimestampType()),
        _f("reason", T.StringType(), False),
        _f("field", T.StringType()),
        _f("detail", T.StringType(), False),
        _f("raw", T.StringType()),
    ]
)

INGEST_FILES = T.StructType(
    [
        _f("source", T.StringType(), False),
        _f("source_file", T.StringType(), False),
        _f("sync_time", T.TimestampType()),
        _f("lines", T.LongType(), False),
        _f("accepted", T.LongType(), False),
        _f("quarantined", T.LongType(), False),
        _f("duplicates", T.LongType(), False),
    ]
)


@dataclass(frozen=True)
class TableSpec:
    """One Delta table: layer (bronze / silver / gold), name, schema and partitioning."""

    layer: str
    name: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()

    def qualified_name(self, settings: Settings) -> str:
        """``<catalog.>schema.table`` as registered in the Spark catalog."""
        return f"{settings.catalog.schema_name(self.layer)}.{self.name}"

    def location(self, settings: Settings) -> str:
        """The folder (or URI) of the table's Delta log and files."""
        return f"{settings.paths.lakehouse.rstrip('/')}/{self.layer}/{self.name}"


BRONZE_EVENTS = TableSpec("bronze", "events", EVENTS)
BRONZE_PRODUCT_SNAPSHOTS = TableSpec("bronze", "product_snapshots", PRODUCT_SNAPSHOTS)
BRONZE_USER_SNAPSHOTS = TableSpec("bronze", "user_snapshots", USER_SNAPSHOTS)
BRONZE_SUBSCRIPTIONS = TableSpec("bronze", "subscriptions", SUBSCRIPTIONS)
BRONZE_QUARANTINE = TableSpec("bronze", "quarantine", QUARANTINE)
BRONZE_INGEST_FILES = TableSpec("bronze", "ingest_files", INGEST_FILES)

ALL_TABLES: tuple[TableSpec, ...] = (
    BRONZE_EVENTS,
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_USER_SNAPSHOTS,
    BRONZE_SUBSCRIPTIONS,
    BRONZE_QUARANTINE,
    BRONZE_INGEST_FILES,
)

_MIGRATION_NAME = re.compile(r"^V(\d{3})__[a-z0-9_]+\.sql$")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The versioned DDL files in apply order; a misnamed file is an error, not skipped."""
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql")
    for p in files:
        if not _MIGRATION_NAME.match(p.name):
            raise ValueError(f"{p}: migration files are named V<nnn>__<snake_case>.sql")
    return files


def render_migration(path: Path, settings: Settings) -> list[str]:
    """The statements of one DDL file, placeholders filled in from settings.

    ``${bronze}`` (and silver, gold) become schema names, ``${location:<layer>/<table>}`` the
    table's folder.
    """
    text = path.read_text()
    text = re.sub(
        r"\$\{location:([a-z_]+)/([a-z_]+)\}",
        lambda m: f"'{settings.paths.lakehouse.rstrip('/')}/{m.group(1)}/{m.group(2)}'",
        text,
    )
    text = Template(text).substitute(
        bronze=settings.catalog.schema_name("bronze"),
        silver=settings.catalog.schema_name("silver"),
        gold=settings.catalog.schema_name("gold"),
    )
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


_ENSURED: set[tuple[str, str, str]] = set()


# The DDL runs on a few threads: each CREATE TABLE is ~0.15 s of driver work (a Delta commit or
# a read of the existing log, and a catalog entry), independent of the others once the schemas
# exist. With four threads a fresh lake's DDL took ~2.9 s instead of ~3.5 s on two cores
# (the statements alone: ~2.2 s instead of ~3.5 s).
_DDL_THREADS = 4


def _registered_tables(spark: SparkSession, settings: Settings) -> set[str]:
    """The qualified names of this lake's tables already in the catalog, one call a schema.

    ``SHOW TABLES`` lists names only; ``catalog.listTables`` would load every table's metadata.
    """
    found: set[str] = set()
    for layer in sorted({t.layer for t in ALL_TABLES}):
        schema = settings.catalog.schema_name(layer)
        if not spark.catalog.databaseExists(schema):
            continue
        for row in spark.sql(f"SHOW TABLES IN {schema}").collect():
            if not row["isTemporary"]:
                found.add(f"{schema}.{row['tableName']}")
    return found


def _registered_location(spark: SparkSession, name: str) -> str:
    """Where the catalog entry of ``name`` points.

    DESCRIBE TABLE EXTENDED reads the catalog entry (~0.1 s); DESCRIBE DETAIL would compute the
    table's details (~0.5 s a table).
    """
    row = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").where("col_name = 'Location'").first()
    assert row is not None, f"{name} has no location"
    return str(row["data_type"]).removeprefix("file:").rstrip("/")


def ensure_tables(spark: SparkSession, settings: Settings, force: bool = False) -> None:
    """Apply every migration (idempotent statements) so all tables exist and are registered.

    Done once per session and settings (a few seconds of catalog work), unless ``force``.
    Statements run in file order, except that consecutive CREATE TABLE statements run side by
    side (they are independent of each other: each is IF NOT EXISTS on its own table).
    """
    key = (
        spark.sparkContext.applicationId,
        settings.paths.lakehouse,
        settings.catalog.model_dump_json(),
    )
    if key in _ENSURED and not force:
        return
    # Only a name registered before this call can point elsewhere: one created just now points
    # where the DDL put it. (A fresh process with the in-memory catalog skips every check.)
    before = _registered_tables(spark, settings)
    with ThreadPoolExecutor(_DDL_THREADS, thread_name_prefix="ddl") as pool:
        group: list[str] = []  # consecutive CREATE TABLE statements, run side by side
        for stmt in [st for path in migration_files() for st in render_migration(path, settings)]:
            if _is_create_table(stmt):
                group.append(stmt)
                continue
            list(pool.map(spark.sql, group))
            group = []
            spark.sql(stmt)
        list(pool.map(spark.sql, group))
        # CREATE TABLE IF NOT EXISTS keeps an existing registration: make sure the name points
        # where these settings write, or two environments would silently mix.
        checked = [t for t in ALL_TABLES if t.qualified_name(settings) in before]
        names = [t.qualified_name(settings) for t in checked]
        wheres = list(pool.map(lambda n: _registered_location(spark, n), names))
        for table, where in zip(checked, wheres, strict=True):
            expected = table.location(settings).removeprefix("file:").rstrip("/")
            if where != expected:
                raise ValueError(
                    f"table {table.qualified_name(settings)} is registered at {where}, but the "
                    f"settings put it at {expected}: use other catalog names (catalog.*) or paths"
                )
    _ENSURED.add(key)


def _is_create_table(stmt: str) -> bool:
    return re.match(r"CREATE\s+TABLE\s", stmt, re.IGNORECASE) is not None


# --- silver: feed changes (sql/migrations/V004, docs/feeds.md) -----------------------------

PERCENT = T.DecimalType(9, 4)

PRODUCT_CHANGES = T.StructType(
    [
        _f("product_id", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("previous_sync_time", T.TimestampType(), False),
        _f("attribute", T.StringType(), False),
        _f("change_kind", T.StringType(), False),
        _f("old_value", T.StringType()),
        _f("new_value", T.StringType(), False),
        _f("old_price", MONEY),
        _f("new_price", MONEY),
        _f("drop_amount", MONEY),
        _f("drop_percent", PERCENT),
        _f("back_in_stock", T.BooleanType(), False),
    ]
)

USER_ATTRIBUTE_CHANGES = T.StructType(
    [
        _f("cuid", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("previous_sync_time", T.TimestampType()),
        _f("attribute", T.StringType(), False),
        _f("change_kind", T.StringType(), False),
        _f("old_value", T.StringType()),
        _f("new_value", T.StringType(), False),
    ]
)

FEED_SYNC_PROGRESS = T.StructType(
    [
        _f("feed", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("previous_sync_time", T.TimestampType()),
        _f("bronze_version", T.LongType(), False),
        _f("change_rows", T.LongType(), False),
    ]
)

SILVER_PRODUCT_CHANGES = TableSpec("silver", "product_changes", PRODUCT_CHANGES)
SILVER_USER_ATTRIBUTE_CHANGES = TableSpec(
    "silver", "user_attribute_changes", USER_ATTRIBUTE_CHANGES
)
SILVER_FEED_SYNC_PROGRESS = TableSpec("silver", "feed_sync_progress", FEED_SYNC_PROGRESS)

ALL_TABLES = (
    *ALL_TABLES,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    SILVER_FEED_SYNC_PROGRESS,
)


# --- detection (sql/migrations/V005, docs/detection.md) ---------------------------------------

PAYLOAD = T.ArrayType(
    T.StructType(
        [
            _f("slot", T.IntegerType()),
            _f("product_id", T.StringType()),
            _f("name", T.StringType()),
            _f("image_url", T.StringType()),
            _f("url", T.StringType()),
            _f("price", MONEY),
            _f("old_price", MONEY),
            _f("drop_percent", PERCENT),
        ]
    )
)


def _journey_head() -> list[T.StructField]:
    return [
        _f("journey_id", T.StringType(), False),
        _f("campaign_id", T.StringType(), False),
        _f("campaign_type", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("is_control", T.BooleanType(), False),
    ]


def _who() -> list[T.StructField]:
    return [
        _f("key_kind", T.StringType(), False),
        _f("user_key", T.StringType(), False),
        _f("user_id", T.StringType()),
        _f("cuid", T.StringType()),
        _f("trigger_time", T.TimestampType(), False),
        _f("trigger_id", T.StringType(), False),
    ]


JOURNEYS = T.StructType(
    [
        *_journey_head(),
        *_who(),
        _f("steps", T.IntegerType(), False),
        _f("first_due_at", T.TimestampType(), False),
        _f("last_due_at", T.TimestampType(), False),
        _f("state", T.StringType(), False),
        _f("reason", T.StringType()),
        _f("ended_by", T.StringType()),
        _f("ended_at", T.TimestampType()),
    ]
)

STEP_ELIGIBILITY = T.StructType(
    [
        _f("message_id", T.StringType(), False),
        *_journey_head(),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        *_who(),
        _f("due_at", T.TimestampType(), False),
        _f("state", T.StringType(), False),
        _f("reason", T.StringType()),
        _f("decided_by", T.StringType()),
        _f("decided_at", T.TimestampType()),
        _f("payload", PAYLOAD, False),
        _f("payload_as_of", T.TimestampType()),
    ]
)

DETECT_STATE = T.StructType(
    [
        _f("key_kind", T.StringType(), False),
        _f("user_key", T.StringType(), False),
        _f("cuid", T.StringType()),
        _f("last_event_at", T.TimestampType()),
        _f("state", T.StringType()),
        _f("watched", T.ArrayType(T.StringType())),
        _f("expires_at", T.TimestampType(), False),
    ]
)

LATE_EVENTS = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("user_id", T.StringType(), False),
        _f("event_type", T.StringType(), False),
        _f("watermark", T.TimestampType(), False),
    ]
)

DETECT_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        _f("watermark", T.TimestampType()),
        _f("previous_watermark", T.TimestampType()),
        *(_f(n, T.LongType(), False) for n in ("events_read", "events_applied", "late_events")),
        _f("feed_syncs", T.IntegerType(), False),
        _f("late_feed_syncs", T.IntegerType(), False),
        *(
            _f(n, T.LongType(), False)
            for n in (
                "inputs",
                "messages_written",
                "journeys_written",
                "state_rows",
                "state_version",
                "buffer_version",
            )
        ),
    ]
)

DETECT_FEED_SYNCS = T.StructType(
    [
        _f("feed", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("batch_id", T.LongType(), False),
        _f("late", T.BooleanType(), False),
    ]
)

SILVER_JOURNEYS = TableSpec("silver", "journeys", JOURNEYS)
GOLD_STEP_ELIGIBILITY = TableSpec("gold", "step_eligibility", STEP_ELIGIBILITY)
SILVER_DETECT_STATE = TableSpec("silver", "detect_state", DETECT_STATE)
SILVER_DETECT_BUFFER = TableSpec("silver", "detect_buffer", EVENTS)
SILVER_LATE_EVENTS = TableSpec("silver", "late_events", LATE_EVENTS)
SILVER_DETECT_PROGRESS = TableSpec("silver", "detect_progress", DETECT_PROGRESS)
SILVER_DETECT_FEED_SYNCS = TableSpec("silver", "detect_feed_syncs", DETECT_FEED_SYNCS)

DETECT_TABLES: tuple[TableSpec, ...] = (
    SILVER_JOURNEYS,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_STATE,
    SILVER_DETECT_BUFFER,
    SILVER_LATE_EVENTS,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_FEED_SYNCS,
)
ALL_TABLES = (*ALL_TABLES, *DETECT_TABLES)


# --- sending (sql/migrations/V006, docs/sending.md) ---------------------------------------------

MESSAGES = T.StructType(
    [
        _f("message_id", T.StringType(), False),
        *_journey_head(),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        _f("person_key", T.StringType(), False),
        _f("user_id", T.StringType()),
        _f("cuid", T.StringType()),
        _f("trigger_time", T.TimestampType(), False),
        _f("due_at", T.TimestampType(), False),
        _f("send_at", T.TimestampType(), False),
        _f("deferred_from", T.TimestampType()),
        _f("state", T.StringType(), False),
        _f("reason", T.StringType()),
        _f("decided_by", T.StringType()),
        _f("channel", T.StringType()),
        _f("address", T.StringType()),
        _f("payload", T.StringType()),
    ]
)

DELIVERIES = T.StructType(
    [
        _f("message_id", T.StringType(), False),
        _f("channel", T.StringType(), False),
        _f("provider", T.StringType(), False),
        _f("attempt", T.IntegerType(), False),
        _f("status", T.StringType(), False),
        _f("http_status", T.IntegerType()),
        _f("error", T.StringType()),
        _f("attempted_at", T.TimestampType(), False),
        _f("duration_ms", T.LongType(), False),
        _f("send_batch", T.LongType(), False),
    ]
)

LATE_CANCELS = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("event_type", T.StringType(), False),
        _f("message_id", T.StringType(), False),
        _f("campaign_id", T.StringType(), False),
        _f("user_id", T.StringType(), False),
        _f("due_at", T.TimestampType(), False),
        _f("send_at", T.TimestampType(), False),
    ]
)

SEND_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        _f("horizon", T.TimestampType()),
        _f("previous_horizon", T.TimestampType()),
        *[
            _f(n, T.LongType(), False)
            for n in ("messages", "sent", "suppressed", "cancelled", "superseded", "late_cancels")
        ],
    ]
)

DELIVERY_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        _f("delivered", T.LongType(), False),
        _f("failed", T.LongType(), False),
    ]
)

GOLD_MESSAGES = TableSpec("gold", "messages", MESSAGES)
GOLD_DELIVERIES = TableSpec("gold", "deliveries", DELIVERIES)
GOLD_LATE_CANCELS = TableSpec("gold", "late_cancels", LATE_CANCELS)
SILVER_SEND_PROGRESS = TableSpec("silver", "send_progress", SEND_PROGRESS)
SILVER_DELIVERY_PROGRESS = TableSpec("silver", "delivery_progress", DELIVERY_PROGRESS)

SEND_TABLES: tuple[TableSpec, ...] = (
    GOLD_MESSAGES,
    GOLD_DELIVERIES,
    GOLD_LATE_CANCELS,
    SILVER_SEND_PROGRESS,
    SILVER_DELIVERY_PROGRESS,
)
ALL_TABLES = (*ALL_TABLES, *SEND_TABLES)
