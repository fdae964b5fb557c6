"""I/O of ``reconnect feeds``: diff only the bronze feed syncs that are new, late or replaced.

Per feed, ``silver.feed_sync_progress`` records each diffed sync with the bronze table version it
was diffed at. A run reads the bronze Delta log commits after the largest recorded version to
learn which syncs were written since (new, late, or replaced by a late file of the same sync),
then recomputes exactly those syncs and the sync that follows each of them, reading only those
syncs and their previous syncs from bronze. Writes replace whole syncs, so a re-run or a crash
between the two writes changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.feeds import changes
from reconnect.lake import writes
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.schemas import FEED_SYNC_PROGRESS
from reconnect.lake.tables import (
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_USER_SNAPSHOTS,
    SILVER_FEED_SYNC_PROGRESS,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    TableSpec,
)
from reconnect.settings import Settings

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Delta keeps timestamp statistics at millisecond precision (truncated): widen each file's
# [min, max] by 1 ms so a sync with microseconds is never missed.
_STATS_SLACK_MICROS = 1_000
_COMMIT = T.StructType(
    [
        T.StructField(
            action,
            T.StructType(
                [
                    T.StructField("path", T.StringType()),
                    T.StructField("dataChange", T.BooleanType()),
                    T.StructField("stats", T.StringType()),
                ]
            ),
        )
        for action in ("add", "remove")
    ]
)
_STATS = "struct<minValues: struct<sync_time: timestamp>, maxValues: struct<sync_time: timestamp>>"

Diff = Callable[[DataFrame, DataFrame], DataFrame]


@dataclass(frozen=True)
class Feed:
    """One feed: its bronze snapshots, its silver changes and the diff between two syncs."""

    name: str
    bronze: TableSpec
    silver: TableSpec
    diff: Diff


PRODUCT_FEED = Feed(
    "product_feed", BRONZE_PRODUCT_SNAPSHOTS, SILVER_PRODUCT_CHANGES, changes.product_changes
)
USER_FEED = Feed(
    "user_feed",
    BRONZE_USER_SNAPSHOTS,
    SILVER_USER_ATTRIBUTE_CHANGES,
    changes.user_attribute_changes,
)
FEEDS = (PRODUCT_FEED, USER_FEED)


@dataclass(frozen=True)
class SyncPlan:
    """What one run recomputes for a feed; sync times are UTC epoch microseconds."""

    bronze_version: int
    previous: dict[int, int | None]
    """Each sync to (re)diff -> the feed's previous sync in bronze (None: the first sync)."""
    deleted: frozenset[int]
    """Diffed syncs that are no longer in bronze: their changes are removed."""
    recorded: frozenset[int]
    """Syncs of the feed already in silver.feed_sync_progress when the plan was made."""


def run_feed_changes(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """Diff the new, late or replaced syncs of every feed; rows written per silver table."""
    ensure_tables(spark, settings)
    done = _diffed(spark, settings)  # both feeds' progress in one read
    return {
        feed.silver.name: run_feed(spark, settings, feed, done.get(feed.name, {})) for feed in FEEDS
    }


def run_feed(spark: SparkSession, settings: Settings, feed: Feed, done: dict[int, int]) -> int:
    """Bring one feed's changes up to date with bronze; the number of change rows written.

    ``done``: the feed's diffed syncs, as :func:`_diffed` reads them.
    """
    plan = plan_syncs(spark, settings, feed, done)
    if plan is None or not (plan.previous or plan.deleted):
        return 0
    bronze = (
        spark.read.format("delta")
        .option("versionAsOf", plan.bronze_version)
        .load(feed.bronze.location(settings))
    )
    todo = sorted(plan.previous)
    before = sorted({p for p in plan.previous.values() if p is not None})
    pairs = spark.createDataFrame(
        [(s, plan.previous[s]) for s in todo], "s bigint, p bigint"
    ).select(
        F.timestamp_micros("s").alias("sync_time"),
        F.timestamp_micros("p").alias("previous_sync_time"),
    )
    current = _syncs(bronze, todo).join(F.broadcast(pairs), "sync_time")
    found = feed.diff(current, _syncs(bronze, before))
    replaced = sorted(set(todo) | plan.deleted)
    # One commit replaces every recomputed sync, including syncs that now have no change.
    (
        found.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", _in_syncs(replaced))
        .save(feed.silver.location(settings))
    )
    # Counted from what was written (this job is the table's only writer): the diff is computed
    # once, by the write, with no cache to build.
    stored = spark.read.format("delta").load(feed.silver.location(settings))
    per_sync = {
        r.s: r.n
        for r in _syncs(stored, todo)
        .groupBy(F.unix_micros("sync_time").alias("s"))
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }
    written = int(sum(per_sync.values()))
    _record_progress(spark, settings, feed, plan, per_sync)
    log.info("feeds %s: %d syncs diffed, %d change rows", feed.name, len(todo), written)
    return written


def _diffed(spark: SparkSession, settings: Settings) -> dict[str, dict[int, int]]:
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

    A sync written since (new, late, or replaced) is diffed again, and so is the sync after it,
    whose previous sync it now is (a late sync slots in between two diffed syncs). ``done``: the
    feed's diffed syncs from ``silver.feed_sync_progress`` (read here when not given).
    """
    bronze_location = feed.bronze.location(settings)
    version, operation = _latest_commit(spark, bronze_location)
    if done is None:
        done = _diffed(spark, settings).get(feed.name, {})
    if not done and version == 0 and operation == "CREATE TABLE":
        return None  # the table as the DDL created it: no sync yet, nothing to read
    last = max(done.values(), default=None)
    if last is not None and last >= version:
        return None
    ranges = None if last is None else _written_ranges(spark, bronze_location, last, version)
    if ranges == []:
        return None

    def written(s: int) -> bool:
        return ranges is None or any(lo <= s <= hi for lo, hi in ranges)

    bronze = spark.read.format("delta").option("versionAsOf", version).load(bronze_location)
    if ranges is not None:
        bronze = bronze.where(
            reduce(
                Column.__or__,
                [F.col("sync_time").between(_ts(lo), _ts(hi)) for lo, hi in ranges],
            )
        )
    present = {
        r.s for r in bronze.select(F.unix_micros("sync_time").alias("s")).distinct().collect()
    }
    known = sorted({s for s in done if not written(s)} | present)
    deleted = frozenset(s for s in done if written(s) and s not in present)
    todo = set(present)
    for s in present | deleted:
        after = next((k for k in known if k > s), None)
        if after is not None:
            todo.add(after)
    previous = {s: max((k for k in known if k < s), default=None) for s in todo}
    return SyncPlan(version, previous, deleted, frozenset(done))


def _latest_commit(spark: SparkSession, location: str) -> tuple[int, str]:
    """The table's latest version and the operation that wrote it."""
    latest = DeltaTable.forPath(spark, location).history(1).select("version", "operation").first()
    assert latest is not None
    return int(latest["version"]), str(latest["operation"])


def _written_ranges(
    spark: SparkSession, location: str, after: int, upto: int
) -> list[tuple[int, int]] | None:
    """Sync-time ranges written by bronze commits ``after+1..upto``, in epoch microseconds.

    Added files give their ``[min, max]`` statistics; removed files (replaced or deleted syncs)
    the syncs they held. None when a commit or removed file is gone (log clean-up or VACUUM
    after a long pause): then every sync is recomputed, which is correct, only slower.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    files = [f"{location.rstrip('/')}/_delta_log/{v:020d}.json" for v in range(after + 1, upto + 1)]
    for f in files:
        hpath = jvm.org.apache.hadoop.fs.Path(f)
        if not hpath.getFileSystem(conf).exists(hpath):
            log.warning("feeds: %s is gone; recomputing every sync of %s", f, location)
            return None
    # The commits' data-changing actions, read in one query (the commit files are small).
    commits = spark.read.schema(_COMMIT).json(files)
    stats = F.from_json("add.stats", _STATS)
    actions = (
        commits.where(
            (F.col("add").isNotNull() & F.col("add.dataChange"))
            | (F.col("remove").isNotNull() & F.col("remove.dataChange"))
        )
        .select(
            F.col("add").isNotNull().alias("added"),
            F.unix_micros(stats["minValues"]["sync_time"]).alias("lo"),
            F.unix_micros(stats["maxValues"]["sync_time"]).alias("hi"),
            F.col("remove.path").alias("removed"),
        )
        .collect()
    )
    added = [(r.lo, r.hi) for r in actions if r.added]
    if any(lo is None or hi is None for lo, hi in added):
        # A file without statistics could hold any sync: recompute all (not seen in practice,
        # Delta writes statistics for the first 32 columns, sync_time being the first).
        return None
    ranges = [(lo, hi + _STATS_SLACK_MICROS) for lo, hi in added]
    removed = [r.removed for r in actions if not r.added]
    if removed:
        # Remove actions carry no statistics: read the sync_time column of the removed files
        # themselves (still on disk until VACUUM; they hold only replaced or deleted data).
        try:
            gone = (
                spark.read.parquet(*[_data_file(location, p) for p in removed])
                .select(F.unix_micros("sync_time").alias("s"))
                .distinct()
                .collect()
            )
        except Exception:  # a vacuumed file: fall back to recomputing everything
            log.warning("feeds: removed files of %s are gone; recomputing every sync", location)
            return None
        ranges += [(r.s, r.s) for r in gone]
    return _merge_ranges(ranges)


def _data_file(location: str, path: str) -> str:
    # Log paths are relative to the table and URL-encoded, or absolute URIs.
    from urllib.parse import unquote

    return (
        path if "://" in path or path.startswith("/") else f"{location.rstrip('/')}/{unquote(path)}"
    )


def _merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _iso(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def _ts(micros: int) -> Column:
    # A literal (not a function of a column), so Delta can skip files by their statistics.
    return F.expr(f"TIMESTAMP'{_iso(micros)}'")


def _syncs(bronze: DataFrame, syncs: list[int]) -> DataFrame:
    if not syncs:
        return bronze.where(F.lit(False))
    return bronze.where(F.expr(_in_syncs(syncs)))


def _in_syncs(syncs: Iterable[int]) -> str:
    return "sync_time IN (" + ", ".join(f"TIMESTAMP'{_iso(s)}'" for s in syncs) + ")"


def _record_progress(
    spark: SparkSession, settings: Settings, feed: Feed, plan: SyncPlan, per_sync: dict[int, int]
) -> None:
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
    location = SILVER_FEED_SYNC_PROGRESS.location(settings)
    if plan.deleted:
        # Syncs gone from bronze lose their rows in the same commit that records the others: as
        # two commits, a crash in between left the deleted syncs' rows behind for good (the next
        # run's plan starts after the recorded bronze version, so it never saw them again).
        _merge_progress(spark, location, progress, feed.name, plan.deleted)
    elif rows and plan.recorded.isdisjoint(plan.previous):
        # Only new syncs (the usual run): an append, ~1 s less than the upsert MERGE on two
        # cores. The progress rows are the run's last write for the feed, and nothing else
        # writes this feed's rows, so none of these syncs can have been recorded since the plan.
        progress.write.format("delta").mode("append").save(location)
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
    location: str,
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
        DeltaTable.forPath(spark, location)
        .alias("t")
        .merge(source.alias("s"), "t.feed = s.feed AND t.sync_time = s.sync_time")
        .whenMatchedDelete(condition="s.gone")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition="NOT s.gone", values=values)
        .execute()
    )
