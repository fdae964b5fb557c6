"""Pure transforms from feed and subscriber-list files to typed snapshot rows (spec/DATA.md).

A feed file becomes *records*: one ``map<string,string>`` per data line (CSV with a header, JSON
Lines, or Parquet), empty values dropped, so "an attribute absent" and "an attribute empty" are
the same thing (R-TYPE-UATTR: a deleted attribute is not a change). Records are then checked and
typed per feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.ingest.lines import failure, first_failure, shown
from reconnect.lake.schemas import MONEY, PRODUCT_SNAPSHOTS, SUBSCRIPTIONS, USER_SNAPSHOTS
from reconnect.vocabulary import CHANNELS
from reconnect.vocabulary import QuarantineReason as R

_RECORD = T.MapType(T.StringType(), T.StringType())
_INTEGER = r"^\s*-?\d+\s*$"
_NUMBER = r"^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$"
SUBSCRIBER_CHANNELS = ("email", "sms")
FEED_FORMATS = {
    ".csv": "csv",
    ".jsonl": "json",
    ".json": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class FeedFile:
    """Where a landed feed file belongs, read off its path."""

    path: str
    sync_time: datetime | None
    channel: str | None
    format: str | None
    problem: str | None
    """Why the file cannot be read as part of a sync (then every line is quarantined)."""


_SYNC = re.compile(r"/sync_time=([^/]+)/[^/]+$")
_CHANNEL = re.compile(r"/channel=([^/]+)/sync_time=[^/]+/[^/]+$")


def parse_sync_time(text: str) -> datetime | None:
    """An ISO-8601 sync time with an offset or ``Z``; None when it is not one."""
    from urllib.parse import unquote

    text = unquote(text)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else None


def classify_feed_file(path: str, subscribers: bool) -> FeedFile:
    """Read a feed file's sync time, channel and format from its path, or say what is wrong."""
    fmt = next((f for ext, f in FEED_FORMATS.items() if path.lower().endswith(ext)), None)
    m = _SYNC.search(path)
    sync_time = parse_sync_time(m.group(1)) if m else None
    channel = None
    problem = None
    expected = (
        "subscribers/channel=<email|sms>/sync_time=<ISO-8601>/<file>.csv"
        if subscribers
        else "<feed>/sync_time=<ISO-8601 with offset>/<file>"
    )
    if sync_time is None:
        problem = f"expected the file at {expected}"
    elif subscribers:
        cm = _CHANNEL.search(path)
        channel = cm.group(1) if cm else None
        if channel not in SUBSCRIBER_CHANNELS:
            problem = f"expected the file at {expected}"
    if problem is None and fmt is None:
        problem = f"expected a file ending in one of {', '.join(FEED_FORMATS)}"
    return FeedFile(path, sync_time, channel, fmt, problem)


def _drop_empty(m: Column) -> Column:
    return F.map_filter(m, lambda k, v: v.isNotNull() & (F.trim(v) != ""))


def records_from_json_lines(lines: DataFrame) -> DataFrame:
    """JSON Lines feed records: ``source_file, source_line, raw, record, error``."""
    record = F.from_json("raw", _RECORD.simpleString(), {"allowSingleQuotes": "false"})
    return lines.select(
        "source_file",
        "source_line",
        "raw",
        _drop_empty(record).alias("record"),
        failure(record.isNull(), R.NOT_JSON, None, "expected one JSON object per line").alias(
            "error"
        ),
    )


def records_from_csv_lines(lines: DataFrame, header: list[str]) -> DataFrame:
    """CSV feed records of files sharing ``header`` (the header line itself is dropped).

    CSV is read as RFC 4180 (``"`` quotes, ``""`` escapes); a record must sit on one line.
    """
    corrupt = "_corrupt_record"
    schema = T.StructType(
        [T.StructField(f"c{i}", T.StringType()) for i in range(len(header))]
        + [T.StructField(corrupt, T.StringType())]
    )
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": corrupt, "escape": '"'}
    first_line = F.min("source_line").over(_by_file())
    parsed = (
        lines.withColumn("first_line", first_line)
        .where(F.col("source_line") != F.col("first_line"))
        .withColumn("r", F.from_csv("raw", schema.simpleString(), options))
    )
    record = F.map_from_arrays(
        F.array(*[F.lit(h) for h in header]),
        F.array(*[F.col("r")[f"c{i}"] for i in range(len(header))]),
    )
    return parsed.select(
        "source_file",
        "source_line",
        "raw",
        _drop_empty(record).alias("record"),
        failure(
            F.col("r")[corrupt].isNotNull(),
            R.MALFORMED_CSV,
            None,
            f"expected {len(header)} fields as in the header ({','.join(header)})",
        ).alias("error"),
    )


def _by_file():  # type: ignore[no-untyped-def]
    from pyspark.sql.window import Window

    return Window.partitionBy("source_file")


def records_from_table(df: DataFrame, source_file: str) -> DataFrame:
    """Parquet feed records; ``source_line`` is the 1-based row number in the file."""
    names = [c for c in df.columns]
    record = F.map_from_arrays(
        F.array(*[F.lit(c) for c in names]),
        F.array(*[F.col(f"`{c}`").cast("string") for c in names]),
    )
    return df.select(
        F.lit(source_file).alias("source_file"),
        (F.col("_metadata.row_index") + 1).alias("source_line"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in names])).alias("raw"),
        _drop_empty(record).alias("record"),
        F.lit(None).cast("struct<reason:string,field:string,detail:string>").alias("error"),
    )


def _required(m: Column, field: str, what: str) -> Column:
    return failure(m[field].isNull(), R.MISSING_FIELD, field, f"{field}: required in {what}")


def _typed(
    records: DataFrame, checks: list[Column], typed: dict[str, Column], schema: T.StructType
) -> DataFrame:
    out = records.withColumn("error", first_failure(F.col("error"), *checks))
    return out.select(
        *[typed[f.name].cast(f.dataType).alias(f.name) for f in schema.fields if f.name in typed],
        "source_file",
        "source_line",
        "error",
        F.when(F.col("error").isNotNull(), F.col("raw")).alias("raw"),
    )


def product_snapshot_rows(records: DataFrame) -> DataFrame:
    """Typed product-feed rows plus ``error``. Grain: one row per record; needs ``sync_time``."""
    m = F.col("record")
    price, stock = m["price"], m["stock"]
    checks = [
        _required(m, "product_id", "the product feed"),
        _required(m, "price", "the product feed"),
        failure(
            ~price.rlike(_NUMBER),
            R.WRONG_TYPE,
            "price",
            F.concat(F.lit("price: expected a decimal number, got "), shown(price)),
        ),
        failure(
            price.try_cast(MONEY) < 0,
            R.INVALID_VALUE,
            "price",
            F.concat(F.lit("price: expected >= 0, got "), shown(price)),
        ),
        failure(
            stock.isNotNull() & ~stock.rlike(_INTEGER),
            R.WRONG_TYPE,
            "stock",
            F.concat(F.lit("stock: expected an integer, got "), shown(stock)),
        ),
        failure(
            F.trim(stock).try_cast("int") < 0,
            R.INVALID_VALUE,
            "stock",
            F.concat(F.lit("stock: expected >= 0, got "), shown(stock)),
        ),
    ]
    typed = {
        "sync_time": F.col("sync_time"),
        "product_id": m["product_id"],
        "price": F.trim(price).try_cast(MONEY),
        **{c: m[c] for c in ("name", "url", "image_url", "category", "brand", "currency")},
        "stock": F.trim(stock).try_cast("int"),
        "attributes": F.map_filter(m, lambda k, v: k != "product_id"),
    }
    return _typed(records, checks, typed, PRODUCT_SNAPSHOTS)


def user_snapshot_rows(records: DataFrame) -> DataFrame:
    """Typed user-feed rows plus ``error``. Grain: one row per record; needs ``sync_time``."""
    m = F.col("record")
    typed = {
        "sync_time": F.col("sync_time"),
        "cuid": m["cuid"],
        **{c: m[c] for c in ("email", "phone", "timezone", "country", "loyalty_tier")},
        "attributes": F.map_filter(m, lambda k, v: k != "cuid"),
    }
    return _typed(records, [_required(m, "cuid", "the user feed")], typed, USER_SNAPSHOTS)


def subscription_rows(records: DataFrame) -> DataFrame:
    """Typed subscriber-list rows plus ``error``; needs ``sync_time`` and ``channel``."""
    m = F.col("record")
    checks = [
        _required(m, "cuid", "a subscriber list"),
        _required(m, "address", "a subscriber list"),
        failure(
            ~F.col("channel").isin(*CHANNELS),
            R.BAD_PATH,
            "channel",
            "channel: expected email or sms in the folder name",
        ),
    ]
    typed = {
        "sync_time": F.col("sync_time"),
        "channel": F.col("channel"),
        "cuid": m["cuid"],
        "address": F.trim(m["address"]),
    }
    return _typed(records, checks, typed, SUBSCRIPTIONS)


def keep_first_per_key(rows: DataFrame, keys: list[str], columns: list[str]) -> DataFrame:
    """One row per key: the copy with the smallest ``(source_file, source_line)``."""
    first = rows.groupBy(*keys).agg(
        F.min_by(F.struct(*columns), F.struct("source_file", "source_line")).alias("r")
    )
    return first.select("r.*")
