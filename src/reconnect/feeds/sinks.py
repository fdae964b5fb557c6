"""The writes of ``reconnect feeds``: replaced syncs of the change tables, and their progress."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.feeds.syncs import Feed, SyncPlan, in_syncs
from reconnect.lake import writes
from reconnect.lake.schemas import FEED_SYNC_PROGRESS
from reconnect.lake.tables import SILVER_FEED_SYNC_PROGRESS
from reconnect.settings import Settings


def replace_changes(settings: Settings, feed: Feed, found: DataFrame, syncs: list[int]) -> None:
    """One commit replaces the changes of every recomputed sync, syncs now without change too."""
    (
        found.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", in_syncs(syncs))
        .save(feed.silver.location(settings))
    )


def record_progress(
    spark: SparkSession, settings: Settings, feed: Feed, plan: SyncPlan, per_sync: dict[int, int]
) -> None:
    """Record each diffed sync with the bronze version it was diffed at; forget deleted syncs."""
    rows = [
        (feed.name, s, plan.previous[s], plan.bronze_version, per_sync.get(s, 0))
        for s in sorted(plan.previous)
    ]
    progress = (
        spark.createDataFrame(
            rows, "feed string, s bigint, p bigint, bronze_version bigint, change_rows bigint"
        )
        .select(
            "feed",
            F.timestamp_micros("s").alias("sync_time"),
            F.timestamp_micros("p").alias("previous_sync_time"),
            "bronze_version",
            "change_rows",
        )
        .select(*FEED_SYNC_PROGRESS.fieldNames())
    )
    if plan.deleted:
        # Syncs gone from bronze lose their rows in the same commit that records the others:
        # with two commits, a crash in between would leave the deleted syncs' rows for good (the
        # next run's plan starts after the recorded bronze version, so it never sees them again).
        _merge_progress(spark, settings, progress, feed.name, plan.deleted)
    elif rows and plan.recorded.isdisjoint(plan.previous):
        # Only new syncs (the usual run): an append costs about a second less than the upsert
        # MERGE. Nothing else writes this feed's rows, so none of them was recorded since the
        # plan was made.
        progress.write.format("delta").mode("append").save(
            SILVER_FEED_SYNC_PROGRESS.location(settings)
        )
    elif rows:
        writes.merge_by_key(
            spark,
            SILVER_FEED_SYNC_PROGRESS,
            settings,
            progress,
            ("feed", "sync_time"),
            update_matched=True,
        )


def _merge_progress(
    spark: SparkSession,
    settings: Settings,
    progress: DataFrame,
    feed: str,
    deleted: frozenset[int],
) -> None:
    """One MERGE: upsert ``progress`` and delete the rows of the ``deleted`` syncs."""
    gone = spark.createDataFrame([(feed, s) for s in sorted(deleted)], "feed string, s bigint")
    source = progress.withColumn("gone", F.lit(False)).unionByName(
        gone.select("feed", F.timestamp_micros("s").alias("sync_time"), F.lit(True).alias("gone")),
        allowMissingColumns=True,
    )
    values: dict[str, str | Column] = {c: f"s.{c}" for c in FEED_SYNC_PROGRESS.fieldNames()}
    (
        DeltaTable.forPath(spark, SILVER_FEED_SYNC_PROGRESS.location(settings))
        .alias("t")
        .merge(source.alias("s"), "t.feed = s.feed AND t.sync_time = s.sync_time")
        .whenMatchedDelete(condition="s.gone")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition="NOT s.gone", values=values)
        .execute()
    )
