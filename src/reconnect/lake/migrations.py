"""The versioned Delta DDL (``reconnect/lake/migrations/V<nnn>__*.sql``) and how it is applied.

The files ship inside the package, so a wheel installed on a cluster creates the same tables as a
checkout. Every statement is idempotent (``IF NOT EXISTS``); :func:`ensure_tables` applies them all.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from importlib.abc import Traversable
from importlib.resources import files
from string import Template
from typing import TYPE_CHECKING

from reconnect.lake.tables import ALL_TABLES, ANALYTICS, analytics_location
from reconnect.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIGRATIONS: Traversable = files("reconnect.lake").joinpath("migrations")

_MIGRATION_NAME = re.compile(r"^V(\d{3})__[a-z0-9_]+\.sql$")


def migration_files(directory: Traversable | None = None) -> list[Traversable]:
    """The versioned DDL files in apply order; a misnamed file is an error, not skipped.

    By default the files shipped in the package (``reconnect/lake/migrations/``).
    """
    directory = directory if directory is not None else MIGRATIONS
    found = sorted(
        (p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name
    )
    for p in found:
        if not _MIGRATION_NAME.match(p.name):
            raise ValueError(f"{p}: migration files are named V<nnn>__<snake_case>.sql")
    return found


def render_migration(path: Traversable, settings: Settings) -> list[str]:
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


# Consecutive CREATE TABLE statements run on a few threads: each is mostly driver work (a Delta
# commit or a read of the existing log, and a catalog entry), independent of the others.
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

    Then the dbt project's tables under ``<lakehouse>/analytics/`` are registered too
    (:func:`register_analytics_tables`). Done once per session and settings (a few seconds of
    catalog work), unless ``force``.
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
        register_analytics_tables(spark, settings)
    _ENSURED.add(key)


def analytics_folders(spark: SparkSession, settings: Settings) -> list[str]:
    """The folders under ``<lakehouse>/analytics/`` that hold a Delta table, by name.

    A folder counts when it has a ``_delta_log`` (the dbt project's model tables). Listed
    through Hadoop's file system, so an object-store lakehouse (``s3a://``) works too.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    root = jvm.org.apache.hadoop.fs.Path(analytics_location(settings))
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(root):
        return []
    found = []
    for status in fs.listStatus(root):
        path = status.getPath()
        name = str(path.getName())
        if (
            status.isDirectory()
            and re.fullmatch(r"[a-z_][a-z0-9_]*", name)
            and fs.exists(jvm.org.apache.hadoop.fs.Path(path, "_delta_log"))
        ):
            found.append(name)
    return sorted(found)


def register_analytics_tables(spark: SparkSession, settings: Settings) -> list[str]:
    """Register every Delta table under ``<lakehouse>/analytics/`` as ``<analytics>.<folder>``.

    The dbt project writes its models there (docs/analytics.md); a session whose catalog lives
    in memory (local Spark) forgets them when it ends, so each new session registers them again
    (``reconnect sql`` then reads ``analytics.rpt_campaign_performance``). A name already
    registered must point at the same folder, as for the other layers. Returns the qualified
    names.
    """
    folders = analytics_folders(spark, settings)
    if not folders:
        return []
    schema = settings.catalog.schema_name(ANALYTICS)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    registered = {
        row["tableName"]
        for row in spark.sql(f"SHOW TABLES IN {schema}").collect()
        if not row["isTemporary"]
    }
    root = analytics_location(settings)
    names = []
    for folder in folders:
        name, location = f"{schema}.{folder}", f"{root}/{folder}"
        names.append(name)
        if folder not in registered:
            spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{location}'")
            continue
        where = _registered_location(spark, name)
        expected = location.removeprefix("file:").rstrip("/")
        if where != expected:
            raise ValueError(
                f"table {name} is registered at {where}, but the settings put it at "
                f"{expected}: use other catalog names (catalog.*) or paths"
            )
    return names


def _is_create_table(stmt: str) -> bool:
    return re.match(r"CREATE\s+TABLE\s", stmt, re.IGNORECASE) is not None
