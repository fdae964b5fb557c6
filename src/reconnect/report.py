"""Plain-text summaries of what the lakehouse tables hold (for the CLI and the demo)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.lake.tables import (
    BRONZE_EVENTS,
    BRONZE_INGEST_FILES,
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_QUARANTINE,
    BRONZE_SUBSCRIPTIONS,
    BRONZE_USER_SNAPSHOTS,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    TableSpec,
)
from reconnect.settings import Settings


def _read(spark: SparkSession, table: TableSpec, settings: Settings):  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(table.location(settings))


def _breakdown(spark: SparkSession, table: TableSpec, settings: Settings, column: str) -> str:
    counts = _read(spark, table, settings).groupBy(column).count().orderBy(F.desc("count"))
    return ", ".join(f"{r[column]} {r['count']:,}" for r in counts.collect()) or "-"


def bronze_summary(spark: SparkSession, settings: Settings) -> list[str]:
    """Lines describing each bronze table and the ingest reconciliation."""
    events = _read(spark, BRONZE_EVENTS, settings)
    ev = events.agg(
        F.count(F.lit(1)).alias("n"),
        F.countDistinct("user_id").alias("users"),
        F.min("event_time").alias("lo"),
        F.max("event_time").alias("hi"),
    ).first()
    assert ev is not None
    log = (
        _read(spark, BRONZE_INGEST_FILES, settings)
        .groupBy("source")
        .agg(
            *[F.sum(c).alias(c) for c in ("lines", "accepted", "quarantined", "duplicates")],
            F.count(F.lit(1)).alias("files"),
        )
    )
    lines = [
        f"bronze.events             {ev['n']:>12,} events, {ev['users']:,} users, "
        f"{ev['lo']} .. {ev['hi']} UTC",
        f"  by type: {_breakdown(spark, BRONZE_EVENTS, settings, 'event_type')}",
    ]
    for table, key in (
        (BRONZE_PRODUCT_SNAPSHOTS, "product_id"),
        (BRONZE_USER_SNAPSHOTS, "cuid"),
        (BRONZE_SUBSCRIPTIONS, "cuid"),
    ):
        agg = (
            _read(spark, table, settings)
            .agg(
                F.count(F.lit(1)).alias("n"),
                F.countDistinct("sync_time").alias("syncs"),
                F.countDistinct(key).alias("keys"),
            )
            .first()
        )
        assert agg is not None
        lines.append(
            f"bronze.{table.name:<18} {agg['n']:>12,} rows, {agg['syncs']:,} syncs, "
            f"{agg['keys']:,} distinct {key}"
        )
    q = _read(spark, BRONZE_QUARANTINE, settings).count()
    lines.append(f"bronze.quarantine         {q:>12,} rejected lines")
    lines.append(f"  by reason: {_breakdown(spark, BRONZE_QUARANTINE, settings, 'reason')}")
    lines.append("reconciliation (lines in = accepted + quarantined + duplicates):")
    for r in log.orderBy("source").collect():
        ok = r["lines"] == r["accepted"] + r["quarantined"] + r["duplicates"]
        lines.append(
            f"  {r['source']:<13} {r['files']:>5,} files  {r['lines']:>12,} = "
            f"{r['accepted']:,} + {r['quarantined']:,} + {r['duplicates']:,}  "
            f"{'ok' if ok else 'MISMATCH'}"
        )
    return lines


def ingest_run_lines(before: DataFrame, after: DataFrame) -> list[str]:
    """What one ingest run added, per source: its files' lines = accepted + quarantined + dupl.

    ``before`` / ``after``: bronze.ingest_files as the run found and left it; a run's files are
    the rows of ``after`` whose (source, file) ``before`` lacks.
    """
    new = after.join(before.select("source", "source_file"), ["source", "source_file"], "left_anti")
    per_source = new.groupBy("source").agg(
        F.count(F.lit(1)).alias("files"),
        *[F.sum(c).alias(c) for c in ("lines", "accepted", "quarantined", "duplicates")],
    )
    lines = ["this run (lines in = accepted + quarantined + duplicates):"]
    for r in per_source.orderBy("source").collect():
        lines.append(
            f"  {r['source']:<13} {r['files']:>5,} new files  {r['lines']:>12,} = "
            f"{r['accepted']:,} + {r['quarantined']:,} + {r['duplicates']:,}"
        )
    if len(lines) == 1:
        lines.append("  no new files")
    return lines


def silver_summary(spark: SparkSession, settings: Settings) -> list[str]:
    """Lines describing the feed-change tables: changes by attribute, drops, back in stock."""
    products = _read(spark, SILVER_PRODUCT_CHANGES, settings)
    p = products.agg(
        F.count(F.lit(1)).alias("n"),
        F.count(F.when(F.col("drop_percent") >= 10, 1)).alias("drops10"),
        F.count(F.when(F.col("back_in_stock"), 1)).alias("back"),
    ).first()
    assert p is not None
    users = _read(spark, SILVER_USER_ATTRIBUTE_CHANGES, settings).count()
    return [
        f"silver.product_changes    {p['n']:>12,} rows: {p['drops10']:,} price drops >= 10 % "
        f"between consecutive syncs, {p['back']:,} back in stock",
        f"  by attribute: {_breakdown(spark, SILVER_PRODUCT_CHANGES, settings, 'attribute')}",
        f"silver.user_attribute_changes {users:>8,} rows",
        "  by kind: " + _breakdown(spark, SILVER_USER_ATTRIBUTE_CHANGES, settings, "change_kind"),
    ]
