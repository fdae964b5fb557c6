"""``reconnect feeds``: diff only the bronze feed syncs that are new, late or replaced.

Per feed, ``silver.feed_sync_progress`` records each diffed sync with the bronze table version it
was diffed at. A run reads the bronze Delta log commits after the largest recorded version to
learn which syncs were written since, then recomputes exactly those syncs and the sync that
follows each of them (:func:`reconnect.feeds.syncs.plan`), reading only those syncs and their
previous syncs from bronze. Writes replace whole syncs, so a re-run or a crash between the two
writes changes nothing.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from reconnect.feeds import sinks
from reconnect.feeds.syncs import FEEDS, Feed, SyncPlan, only_syncs, plan, within
from reconnect.lake.delta_log import latest_commit, written_ranges
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.tables import SILVER_FEED_SYNC_PROGRESS
from reconnect.settings import Settings

log = logging.getLogger(__name__)


def run_feed_changes(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """Diff the new, late or replaced syncs of every feed; rows written per silver table."""
    ensure_tables(spark, settings)
    done = diffed_syncs(spark, settings)  # both feeds' progress in one read
    return {
        feed.silver.name: run_feed(spark, settings, feed, done.get(feed.name, {})) for feed in FEEDS
    }


def run_feed(spark: SparkSession, settings: Settings, feed: Feed, done: dict[int, int]) -> int:
    """Bring one feed's changes up to date with bronze; the number of change rows written.

    ``done``: the feed's diffed syncs, as :func:`diffed_syncs` reads them.
    """
    todo_plan = plan_syncs(spark, settings, feed, done)
    if todo_plan is None or not (todo_plan.previous or todo_plan.deleted):
        return 0
    bronze = (
        spark.read.format("delta")
        .option("versionAsOf", todo_plan.bronze_version)
        .load(feed.bronze.location(settings))
    )
    todo = sorted(todo_plan.previous)
    before = sorted({p for p in todo_plan.previous.values() if p is not None})
    pairs = spark.createDataFrame(
        [(s, todo_plan.previous[s]) for s in todo], "s bigint, p bigint"
    ).select(
        F.timestamp_micros("s").alias("sync_time"),
        F.timestamp_micros("p").alias("previous_sync_time"),
    )
    current = only_syncs(bronze, todo).join(F.broadcast(pairs), "sync_time")
    found = feed.diff(current, only_syncs(bronze, before))
    sinks.replace_changes(settings, feed, found, sorted(set(todo) | todo_plan.deleted))
    # Counted from what was written (this job is the table's only writer): the diff is computed
    # once, by the write, with no cache to build.
    stored = spark.read.format("delta").load(feed.silver.location(settings))
    per_sync = {
        r.s: r.n
        for r in only_syncs(stored, todo)
        .groupBy(F.unix_micros("sync_time").alias("s"))
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }
    written = int(sum(per_sync.values()))
    sinks.record_progress(spark, settings, feed, todo_plan, per_sync)
    log.info("feeds %s: %d syncs diffed, %d change rows", feed.name, len(todo), written)
    return written


def diffed_syncs(spark: SparkSession, settings: Settings) -> dict[str, dict[int, int]]:
    """Per feed, each diffed sync (epoch microseconds) -> the bronze version it was diffed at."""
    out: dict[str, dict[int, int]] = {}
    for r in (
        spark.read.format("delta")
        .load(SILVER_FEED_SYNC_PROGRESS.location(settings))
        .select("feed", F.unix_micros("sync_time").alias("s"), "bronze_version")
        .collect()
    ):
        out.setdefault(r.feed, {})[r.s] = r.bronze_version
    return out


def plan_syncs(
    spark: SparkSession, settings: Settings, feed: Feed, done: dict[int, int] | None = None
) -> SyncPlan | None:
    """The syncs to (re)diff since the last run, from the bronze commits made since; None: none.

    ``done``: the feed's diffed syncs from ``silver.feed_sync_progress`` (read here when not
    given).
    """
    location = feed.bronze.location(settings)
    version, operation = latest_commit(spark, location)
    if done is None:
        done = diffed_syncs(spark, settings).get(feed.name, {})
    if not done and version == 0 and operation == "CREATE TABLE":
        return None  # the table as the DDL created it: no sync yet, nothing to read
    last = max(done.values(), default=None)
    if last is not None and last >= version:
        return None
    ranges = None if last is None else written_ranges(spark, location, last, version, "sync_time")
    if ranges == []:
        return None
    bronze = spark.read.format("delta").option("versionAsOf", version).load(location)
    if ranges is not None:
        bronze = bronze.where(within(ranges))
    present = {
        r.s for r in bronze.select(F.unix_micros("sync_time").alias("s")).distinct().collect()
    }
    return plan(version, done, present, ranges)
