"""``reconnect send``: the micro-batch sender's query and its steps (docs/sending.md).

A Structured Streaming query over detection's commit log of step eligibility
(``silver.detect_progress``: one row per detection batch, written after that batch's step
eligibility) runs one sender batch per detection batch, with ``foreachBatch``. Each batch:

1. takes the newest detection watermark ``W`` (R-EXIT-2) and the horizon ``H`` the previous
   sender batch reached (the newest ``silver.send_progress`` row);
2. settles every message whose send time lies in ``[H, W)`` (:mod:`.settle`, the per-person
   pass :mod:`.person_pass`) and inserts them into ``gold.messages``: the outbox;
3. records the late cancels (R-EXIT-3, :mod:`.late_cancels`) and the batch's progress row;
4. hands every settled batch's SENT messages without a final attempt to the channel providers
   (:mod:`.delivery`), recording every attempt in ``gold.deliveries``; a batch is marked
   delivered when all its messages have a final attempt.

A re-run batch decides the same messages from the same inputs (sends before ``H`` only), so the
insert-only MERGE adds nothing and nothing is sent twice (R-SEND-1). Writes are in
:mod:`.sinks`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from reconnect.campaigns import Campaign
from reconnect.lake.feed_state import load_feeds
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import table
from reconnect.lake.streams import OnBatch, run_to_end, with_trigger
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    BRONZE_SUBSCRIPTIONS,
    GOLD_DELIVERIES,
    GOLD_LATE_CANCELS,
    GOLD_MESSAGES,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DELIVERY_PROGRESS,
    SILVER_DETECT_PROGRESS,
    SILVER_JOURNEYS,
    SILVER_LATE_EVENTS,
    SILVER_SEND_PROGRESS,
)
from reconnect.send import consent as C
from reconnect.send import delivery as D
from reconnect.send import settle as S
from reconnect.send import sinks
from reconnect.send.connect import build_provider
from reconnect.send.context import SendContext
from reconnect.send.late_cancels import late_cancel_rows
from reconnect.send.person_pass import decide_all
from reconnect.send.providers import Attempt, Provider
from reconnect.send.summary import SendSummary, summarize_tables
from reconnect.settings import Settings
from reconnect.vocabulary import CHANNELS

log = logging.getLogger(__name__)


# --- the run ------------------------------------------------------------------------------------


def check_providers(settings: Settings) -> None:
    """Build every channel's provider once: a missing URL variable stops before any job runs."""
    for channel in CHANNELS:
        build_provider(settings.sender.provider(channel), channel, settings.paths.lakehouse)


def run_send(
    spark: SparkSession,
    settings: Settings,
    campaigns: Sequence[Campaign],
    on_batch: OnBatch | None = None,
) -> SendSummary:
    """Resume open deliveries, then settle and send until detection's log is done."""
    ensure_tables(spark, settings)
    ctx = SendContext.of(settings, campaigns)
    before = table(spark, settings, SILVER_SEND_PROGRESS).agg(F.max("batch_id")).first()
    deliver_pending(spark, ctx)
    run_to_end(start_send_query(spark, ctx, on_batch))
    since = before[0] if before is not None and before[0] is not None else -1
    return summarize(spark, settings, since)


def summarize(spark: SparkSession, settings: Settings, since_batch: int = -1) -> SendSummary:
    """Counts over the sending tables; the run is the sender batches after ``since_batch``."""

    def read(spec: Any) -> DataFrame:
        return table(spark, settings, spec)

    return summarize_tables(
        read(SILVER_SEND_PROGRESS),
        read(GOLD_MESSAGES),
        read(GOLD_DELIVERIES),
        read(GOLD_LATE_CANCELS),
        read(GOLD_STEP_ELIGIBILITY),
        since_batch,
    )


def start_send_query(
    spark: SparkSession, ctx: SendContext, on_batch: OnBatch | None = None
) -> StreamingQuery:
    """Start the streaming query over detection's progress log with its checkpoint and trigger.

    Each micro-batch settles up to the largest watermark among the detection batches it read.
    """
    settings = ctx.settings
    reader = spark.readStream.format("delta").option("skipChangeCommits", "true")
    if settings.streaming.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.streaming.max_files_per_trigger)
    source = reader.load(SILVER_DETECT_PROGRESS.location(settings))

    def batch(df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        top = df.agg(F.max("watermark")).first()
        w = top[0] if top else None
        send_batch(spark, ctx, batch_id, w)
        log.info("send: batch %d in %.1fs", batch_id, time.monotonic() - started)
        if on_batch is not None:
            on_batch(batch_id, w)

    writer = (
        source.writeStream.queryName("send")
        .foreachBatch(batch)
        .option("checkpointLocation", f"{settings.paths.checkpoints.rstrip('/')}/send")
    )
    return with_trigger(writer, settings).start()


# --- one batch ----------------------------------------------------------------------------------


def send_batch(spark: SparkSession, ctx: SendContext, batch_id: int, w: datetime | None) -> None:
    """Settle what became due behind the watermark ``w``, then deliver (see the module note)."""
    settings = ctx.settings
    last = table(spark, settings, SILVER_SEND_PROGRESS).orderBy(F.desc("batch_id")).first()
    if last is None or last["batch_id"] < batch_id:
        h: datetime | None = last["horizon"] if last else None
        started = time.monotonic()
        counts: dict[str, int] = {}
        if w is not None and (h is None or w > h):
            counts = settle(spark, ctx, h, w)
        else:
            w = h
        counts["late_cancels"] = record_late_cancels(spark, ctx)
        sinks.record_batch(spark, settings, batch_id, w, h, counts)
        log.info("send:   settled %s in %.1fs", counts, time.monotonic() - started)
    else:
        log.info("send: batch %d already settled", batch_id)
    started = time.monotonic()
    deliver_pending(spark, ctx)
    log.info("send:   delivered in %.1fs", time.monotonic() - started)


def settle(
    spark: SparkSession, ctx: SendContext, h: datetime | None, w: datetime
) -> dict[str, int]:
    """Decide every message with a send time in ``[h, w)``; insert them into gold.messages.

    Returns the batch's messages counted by state, and ``messages`` in all.
    """
    settings = ctx.settings

    def read(spec: Any) -> DataFrame:
        return table(spark, settings, spec)

    due = S.due(read(GOLD_STEP_ELIGIBILITY), load_feeds(spark, settings), ctx, h, w)
    # Materialized once as rows (read by the three lookups and twice below): a local
    # checkpoint stores Spark's row bytes, where persist() builds a compressed columnar cache,
    # slow for the nested payloads. On a cluster, losing an executor loses its blocks: the
    # batch fails and its re-run (same inputs, insert-only MERGE) settles the same messages.
    base = due.localCheckpoint()
    try:
        if base.isEmpty():
            return {}
        rest = base.where(F.col("verdict").isNull())
        keys = rest.select(*S.KEYS)
        ledger = C.ledger(
            read(BRONZE_SUBSCRIPTIONS), read(BRONZE_EVENTS), read(SILVER_LATE_EVENTS), w
        )
        passed = decide_all(
            ctx,
            rest,
            preempted=S.preempted(read(SILVER_JOURNEYS), keys, ctx, h, w),
            ledger=C.for_pass(keys, ledger),
            history=S.history(read(GOLD_MESSAGES), keys, ctx, h),
        )
        sinks.merge_messages(
            spark, settings, S.outcome(base.where(F.col("verdict").isNotNull()), passed), h, w
        )
        # Counted from the table: every message of this batch, and only those, has its send
        # time in [h, w) (also when the batch is re-run and the MERGE inserts nothing).
        written = read(GOLD_MESSAGES).where(S.in_range("send_at", h, w))
        counts = {r["state"]: int(r["count"]) for r in written.groupBy("state").count().collect()}
        counts["messages"] = sum(counts.values())
        return counts
    finally:
        release(base)


def release(df: DataFrame) -> None:
    """Free the blocks of a DataFrame made by ``localCheckpoint`` (``unpersist`` does not).

    Without this they would stay until the JVM collects the RDD (Spark's periodic GC, 30 min),
    batch after batch in a continuous run. Classic sessions only; elsewhere Spark's cleaner frees
    them.
    """
    jdf = getattr(df, "_jdf", None)
    plan = jdf.queryExecution().logical() if jdf is not None else None
    if plan is not None and plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)


def record_late_cancels(spark: SparkSession, ctx: SendContext) -> int:
    """Record the late events that would have cancelled a sent message; how many are known."""
    settings = ctx.settings
    late = table(spark, settings, SILVER_LATE_EVENTS).select("event_id")
    if late.count() == 0:  # answered from the Delta log's statistics
        return 0
    events = table(spark, settings, BRONZE_EVENTS).join(late, "event_id", "left_semi")
    rows = late_cancel_rows(events, table(spark, settings, GOLD_MESSAGES), ctx.campaigns)
    if rows is None:
        return 0
    sinks.merge_late_cancels(spark, settings, rows)
    return table(spark, settings, GOLD_LATE_CANCELS).count()  # all known so far


# --- delivery (R-SEND-3) ------------------------------------------------------------------------


def deliver_pending(spark: SparkSession, ctx: SendContext) -> list[Any]:
    """Deliver the SENT messages of every settled batch not yet marked delivered.

    Returns the batches still open (a message without a final attempt: retried next time).
    """
    settings = ctx.settings
    done = table(spark, settings, SILVER_DELIVERY_PROGRESS).select("batch_id")
    open_batches = (
        table(spark, settings, SILVER_SEND_PROGRESS)
        .where(F.col("horizon").isNotNull())
        .join(done, "batch_id", "left_anti")
        .orderBy("batch_id")
        .collect()
    )
    return [b for b in open_batches if not deliver_batch(spark, ctx, b)]


def deliver_batch(spark: SparkSession, ctx: SendContext, b: Any) -> bool:
    """Deliver one settled batch's open messages; whether the batch is now marked delivered."""
    settings = ctx.settings
    batch_id = int(b["batch_id"])
    if b["sent"] == 0 or b["previous_horizon"] == b["horizon"]:
        sinks.mark_delivered(spark, settings, batch_id, 0, 0)
        return True
    todo = D.undelivered(
        table(spark, settings, GOLD_MESSAGES), table(spark, settings, GOLD_DELIVERIES), b
    )
    executors = D.on_executors(spark.sparkContext.master, settings)
    open_left = 0
    if executors:
        here = todo.where(F.col("channel").isin(*executors))
        open_left += deliver_on_executors(settings, here, executors, batch_id)
    if len(executors) < len(CHANNELS):
        rest = todo.where(~F.col("channel").isin(*executors)) if executors else todo
        open_left += deliver_on_driver(spark, settings, rest, batch_id)
    if open_left == 0:
        delivered, failed = D.batch_outcome(table(spark, settings, GOLD_DELIVERIES), batch_id)
        sinks.mark_delivered(spark, settings, batch_id, delivered, failed)
    return open_left == 0


def deliver_on_executors(
    settings: Settings, todo: DataFrame, channels: Sequence[str], batch_id: int
) -> int:
    """Deliver ``todo`` from the executors and append every attempt to gold.deliveries at once.

    The messages are spread over the shuffle partitions by a hash of their id and sorted by
    (channel, message id) in each, so the same messages give the same provider calls (and file
    names) on a re-run. A crash before the append loses no message: none has a final attempt,
    so the next run hands them all over again. Returns how many are still open.
    """
    root = settings.paths.lakehouse
    by_channel = {c: settings.sender.provider(c) for c in channels}  # what the workers need
    n_parts = max(1, settings.spark.shuffle_partitions)

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from D.deliver_partition(batches, by_channel, root, batch_id)

    # Delivered once, here: the attempts are kept as a local checkpoint, then counted and
    # appended from it (never by delivering again). A file provider makes one attempt per
    # message, so the attempts that are not final are the messages still open.
    attempts = D.as_deliveries(
        todo.repartition(n_parts, "message_id")
        .sortWithinPartitions("channel", "message_id")
        .mapInArrow(run, D.ATTEMPT_ROWS)
    ).localCheckpoint()
    try:
        final = D.final_attempt(F.col("status"), F.col("http_status"))
        row = attempts.agg(F.count("*").alias("n"), F.count_if(~final).alias("open")).first()
        assert row is not None
        if row["n"]:
            sinks.append_attempts(settings, attempts)
        return int(row["open"] or 0)
    finally:
        release(attempts)


def deliver_on_driver(
    spark: SparkSession, settings: Settings, todo: DataFrame, batch_id: int
) -> int:
    """Deliver ``todo`` from the driver, appending attempts after each provider call.

    Rows stream to the driver in (channel, message id) order, one provider call per chunk.
    Returns how many messages are still open (no final attempt).
    """
    open_left = 0
    providers: dict[str, Provider] = {}
    sizes = {c: settings.sender.provider(c).chunk() for c in CHANNELS}
    rows = todo.orderBy("channel", "message_id").toLocalIterator(prefetchPartitions=True)
    for chunk in D.chunks(cast(Iterator[D.OutgoingRow], rows), sizes):
        channel = chunk[0].channel
        if channel not in providers:
            providers[channel] = build_provider(
                settings.sender.provider(channel), channel, settings.paths.lakehouse
            )
        attempts: list[Attempt] = providers[channel].deliver(chunk)
        record_attempts(spark, settings, attempts, batch_id)
        open_left += len(D.still_open(chunk, attempts))
    return open_left


def record_attempts(
    spark: SparkSession, settings: Settings, attempts: Sequence[Attempt], batch_id: int
) -> None:
    """Append one provider call's attempts to gold.deliveries."""
    if attempts:
        arrow = pa.Table.from_batches([D.attempt_batch(attempts, batch_id)])
        sinks.append_attempts(
            settings, D.as_deliveries(spark.createDataFrame(arrow, D.ATTEMPT_ROWS))
        )
