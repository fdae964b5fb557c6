"""``reconnect detect``: a Structured Streaming query over bronze events, one micro-batch at a time.

Each micro-batch (``foreachBatch``; docs/detection.md):

1. moves the watermark to the largest event time seen minus the allowed lateness (R-EXIT-2);
   events already behind the previous watermark are late: recorded, not applied;
2. takes the events behind the new watermark (this batch's and those buffered from earlier
   ones), the feed syncs behind it and the schedule slots behind it, and builds machine inputs
   (:mod:`.batch`, :mod:`.inputs`);
3. runs the per-user state machine in the Python workers over each key's inputs in event-time
   order, with the key's state from ``silver.detect_state`` (:mod:`.partition`);
4. writes the changed journeys and messages, the new state, the buffer, the late events and the
   applied syncs (:mod:`.sinks`), then appends its progress row.

Reads of state and buffer are pinned to the versions the previous batch recorded, and every write
is a MERGE, an overwrite or a delete with the same content on a re-run, or an append only where
the batch knows the keys are new: a batch replayed after a crash writes the same rows again and
applies nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from reconnect.campaigns import Campaign
from reconnect.detect import batch as B
from reconnect.detect import sinks
from reconnect.detect.context import DetectContext
from reconnect.detect.partition import JOURNEY, MESSAGE, STATE, run_machine
from reconnect.detect.summary import DetectSummary, summarize_tables
from reconnect.lake import writes
from reconnect.lake.feed_state import Feeds, feeds_with
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import latest_version, table
from reconnect.lake.schemas import EVENTS
from reconnect.lake.streams import OnBatch, run_to_end, with_trigger
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_BUFFER,
    SILVER_DETECT_FEED_SYNCS,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_STATE,
    SILVER_FEED_SYNC_PROGRESS,
    SILVER_JOURNEYS,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    TableSpec,
)
from reconnect.settings import Settings

log = logging.getLogger(__name__)


# --- the run ------------------------------------------------------------------------------------


def run_detect(
    spark: SparkSession,
    settings: Settings,
    campaigns: Sequence[Campaign],
    on_batch: OnBatch | None = None,
) -> DetectSummary:
    """Run detection until the bronze events are done (availableNow) or until stopped."""
    ensure_tables(spark, settings)
    before = last_progress(spark, settings)
    query = start_detect_query(spark, settings, DetectContext.of(settings, campaigns), on_batch)
    run_to_end(query)
    return summarize(spark, settings, before)


def start_detect_query(
    spark: SparkSession, settings: Settings, ctx: DetectContext, on_batch: OnBatch | None = None
) -> StreamingQuery:
    """Start the streaming query over bronze events with its checkpoint and trigger."""
    reader = spark.readStream.format("delta")
    if settings.streaming.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.streaming.max_files_per_trigger)
    events = reader.load(BRONZE_EVENTS.location(settings))

    def batch(df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        w = detect_batch(spark, ctx, df, batch_id)
        log.info("detect: batch %d in %.1fs", batch_id, time.monotonic() - started)
        if on_batch is not None:
            on_batch(batch_id, w)

    writer = (
        events.writeStream.queryName("detect")
        .foreachBatch(batch)
        .option("checkpointLocation", f"{settings.paths.checkpoints.rstrip('/')}/detect")
    )
    return with_trigger(writer, settings).start()


def summarize(
    spark: SparkSession, settings: Settings, before: Mapping[str, Any] | None = None
) -> DetectSummary:
    """Counts over the detection tables; the run is what followed the progress row ``before``."""
    after = last_progress(spark, settings)

    def buffered(row: Mapping[str, Any] | None) -> int:
        if row is None:
            return 0
        return table(spark, settings, SILVER_DETECT_BUFFER, int(row["buffer_version"])).count()

    return summarize_tables(
        table(spark, settings, SILVER_DETECT_PROGRESS),
        table(spark, settings, SILVER_JOURNEYS),
        table(spark, settings, GOLD_STEP_ELIGIBILITY),
        since_batch=int(before["batch_id"]) if before else -1,
        buffered=(buffered(before), buffered(after)),
    )


# --- one micro-batch ----------------------------------------------------------------------------


def detect_batch(
    spark: SparkSession, ctx: DetectContext, new: DataFrame, batch_id: int
) -> datetime | None:
    """Apply one micro-batch of bronze events (see the module note); the watermark it reached."""
    settings = ctx.settings
    last = last_progress(spark, settings)
    if last is not None and last["batch_id"] >= batch_id:
        log.info("detect: batch %d already applied", batch_id)
        watermark: datetime | None = last["watermark"]
        return watermark
    w_prev: datetime | None = last["watermark"] if last else None
    state_v = int(last["state_version"]) if last else 0
    buffer_v = int(last["buffer_version"]) if last else 0
    new = new.select(*EVENTS.fieldNames()).persist()
    try:
        stats = new.agg(
            F.count("*").alias("n"),
            F.min("event_time").alias("t0"),
            F.max("event_time").alias("t"),
            F.count_if(B.is_late(w_prev)).alias("late"),
        ).first()
        assert stats is not None
        lateness = timedelta(seconds=settings.detection.seconds("allowed_lateness"))
        w = B.next_watermark(w_prev, stats["t"], lateness)
        if w is None:  # no event yet, ever
            sinks.record_progress(spark, settings, batch_id, None, None,
                                  {"events_read": int(stats["n"])}, state_v, buffer_v)  # fmt: skip
            return None
        # Expired state rows are swept when the watermark enters a new UTC day since the previous
        # watermark, or, in the first batch, since its earliest event (sinks.write_state).
        window = B.BatchWindow(
            batch_id, w_prev, w, w_prev if w_prev is not None else stats["t0"],
            int(stats["n"]), int(stats["late"]), state_v, buffer_v,
        )  # fmt: skip
        apply_batch(spark, ctx, new, window)
        return w
    finally:
        new.unpersist()


def apply_batch(spark: SparkSession, ctx: DetectContext, new: DataFrame, b: B.BatchWindow) -> None:
    """Apply the batch's events behind the watermark ``b.w``, then record its progress."""
    settings = ctx.settings
    late, on_time = new.where(B.is_late(b.w_prev)), new.where(~B.is_late(b.w_prev))
    pending = table(spark, settings, SILVER_DETECT_BUFFER, b.buffer_version).unionByName(on_time)
    behind = F.col("event_time") < F.lit(b.w).cast("timestamp")
    finalized, remaining = pending.where(behind), pending.where(~behind)
    state = B.live(table(spark, settings, SILVER_DETECT_STATE, b.state_version), b.w_prev)
    state = state.persist()
    feeds, syncs = feeds_and_syncs_to_apply(spark, settings, b.batch_id, b.w_prev, b.w)
    src = B.BatchInputs(
        finalized=finalized,
        state=state,
        feeds=feeds,
        product_changes=_changes(spark, settings, SILVER_PRODUCT_CHANGES, syncs.product),
        user_changes=_changes(spark, settings, SILVER_USER_ATTRIBUTE_CHANGES, syncs.user),
        slots=B.schedule_slots(ctx, feeds, b.w_prev, b.w),
    )
    det = settings.detection
    out = run_machine(
        B.machine_inputs(spark, ctx, src, b.w), ctx.plans,
        max(1, settings.spark.shuffle_partitions), det.product_slots,
        det.seconds("state_ttl") * 1_000_000,
    ).persist()  # fmt: skip
    try:
        with _phase("inputs and machine"):
            counts = {r["out"]: int(r["count"]) for r in out.groupBy("out").count().collect()}
            applied = finalized.count()
        of = {kind: out.where(F.col("out") == kind) for kind in (MESSAGE, JOURNEY, STATE)}
        # Each write goes to its own table and reads only what this batch fixed before it (the
        # cached machine output, the state and buffer at their recorded versions): they run at
        # once, and the progress row, the batch's commit point, is appended after all of them.
        jobs = [
            ("messages", lambda: sinks.write_messages(spark, settings, of[MESSAGE], feeds,
                                                      b.w_prev, b.w)),
            ("journeys", lambda: sinks.write_journeys(spark, settings, of[JOURNEY])),
            ("state", lambda: sinks.write_state(spark, settings, finalized, of[STATE], b.w_prev,
                                                b.w, b.since)),
            ("buffer", lambda: sinks.write_buffer(settings, remaining)),
            ("feed syncs", lambda: sinks.record_syncs(spark, settings, b.batch_id, syncs)),
        ]  # fmt: skip
        if b.late:
            jobs.append(("late events", lambda: sinks.write_late(spark, settings, late, b.w_prev)))
        with _phase("writes"):
            writes.write_concurrently("detect", jobs)
    finally:
        out.unpersist()
        state.unpersist()
    sinks.record_progress(
        spark,
        settings,
        b.batch_id,
        b.w,
        b.w_prev,
        {
            "events_read": b.read,
            "events_applied": applied,
            "late_events": b.late,
            "feed_syncs": len(syncs.product) + len(syncs.user),
            "late_feed_syncs": len(syncs.late),
            "inputs": sum(counts.values()),
            "messages_written": counts.get(MESSAGE, 0),
            "journeys_written": counts.get(JOURNEY, 0),
            "state_rows": counts.get(STATE, 0),
        },
        latest_version(spark, settings, SILVER_DETECT_STATE),
        latest_version(spark, settings, SILVER_DETECT_BUFFER),
    )


def last_progress(spark: SparkSession, settings: Settings) -> Mapping[str, Any] | None:
    """The newest row of ``silver.detect_progress`` (None before the first batch)."""
    row = table(spark, settings, SILVER_DETECT_PROGRESS).orderBy(F.desc("batch_id")).first()
    return row.asDict() if row is not None else None


def feeds_and_syncs_to_apply(
    spark: SparkSession, settings: Settings, batch_id: int, w_prev: datetime | None, w: datetime
) -> tuple[Feeds, B.SyncsToApply]:
    """The feeds and the syncs to apply (:func:`.batch.pending_syncs`), read in one query.

    The product and user syncs are those diffed by ``reconnect feeds``, behind ``w``, not yet
    applied by an earlier batch, in order; the late ones are those of them behind ``w_prev``.
    """
    todo = B.pending_syncs(
        table(spark, settings, SILVER_DETECT_FEED_SYNCS),
        table(spark, settings, SILVER_FEED_SYNC_PROGRESS),
        batch_id,
        w,
    )
    feeds, rows = feeds_with(spark, settings, todo)
    return feeds, B.syncs_to_apply(rows, w_prev)


def _changes(
    spark: SparkSession, settings: Settings, spec: TableSpec, syncs: Sequence[datetime]
) -> DataFrame | None:
    """The change rows of the syncs to apply from ``spec``; None (and no read) when none."""
    return B.at_syncs(table(spark, settings, spec), syncs) if syncs else None


@contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long one phase of a micro-batch took (``reconnect -v``)."""
    started = time.monotonic()
    yield
    log.info("detect:   %s %.1fs", name, time.monotonic() - started)
