"""The files of a feed micro-batch: which sources there are, and their records read as rows.

A snapshot micro-batch hands over new file paths; the pipeline re-reads every sync folder they
touch. Readable files (CSV, JSON Lines, Parquet) become records tagged with their sync time and
channel; files in the wrong place or format become quarantine rows, one per line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.ingest import feeds
from reconnect.ingest.lines import split_lines
from reconnect.lake.tables import (
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_SUBSCRIPTIONS,
    BRONZE_USER_SNAPSHOTS,
    TableSpec,
)
from reconnect.vocabulary import QuarantineReason


@dataclass(frozen=True)
class FeedKind:
    """A snapshot source: where it lands, how records are typed, and its key within a sync."""

    source: str
    table: TableSpec
    to_rows: Callable[[DataFrame], DataFrame]
    key: tuple[str, ...]
    subscribers: bool = False


PRODUCT_FEED = FeedKind(
    "product_feed", BRONZE_PRODUCT_SNAPSHOTS, feeds.product_snapshot_rows, ("product_id",)
)
USER_FEED = FeedKind("user_feed", BRONZE_USER_SNAPSHOTS, feeds.user_snapshot_rows, ("cuid",))
SUBSCRIBERS = FeedKind(
    "subscribers", BRONZE_SUBSCRIPTIONS, feeds.subscription_rows, ("channel", "cuid"), True
)


def list_files(spark: SparkSession, folders: Iterable[str]) -> list[str]:
    """Every file under ``folders``, sorted."""
    folders = sorted(set(folders))
    if not folders:
        return []
    listed = spark.read.format("binaryFile").load(folders).select("path").collect()
    return sorted({r.path for r in listed})


def sync_folder(path: str) -> str:
    """The ``sync_time=`` folder a feed file sits in."""
    return path.rsplit("/", 1)[0]


def records(spark: SparkSession, files: list[feeds.FeedFile]) -> DataFrame | None:
    """Feed records of readable files, tagged with their sync time and channel."""
    frames: list[DataFrame] = []
    by_format: dict[str, list[feeds.FeedFile]] = defaultdict(list)
    for f in files:
        by_format[f.format or ""].append(f)
    text_files = by_format.get("csv", []) + by_format.get("json", [])
    if text_files:
        lines = split_lines(spark.read.format("binaryFile").load([f.path for f in text_files]))
        if by_format.get("json"):
            json_paths = [f.path for f in by_format["json"]]
            frames.append(
                feeds.records_from_json_lines(lines.where(F.col("source_file").isin(json_paths)))
            )
        if by_format.get("csv"):
            frames += _csv_records(lines, [f.path for f in by_format["csv"]])
    for f in by_format.get("parquet", []):
        frames.append(feeds.records_from_table(spark.read.parquet(f.path), f.path))
    if not frames:
        return None
    records = reduce(DataFrame.unionByName, frames)
    tags = spark.createDataFrame(
        [(f.path, f.sync_time, f.channel) for f in files],
        "source_file string, sync_time timestamp, channel string",
    )
    return records.join(F.broadcast(tags), "source_file")


def _csv_records(lines: DataFrame, paths: list[str]) -> list[DataFrame]:
    csv_lines = lines.where(F.col("source_file").isin(paths))
    headers = (
        csv_lines.groupBy("source_file")
        .agg(F.min_by("raw", "source_line").alias("header"))
        .collect()
    )
    by_header: dict[str, list[str]] = defaultdict(list)
    for r in headers:
        by_header[r.header].append(r.source_file)
    frames = []
    for header, group in by_header.items():
        names = [h.strip().strip('"') for h in header.split(",")]
        frames.append(
            feeds.records_from_csv_lines(csv_lines.where(F.col("source_file").isin(group)), names)
        )
    return frames


def unreadable_lines(
    spark: SparkSession, files: list[feeds.FeedFile], kind: FeedKind
) -> DataFrame | None:
    """Every line of files that sit in the wrong place or format, as quarantine rows."""
    if not files:
        return None
    problems = spark.createDataFrame(
        [(f.path, f.problem, f.sync_time) for f in files],
        "source_file string, problem string, sync_time timestamp",
    )
    lines = split_lines(spark.read.format("binaryFile").load([f.path for f in files]))
    reason = F.when(
        F.col("problem").startswith("expected a file ending"),
        F.lit(QuarantineReason.UNSUPPORTED_FORMAT.value),
    ).otherwise(F.lit(QuarantineReason.BAD_PATH.value))
    return lines.join(F.broadcast(problems), "source_file").select(
        F.lit(kind.source).alias("source"),
        "source_file",
        "source_line",
        "sync_time",
        reason.alias("reason"),
        F.lit(None).cast("string").alias("field"),
        F.col("problem").alias("detail"),
        "raw",
    )
