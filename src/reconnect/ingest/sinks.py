"""Idempotent Delta writes of the ingest stage: replaying a micro-batch changes nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from reconnect.landing import format_ts
from reconnect.settings import Settings
from reconnect.tables import (
    BRONZE_EVENTS,
    BRONZE_INGEST_FILES,
    BRONZE_QUARANTINE,
    INGEST_FILES,
    QUARANTINE,
    TableSpec,
)

log = logging.getLogger(__name__)

QUARANTINE_KEYS = ("source", "source_file", "source_line")
INGEST_FILE_KEYS = ("source", "source_file")


def write_concurrently(label: str, writes: Sequence[tuple[str, Callable[[], None]]]) -> None:
    """Run independent writes (each to its own table) at once; return when every one has ended.

    Spark runs jobs from several threads side by side, so one write's driver work (planning, the
    Delta commit) and its stages of few tasks can overlap another's tasks (docs/benchmarks.md,
    2026-12-03: ~2 s less per 1M-event detection batch). Every write is waited for before the
    first error, if any, is raised: a failed micro-batch leaves no write still running when it is
    retried. Each write's time is logged as ``label:   name``.
    """
    if len(writes) <= 1:
        for name, write in writes:
            _timed(label, name, write)
        return
    with ThreadPoolExecutor(max_workers=len(writes), thread_name_prefix=label) as pool:
        futures = [pool.submit(_timed, label, name, write) for name, write in writes]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


def _timed(label: str, name: str, write: Callable[[], None]) -> None:
    started = time.monotonic()
    write()
    log.info("%s:   %s %.1fs", label, name, time.monotonic() - started)


def _merge_condition(keys: Sequence[str]) -> str:
    return " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)


def merge_by_key(
    spark: SparkSession,
    table: TableSpec,
    settings: Settings,
    rows: DataFrame,
    keys: Sequence[str],
    update_matched: bool,
) -> None:
    """MERGE ``rows`` on ``keys``: new keys are inserted, matched rows replaced or kept.

    ``update_matched=False`` is an insert-only MERGE: a replayed batch adds nothing.
    """
    merge = (
        DeltaTable.forPath(spark, table.location(settings))
        .alias("t")
        .merge(rows.dropDuplicates(list(keys)).alias("s"), _merge_condition(keys))
    )
    if update_matched:
        merge = merge.whenMatchedUpdateAll()
    merge.whenNotMatchedInsertAll().execute()


def quarantine_rows(parsed: DataFrame, source: str, sync_time: bool = False) -> DataFrame:
    """Rejected lines of a parsed frame, in the quarantine schema."""
    bad = parsed.where(F.col("error").isNotNull())
    return bad.select(
        F.lit(source).alias("source"),
        "source_file",
        "source_line",
        (F.col("sync_time") if sync_time else F.lit(None)).cast("timestamp").alias("sync_time"),
        F.col("error.reason").alias("reason"),
        F.col("error.field").alias("field"),
        F.col("error.detail").alias("detail"),
        "raw",
    ).select(*QUARANTINE.fieldNames())


def stored_events(
    spark: SparkSession, settings: Settings, date_range: tuple[object, object]
) -> DataFrame:
    """Stored events with ``event_date`` in ``date_range`` (Delta skips the other files)."""
    lo, hi = date_range
    return (
        spark.read.format("delta")
        .load(BRONZE_EVENTS.location(settings))
        .where(F.col("event_date").between(F.lit(lo), F.lit(hi)))
    )


def append_new_events(
    spark: SparkSession,
    settings: Settings,
    first_copies: DataFrame,
    date_range: tuple[object, object],
) -> None:
    """Append the events of this batch whose ``event_id`` is not stored yet.

    Ids stored from *other* files are duplicates. Ids stored from this batch's own files were
    written by an earlier, interrupted attempt of this very batch (a file belongs to exactly one
    batch): they are not written again. When nothing is stored in the batch's date range (a
    first load, a backfill of new days) both anti-joins are skipped.
    """
    stored = stored_events(spark, settings, date_range).select("event_id", "source_file")
    todo = first_copies
    if stored.limit(1).count():
        todo = todo.join(stored.select("event_id"), "event_id", "left_anti")
    todo.write.format("delta").mode("append").save(BRONZE_EVENTS.location(settings))


def accepted_per_file(
    spark: SparkSession,
    settings: Settings,
    batch_files: list[str],
    date_range: tuple[object, object],
) -> dict[str, int]:
    """How many stored events came from each of ``batch_files`` (what this batch accepted)."""
    stored = stored_events(spark, settings, date_range)
    counts = stored.where(F.col("source_file").isin(batch_files)).groupBy("source_file").count()
    return {r.source_file: r["count"] for r in counts.collect()}


def replace_syncs(
    table: TableSpec, settings: Settings, rows: DataFrame, syncs: list[tuple[datetime, str | None]]
) -> None:
    """Overwrite exactly the given syncs (and channels) with ``rows``: idempotent by sync time."""
    (
        rows.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", syncs_predicate(syncs))
        .save(table.location(settings))
    )


def syncs_predicate(syncs: list[tuple[datetime, str | None]]) -> str:
    """``syncs`` as a SQL predicate: one ``sync_time IN (...)`` list per channel.

    Not one ``sync_time = ... AND channel = ...`` term per sync: Delta turns each term into
    file-statistics checks, and a backfill of a few dozen syncs made a filter whose generated
    code passed the JVM's 64 KB method limit (an ERROR with a long stack trace, then the slower
    interpreted path).
    """
    by_channel: dict[str | None, list[str]] = {}
    for ts, channel in syncs:
        by_channel.setdefault(channel, []).append(f"timestamp'{format_ts(ts)}'")
    parts = []
    for channel, times in sorted(by_channel.items(), key=lambda kv: kv[0] or ""):
        cond = f"sync_time IN ({', '.join(times)})"
        if channel is not None:
            cond = f"channel = '{channel}' AND {cond}"
        parts.append(f"({cond})")
    return " OR ".join(parts)


def write_quarantine(spark: SparkSession, settings: Settings, rows: DataFrame) -> None:
    """Add quarantined lines, once each."""
    merge_by_key(spark, BRONZE_QUARANTINE, settings, rows, QUARANTINE_KEYS, update_matched=False)


def recorded_files(
    spark: SparkSession, settings: Settings, source: str, files: Iterable[str]
) -> DataFrame:
    """The rows of ``bronze.ingest_files`` already recorded for these files of ``source``."""
    stored = spark.read.format("delta").load(BRONZE_INGEST_FILES.location(settings))
    return stored.where((F.col("source") == source) & F.col("source_file").isin(sorted(files)))


def write_ingest_files(
    spark: SparkSession, settings: Settings, rows: list[Row], recorded: bool | None = None
) -> None:
    """Record per-file reconciliation counts (recomputed identically when a batch is replayed).

    Usually every file of a batch is new, and its counts are appended: a one-commit append
    (~0.4 s on two cores) instead of an upsert MERGE (~1.5 s, whatever the size). A file already
    recorded (a replayed batch; a feed sync re-read because a late file joined it, which can
    change the older files' accepted counts) goes through the MERGE, which replaces its row.
    Each source's files are written by that source's query only, so no other writer can record
    one of them between the check and the append. ``recorded``: the check's answer, when the
    caller already read it with :func:`recorded_files` (in a query it ran anyway).
    """
    if not rows:
        return
    df = spark.createDataFrame(rows, INGEST_FILES)
    if recorded is None:
        recorded = any(
            recorded_files(spark, settings, source, files).limit(1).count()
            for source, files in _files_by_source(rows).items()
        )
    if recorded:
        merge_by_key(spark, BRONZE_INGEST_FILES, settings, df, INGEST_FILE_KEYS, True)
    else:
        df.write.format("delta").mode("append").save(BRONZE_INGEST_FILES.location(settings))


def _files_by_source(rows: list[Row]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["source"], set()).add(r["source_file"])
    return out
