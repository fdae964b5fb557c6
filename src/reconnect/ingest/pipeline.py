"""The ingest pipeline: the streaming queries, landing folders -> bronze tables, new files only.

Each source is a file stream with its own checkpoint: events through the text source (lines
numbered by file block), snapshot folders through ``binaryFile`` paths. ``foreachBatch`` bodies
parse, split good from bad, and write idempotently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from reconnect.ingest import feed_files, feeds, sinks
from reconnect.ingest.events import keep_first_per_event_id, parse_event_lines, valid_events
from reconnect.ingest.lines import (
    block_offsets,
    block_summaries,
    file_counts,
    number_lines,
    positioned_lines,
    sum_blocks_per_file,
)
from reconnect.lake import streams, writes
from reconnect.lake.landing import EVENTS_DIR, PRODUCT_FEED_DIR, SUBSCRIBERS_DIR, USER_FEED_DIR
from reconnect.lake.migrations import ensure_tables
from reconnect.settings import Settings

log = logging.getLogger(__name__)

BatchWriter = Callable[[SparkSession, Settings, DataFrame], None]


@dataclass(frozen=True)
class Source:
    """One landing folder and how its new files reach bronze."""

    name: str
    folder: str
    write_batch: BatchWriter
    reads_lines: bool
    """True: the stream hands over text lines (events); False: new file paths (snapshots)."""


# --- events -------------------------------------------------------------------------------


def with_line_origin(text: DataFrame) -> DataFrame:
    """A text-source frame (batch or stream) with each line's file and block start."""
    return text.select(
        "value",
        F.col("_metadata.file_path").alias("source_file"),
        F.col("_metadata.file_block_start").alias("block_start"),
    )


def write_events_batch(spark: SparkSession, settings: Settings, text: DataFrame) -> None:
    """Parse one micro-batch of event lines; quarantine bad lines; store each event id once.

    ``text`` is the text source's ``value`` with ``source_file`` and ``block_start``.
    """
    positioned = parse_event_lines(positioned_lines(text)).persist()
    try:
        record = ~F.col("blank")
        valid_date = F.when(record & F.col("error").isNull(), F.col("event_date"))
        blocks = block_summaries(
            positioned,
            F.count(F.when(record, 1)).alias("lines"),
            F.count(F.when(record & F.col("error").isNotNull(), 1)).alias("quarantined"),
            F.min(valid_date).alias("lo"),
            F.max(valid_date).alias("hi"),
        )
        per_file = sum_blocks_per_file(blocks)
        if not per_file:
            return
        parsed = number_lines(positioned, block_offsets(spark, blocks))
        batch_files = [r.source_file for r in per_file]
        los = [r.lo for r in per_file if r.lo is not None]
        his = [r.hi for r in per_file if r.hi is not None]
        if any(r.quarantined for r in per_file):
            sinks.write_quarantine(spark, settings, sinks.quarantine_rows(parsed, "events"))
        accepted: dict[str, int] = {}
        if los:
            date_range = (min(los), max(his))
            first = keep_first_per_event_id(valid_events(parsed))
            sinks.append_new_events(spark, settings, first, date_range)
            accepted = sinks.accepted_per_file(spark, settings, batch_files, date_range)
        rows = [
            file_counts(r.source_file, None, r.lines, r.quarantined, accepted.get(r.source_file, 0))
            for r in per_file
        ]
        sinks.write_ingest_files(spark, settings, rows)
    finally:
        positioned.unpersist()


# --- feeds and subscriber lists -----------------------------------------------------------


def write_feed_batch(
    kind: feed_files.FeedKind, spark: SparkSession, settings: Settings, batch: DataFrame
) -> None:
    """Re-read every sync touched by new files and replace it whole: idempotent by sync time."""
    new_paths = sorted({r.path for r in batch.select("path").collect()})
    if not new_paths:
        return
    classified = [feeds.classify_feed_file(p, kind.subscribers) for p in new_paths]
    bad = [f for f in classified if f.problem]
    touched = {feed_files.sync_folder(f.path) for f in classified if not f.problem}
    good = [
        feeds.classify_feed_file(p, kind.subscribers) for p in feed_files.list_files(spark, touched)
    ]
    good = [f for f in good if not f.problem]

    count_rows: list[Row] = []
    unreadable = feed_files.unreadable_lines(spark, bad, kind)
    if unreadable is not None:
        unreadable = unreadable.persist()
        sinks.write_quarantine(spark, settings, unreadable)
        for r in unreadable.groupBy("source_file", "sync_time").count().collect():
            count_rows.append(
                file_counts(r.source_file, r.sync_time, r["count"], r["count"], 0, kind.source)
            )
        unreadable.unpersist()

    records = feed_files.records(spark, good)
    recorded: bool | None = None  # whether a file of this batch already has counts
    if records is not None:
        rows = kind.to_rows(records).persist()
        columns = kind.table.schema.fieldNames()
        first = feeds.keep_first_per_key(
            rows.where(F.col("error").isNull()), ["sync_time", *kind.key], columns
        ).persist()
        try:
            # Counted first, from the cached rows: a batch without a bad line then skips the
            # quarantine MERGE, and whether a file is already recorded decides how its counts
            # are written (see sinks.write_ingest_files).
            files = [f.path for f in bad] + [f.path for f in good]
            counted = {
                r.source_file: (r.n, r.quarantined)
                for r in rows.groupBy("source_file")
                .agg(F.count(F.lit(1)).alias("n"), F.count("error").alias("quarantined"))
                .collect()
            }
            accepted = {
                r.source_file: r["count"] for r in first.groupBy("source_file").count().collect()
            }
            recorded = bool(sinks.recorded_files(spark, settings, kind.source, files).take(1))
            if any(q for _, q in counted.values()):
                sinks.write_quarantine(
                    spark, settings, sinks.quarantine_rows(rows, kind.source, sync_time=True)
                )
            syncs = sorted(
                {(f.sync_time, f.channel) for f in good if f.sync_time is not None},
                key=lambda s: (s[0], s[1] or ""),
            )
            writes.replace_syncs(kind.table, settings, first, syncs)
            for f in good:
                # A header-only file has no records; it is still listed, with zero lines.
                lines, quarantined = counted.get(f.path, (0, 0))
                count_rows.append(
                    file_counts(
                        f.path,
                        f.sync_time,
                        lines,
                        quarantined,
                        accepted.get(f.path, 0),
                        kind.source,
                    )
                )
        finally:
            first.unpersist()
            rows.unpersist()
    if count_rows:
        # ``recorded`` covers every file of the batch, the unreadable ones too.
        sinks.write_ingest_files(spark, settings, count_rows, recorded)


# --- wiring -------------------------------------------------------------------------------

SOURCES: dict[str, Source] = {
    "events": Source("events", EVENTS_DIR, write_events_batch, True),
    "product_feed": Source(
        "product_feed",
        PRODUCT_FEED_DIR,
        lambda s, st, b: write_feed_batch(feed_files.PRODUCT_FEED, s, st, b),
        False,
    ),
    "user_feed": Source(
        "user_feed",
        USER_FEED_DIR,
        lambda s, st, b: write_feed_batch(feed_files.USER_FEED, s, st, b),
        False,
    ),
    "subscribers": Source(
        "subscribers",
        SUBSCRIBERS_DIR,
        lambda s, st, b: write_feed_batch(feed_files.SUBSCRIBERS, s, st, b),
        False,
    ),
}


def start_ingest_query(spark: SparkSession, settings: Settings, source: Source) -> StreamingQuery:
    """Start one source's streaming query with its own checkpoint and the configured trigger."""
    if source.reads_lines:
        files = with_line_origin(streams.files_stream(spark, settings, source.folder, text=True))
    else:
        files = streams.files_stream(spark, settings, source.folder, text=False).select("path")

    def batch(df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        source.write_batch(spark, settings, df)
        log.info("ingest %s: batch %d in %.1fs", source.name, batch_id, time.monotonic() - started)

    writer = (
        files.writeStream.queryName(f"ingest_{source.name}")
        .foreachBatch(batch)
        .option(
            "checkpointLocation", f"{settings.paths.checkpoints.rstrip('/')}/ingest/{source.name}"
        )
    )
    return streams.with_trigger(writer, settings).start()


def run_ingest(
    spark: SparkSession, settings: Settings, sources: Iterable[str] = tuple(SOURCES)
) -> None:
    """Run the ingest queries of ``sources`` until the landed files are done or until stopped.

    availableNow: process what has landed and return (feeds first, so a run's events meet
    the feed state of the same run); processing-time trigger: run until stopped or failed.
    """
    ensure_tables(spark, settings)
    chosen = [SOURCES[s] for s in sources]
    if settings.streaming.trigger == "available_now":
        for source in sorted(chosen, key=lambda s: s.name == "events"):
            streams.run_to_end(start_ingest_query(spark, settings, source))
        return
    queries = [start_ingest_query(spark, settings, s) for s in chosen]
    try:
        spark.streams.awaitAnyTermination()
    finally:
        for q in queries:
            q.stop()
        for q in queries:
            streams.raise_if_failed(q)
