"""``reconnect send``: the micro-batch sender (docs/sending.md).

A Structured Streaming query over detection's commit log of step eligibility
(``silver.detect_progress``: one row per detection batch, written after that batch's step
eligibility) runs one sender batch per detection batch, with ``foreachBatch``. Each batch:

1. takes the newest detection watermark ``W`` (R-EXIT-2) and the horizon ``H`` the previous
   sender batch reached, and settles every message whose send time (the due time, or the end of
   the primary channel's quiet hours, R-QUIET-1) lies in ``[H, W)``: behind the watermark, step
   eligibility is final;
2. settles what needs no other table in Spark columns (detection's verdict, paused campaigns,
   the audience at send time R-TRIG-5, empty payloads), and gathers for the rest: the messages
   preempted by an active journey of higher priority (R-PRIO-2), the persons' consent ledger
   rows (R-OPT-1, R-OPT-2), and the person's sends in the cap window before ``H``;
3. brings those and the messages together in one shuffle by person, looks up each message's
   identifiers and consent at its send time in the person's ledger rows, decides every
   person's messages in order (:mod:`reconnect.send.decide`: preemption, channel choice, caps,
   control groups) and renders the payloads;
4. inserts the terminal messages into ``gold.messages`` (an insert-only MERGE on the message id:
   the outbox) and records the batch in ``silver.send_progress``;
5. hands the batch's SENT messages to the channel providers (:mod:`reconnect.send.providers`),
   recording every attempt in ``gold.deliveries``; a batch is marked delivered when all its
   messages have a final attempt. Deliveries left open by a crash are resumed first thing on the
   next run, under the same idempotency key (the message id).

A re-run batch decides the same messages from the same inputs (sends before ``H`` only), so the
insert-only MERGE adds nothing and nothing is sent twice (R-SEND-1).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any, cast

import pyarrow as pa
from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery

from reconnect.campaigns import Campaign, audience, exit_flag
from reconnect.lake import writes
from reconnect.lake.feed_state import load_feeds, with_user_attributes
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import table
from reconnect.lake.schemas import DELIVERIES, DELIVERY_PROGRESS, MESSAGES, SEND_PROGRESS
from reconnect.lake.streams import LastRow, run_to_end, with_trigger
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
    TableSpec,
)
from reconnect.micros import to_micros
from reconnect.send import consent as C
from reconnect.send.decide import (
    PRODUCT_TYPES,
    CampaignRules,
    Decision,
    decide_person,
    history_reach,
    priority_class,
    priority_ranks,
    send_time,
    zone,
)
from reconnect.send.providers import Attempt, Outgoing, Provider, build_provider
from reconnect.send.render import message_context, payload_json, render_payload
from reconnect.settings import ProviderSettings, SenderSettings, Settings
from reconnect.vocabulary import CANCELLED, CHANNELS, SUPERSEDED, SUPPRESSED

log = logging.getLogger(__name__)

RETRIED = (401, 403, 408, 429)  # answers after which a later run delivers again
_TS_FIELDS = ("trigger_time", "due_at", "send_at", "deferred_from")
# The per-person pass works on microseconds; these are its output columns.
PASS_SCHEMA = T.StructType(
    [
        T.StructField(f.name, T.LongType() if f.name in _TS_FIELDS else f.dataType)
        for f in MESSAGES.fields
    ]
)


@dataclass(frozen=True)
class SendContext:
    """Settings and the campaigns' sending rules for one run."""

    settings: Settings
    campaigns: tuple[Campaign, ...]
    rules: dict[str, CampaignRules]
    classes: dict[str, str]

    @classmethod
    def of(cls, settings: Settings, campaigns: Sequence[Campaign]) -> SendContext:
        """The context of every known campaign (a paused one's messages are suppressed)."""
        ranks = priority_ranks(campaigns, settings.sender)
        return cls(
            settings,
            tuple(campaigns),
            {c.id: CampaignRules.of(c, ranks[c.id]) for c in campaigns},
            {c.id: priority_class(c) for c in campaigns},
        )

    def active(self) -> set[str]:
        """Ids of the active campaigns."""
        return {c.id for c in self.campaigns if c.status == "active"}


@dataclass
class SendSummary:
    """What the sender has done, for the CLI and the demo."""

    batches: int = 0
    horizon: datetime | None = None
    sends_by_channel: dict[str, int] = field(default_factory=dict)
    by_state_reason: dict[tuple[str, str], int] = field(default_factory=dict)
    deliveries_by_status: dict[str, int] = field(default_factory=dict)
    late_cancels: int = 0

    def describe(self) -> str:
        """Lines for the terminal."""
        head = (
            f"send: {self.batches} micro-batch(es), settled up to {self.horizon:%Y-%m-%d %H:%M:%S}Z"
            if self.horizon
            else f"send: {self.batches} micro-batch(es), nothing due yet"
        )
        lines = [head, "  sends by channel:"]
        lines += [f"    {c:<26} {n:>9,}" for c, n in sorted(self.sends_by_channel.items())]
        lines.append("  messages not sent, by state and reason:")
        lines += [
            f"    {s + ' ' + r:<40} {n:>9,}"
            for (s, r), n in sorted(self.by_state_reason.items())
            if s != "SENT"
        ]
        lines.append("  delivery attempts by status:")
        lines += [f"    {s:<26} {n:>9,}" for s, n in sorted(self.deliveries_by_status.items())]
        lines.append(f"  late cancels (R-EXIT-3): {self.late_cancels:,}")
        return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------


def start_send_query(
    spark: SparkSession, ctx: SendContext, still_open: list[Any] | None = None
) -> StreamingQuery:
    """Start the streaming query over detection's progress log with its checkpoint and trigger.

    Each micro-batch settles up to the largest watermark among the detection batches it read.
    ``still_open``: the settled batches :func:`deliver_pending` left open just before; the
    micro-batches then keep that list themselves instead of querying the progress tables again.
    """
    settings = ctx.settings
    reader = spark.readStream.format("delta").option("skipChangeCommits", "true")
    if settings.streaming.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.streaming.max_files_per_trigger)
    source = reader.load(SILVER_DETECT_PROGRESS.location(settings))
    last = LastRow()  # read by the first micro-batch, then kept by the ones that append to it

    def batch(df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        top = df.agg(F.max("watermark")).first()
        send_batch(spark, ctx, batch_id, top[0] if top else None, still_open, last)
        log.info("send: batch %d in %.1fs", batch_id, time.monotonic() - started)

    writer = (
        source.writeStream.queryName("send")
        .foreachBatch(batch)
        .option("checkpointLocation", f"{settings.paths.checkpoints.rstrip('/')}/send")
    )
    return with_trigger(writer, settings).start()


def run_send(spark: SparkSession, settings: Settings, campaigns: Sequence[Campaign]) -> SendSummary:
    """Resume open deliveries, then settle and send until detection's log is done."""
    ensure_tables(spark, settings)
    ctx = SendContext.of(settings, campaigns)
    still_open = deliver_pending(spark, ctx)
    query = start_send_query(spark, ctx, still_open)
    run_to_end(query)
    return summarize(spark, settings)


def summarize(spark: SparkSession, settings: Settings) -> SendSummary:
    """Counts over the sending tables, read as one query.

    A union of four small aggregates, collected once: on small tables most of an action's time
    is its fixed cost (planning, listing the files, the job), paid here once instead of five
    times. Columns: kind, a, b, c (group keys as text), n (count), h (latest horizon).
    """
    text, time_ = F.lit(None).cast("string"), F.lit(None).cast("timestamp")

    def part(spec: TableSpec, kind: str, keys: Sequence[Column], horizon: Column) -> DataFrame:
        named = [k.alias(x) for k, x in zip(keys, "abc", strict=False)]
        counted = (
            table(spark, settings, spec)
            .groupBy(*named)
            .agg(F.count("*").alias("n"), horizon.alias("h"))
        )
        keyed = [F.col(x) if i < len(keys) else text.alias(x) for i, x in enumerate("abc")]
        return counted.select(F.lit(kind).alias("kind"), *keyed, "n", "h")

    found = (
        part(SILVER_SEND_PROGRESS, "progress", [], F.max("horizon"))
        .unionByName(
            part(
                GOLD_MESSAGES, "message", [F.col("state"), F.col("reason"), F.col("channel")], time_
            )
        )
        .unionByName(part(GOLD_DELIVERIES, "delivery", [F.col("status")], time_))
        .unionByName(part(GOLD_LATE_CANCELS, "late", [], time_))
        .collect()
    )
    summary = SendSummary()
    for r in found:
        n = int(r["n"])
        if r["kind"] == "progress":
            summary.batches, summary.horizon = n, r["h"]
        elif r["kind"] == "message":
            key = (r["a"], r["b"] or "")
            summary.by_state_reason[key] = summary.by_state_reason.get(key, 0) + n
            if r["a"] == "SENT":
                summary.sends_by_channel[r["c"]] = summary.sends_by_channel.get(r["c"], 0) + n
        elif r["kind"] == "delivery":
            summary.deliveries_by_status[r["a"]] = n
        else:
            summary.late_cancels = n
    return summary


def _lit_ts(d: datetime) -> Column:
    return F.lit(_naive(d)).cast("timestamp")


def _naive(d: datetime) -> datetime:
    return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d


# --- one batch ----------------------------------------------------------------------------------


def send_batch(
    spark: SparkSession,
    ctx: SendContext,
    batch_id: int,
    w: datetime | None,
    still_open: list[Any] | None = None,
    known: LastRow | None = None,
) -> None:
    """Settle what became due behind the watermark ``w``, then deliver (see the module note).

    ``still_open``, when given, is the list of settled batches this run left open (updated in
    place): with the batch settled here, it is exactly what :func:`deliver_pending` would find
    in the progress tables (this run is their only writer), without the ~1 s of reading them.
    ``known``, when given, keeps the newest send-progress row across the run's micro-batches
    (updated in place) for the same reason: only the run's first micro-batch reads it.
    """
    settings = ctx.settings
    known = known if known is not None else LastRow()
    last = known.newest(spark, SILVER_SEND_PROGRESS.location(settings))
    to_deliver: list[Any] | None = None
    if last is None or last["batch_id"] < batch_id:
        h: datetime | None = last["horizon"] if last else None
        counts: dict[str, int] = {}
        started = time.monotonic()
        if w is not None and (h is None or w > h):
            counts = settle(spark, ctx, h, w)
        else:
            w = h
        counts["late_cancels"] = _late_cancels(spark, ctx)
        row = _record(spark, settings, batch_id, w, h, counts)
        known.row = row
        log.info("send:   settled %s in %.1fs", counts, time.monotonic() - started)
        if still_open is not None:
            to_deliver = [*still_open, row] if row["horizon"] is not None else list(still_open)
    else:
        log.info("send: batch %d already settled", batch_id)
    started = time.monotonic()
    left = deliver_pending(spark, ctx) if to_deliver is None else _deliver(spark, ctx, to_deliver)
    if still_open is not None:
        still_open[:] = left
    log.info("send:   delivered in %.1fs", time.monotonic() - started)


def settle(
    spark: SparkSession, ctx: SendContext, h: datetime | None, w: datetime
) -> dict[str, int]:
    """Decide every message with a send time in ``[h, w)``; insert them into gold.messages."""
    settings = ctx.settings
    sender = settings.sender
    reach = timedelta(days=1) if sender.quiet_hours else timedelta(0)
    eligible = table(spark, settings, GOLD_STEP_ELIGIBILITY).where(F.col("due_at") < _lit_ts(w))
    if h is not None:
        eligible = eligible.where(F.col("due_at") >= _lit_ts(h - reach))
    feeds = load_feeds(spark, settings)
    cand = with_user_attributes(
        eligible.withColumn("as_of_sync", F.lit(None).cast("timestamp")),
        "cuid",
        "due_at",
        feeds,
        w,
    ).drop("as_of_sync")
    cand = _with_send_at(cand, ctx)
    window = F.col("send_at") < _lit_ts(w)
    if h is not None:
        window = window & (F.col("send_at") >= _lit_ts(h))
    base = (
        cand.where(window)
        .withColumn("person_key", C.person_key(F.col("cuid"), F.col("user_id")))
        .withColumn("audience_ok", _audience(ctx))
        .withColumn("verdict", _early_verdict(ctx))
        # Materialized once as rows (read by the three lookups and twice below): a local
        # checkpoint stores Spark's row bytes, where persist() builds a compressed columnar
        # cache, slow for the nested payloads (settle 53 -> 49 s on the 1M bench lake). On a
        # cluster, losing an executor loses its blocks: the batch fails and its re-run (same
        # inputs, insert-only MERGE) settles the same messages.
        .localCheckpoint()
    )
    try:
        if base.isEmpty():
            return {}
        # Checks 1-3 (and paused campaigns) need no join. The rest, with what holds at their
        # send time (preemption, the consent ledger) and the person's earlier sends, meet as
        # rows of one shuffle by person: the wide rows are shuffled once, never joined.
        rest = base.where(F.col("verdict").isNull())
        keys = rest.select(
            "message_id", "person_key", "journey_id", "campaign_id", "send_at", "cuid", "user_id"
        )  # fmt: skip
        ledger = C.ledger(
            table(spark, settings, BRONZE_SUBSCRIPTIONS),
            table(spark, settings, BRONZE_EVENTS),
            table(spark, settings, SILVER_LATE_EVENTS),
            w,
        )
        passed = _decide(
            ctx,
            rest,
            preempted=_preempted(spark, ctx, keys, h, w),
            ledger=C.for_pass(keys, ledger),
            history=_history(spark, ctx, keys, h),
        ).select(
            *[
                F.timestamp_micros(F.col(f.name)).alias(f.name)
                if f.name in _TS_FIELDS
                else F.col(f.name)
                for f in MESSAGES.fields
            ]
        )
        early = base.where(F.col("verdict").isNotNull())
        out = early.select(
            *[
                F.col(f"verdict.{f.name}").alias(f.name)
                if f.name in ("state", "reason")
                else F.lit(None).cast(f.dataType).alias(f.name)
                if f.name in ("channel", "address", "payload")
                else F.col(f.name)
                for f in MESSAGES.fields
            ]
        ).unionByName(passed)
        _merge_messages(spark, settings, out, h, w)
        # Counted from the table, not from `out`: caching a million wide rows to count them cost
        # more than reading back one column. Every message of this batch, and only those, has
        # its send time in [h, w) (also when the batch is re-run and the MERGE inserts nothing).
        written = table(spark, settings, GOLD_MESSAGES).where(F.col("send_at") < _lit_ts(w))
        if h is not None:
            written = written.where(F.col("send_at") >= _lit_ts(h))
        counts = {r["state"]: int(r["count"]) for r in written.groupBy("state").count().collect()}
        counts["messages"] = sum(counts.values())
        return counts
    finally:
        _release(base)


def _release(df: DataFrame) -> None:
    """Free the blocks of a DataFrame made by ``localCheckpoint`` (``unpersist`` does not).

    Without this they would stay until the JVM collects the RDD (Spark's periodic GC, 30 min),
    batch after batch in a continuous run. Classic sessions only; elsewhere Spark's cleaner frees
    them.
    """
    jdf = getattr(df, "_jdf", None)
    plan = jdf.queryExecution().logical() if jdf is not None else None
    if plan is not None and plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)


def _verdict(state: str | Column, reason: str | Column) -> Column:
    def lit(v: str | Column) -> Column:
        return v if isinstance(v, Column) else F.lit(v)

    return F.struct(lit(state).alias("state"), lit(reason).alias("reason"))


def _early_verdict(ctx: SendContext) -> Column:
    """Checks 1-3 of :func:`decide.decide`, and paused or removed campaigns, as a Column.

    ``(state, reason)`` for a message these checks settle, else null. They do not depend on
    the person's other messages, so they are decided before any join.
    """
    state, reason, campaign = F.col("state"), F.col("reason"), F.col("campaign_id")
    active = sorted(ctx.active())
    product = sorted(k for k, r in ctx.rules.items() if r.type in PRODUCT_TYPES)
    is_active = campaign.isin(*active) if active else F.lit(False)
    is_product = campaign.isin(*product) if product else F.lit(False)
    return (
        F.when(
            (state == CANCELLED) & (reason == "CANCELLED_BY_PRIORITY"),
            _verdict(SUPPRESSED, "CANCELLED_BY_PRIORITY"),
        )
        .when(state.isin(CANCELLED, SUPERSEDED), _verdict(state, reason))
        .when(~is_active, _verdict(SUPPRESSED, "CAMPAIGN_INACTIVE"))
        .when(~F.coalesce("audience_ok", F.lit(False)), _verdict(SUPPRESSED, "AUDIENCE_EXIT"))
        .when(
            is_product & F.coalesce(F.size("payload") <= 0, F.lit(True)),
            _verdict(SUPPRESSED, "EMPTY_PAYLOAD"),
        )
    )


def _with_send_at(cand: DataFrame, ctx: SendContext) -> DataFrame:
    """``send_at`` and ``deferred_from`` (R-QUIET-1, on the campaign's first channel)."""
    sender = ctx.settings.sender
    if not sender.quiet_hours:
        return cand.withColumn("send_at", F.col("due_at")).withColumn(
            "deferred_from", F.lit(None).cast("timestamp")
        )
    primary = {k: r.channels[0] for k, r in ctx.rules.items()}
    tzs = {k: r.timezone for k, r in ctx.rules.items()}

    @F.udf(returnType=T.TimestampType(), useArrow=True)
    def deferred(due: datetime, campaign_id: str, tz: str | None) -> datetime:
        due_utc = due.replace(tzinfo=UTC) if due.tzinfo is None else due
        at = send_time(
            due_utc, primary.get(campaign_id), zone(tz, tzs.get(campaign_id, "UTC")), sender
        )
        return at.astimezone(UTC).replace(tzinfo=None)

    tz = F.try_element_at(F.col("user_attributes"), F.lit("timezone"))
    cand = cand.withColumn("send_at", deferred(F.col("due_at"), F.col("campaign_id"), tz))
    return cand.withColumn(
        "deferred_from", F.when(F.col("send_at") != F.col("due_at"), F.col("due_at"))
    )


def _audience(ctx: SendContext) -> Column:
    """R-TRIG-5 re-checked at send time: the campaign's audience over the user's attributes."""
    with_audience = [c for c in ctx.campaigns if c.audience is not None]
    if not with_audience:
        return F.lit(True)
    expr = F.when(F.lit(False), F.lit(True))
    for c in with_audience:
        expr = expr.when(F.col("campaign_id") == c.id, F.coalesce(audience(c), F.lit(False)))
    return expr.otherwise(F.lit(True))


def _preempted(
    spark: SparkSession, ctx: SendContext, cand: DataFrame, h: datetime | None, w: datetime
) -> DataFrame:
    """``(message_id, person_key)`` of the messages preempted at their send time (R-PRIO-2).

    Preempted means the person has an active journey of a higher-priority campaign.
    """
    ranks = spark.createDataFrame(
        [(k, r.rank, ctx.classes[k]) for k, r in ctx.rules.items()],
        "campaign_id string, rank int, pclass string",
    )
    journeys = (
        table(spark, ctx.settings, SILVER_JOURNEYS)
        .where(F.col("trigger_time") < _lit_ts(w))
        .withColumn("person_key", C.person_key(F.col("cuid"), F.col("user_id")))
        .join(F.broadcast(ranks), "campaign_id")
        .select(
            "person_key",
            F.col("journey_id").alias("j_id"),
            F.col("rank").alias("j_rank"),
            F.col("pclass").alias("j_class"),
            "trigger_time",
            "last_due_at",
            "ended_at",
        )
    )
    if h is not None:
        journeys = journeys.where(F.col("last_due_at") >= _lit_ts(h - timedelta(days=1)))
    m = (
        cand.select("message_id", "person_key", "journey_id", "campaign_id", "send_at")
        .join(F.broadcast(ranks), "campaign_id")
        .where(F.col("pclass") != "user_attribute_change")
    )
    t = F.col("send_at")
    return (
        m.join(journeys, "person_key")
        .where(
            (F.col("j_rank") < F.col("rank"))
            & (F.col("j_id") != F.col("journey_id"))
            & ~((F.col("pclass") == "custom") & (F.col("j_class") == "custom"))  # R-PRIO-2
            & (F.col("trigger_time") <= t)
            & (F.col("last_due_at") >= t)
            & (F.col("ended_at").isNull() | (F.col("ended_at") > t))
        )
        .select("message_id", "person_key")
        .distinct()
    )


def _history(
    spark: SparkSession, ctx: SendContext, cand: DataFrame, h: datetime | None
) -> DataFrame:
    """The persons' sends before ``h`` that still count in a cap window."""
    if h is None:
        return spark.createDataFrame(
            [], "person_key string, campaign_id string, channel string, send_at timestamp"
        )
    since = h - history_reach(ctx.rules.values(), ctx.settings.sender)
    return (
        table(spark, ctx.settings, GOLD_MESSAGES)
        .where(
            (F.col("state") == "SENT")
            & (F.col("send_at") >= _lit_ts(since))
            & (F.col("send_at") < _lit_ts(h))
        )
        .join(cand.select("person_key").distinct(), "person_key", "left_semi")
        .select("person_key", "campaign_id", "channel", "send_at")
    )


_MESSAGE_INPUT = (
    "message_id", "journey_id", "campaign_id", "campaign_type", "variation_id", "is_control",
    "step_number", "step_name", "person_key", "user_id", "cuid", "trigger_time", "due_at",
    "send_at", "deferred_from", "state", "reason", "decided_by", "payload", "user_attributes",
    "audience_ok",
)  # fmt: skip
# A consent row (``l``) in the pass: the columns of consent.LedgerRow, in its order.
_LEDGER = ("channel", "l_device", "send_at", "l_opted", "l_address", "l_src", "l_seq")
_AS_JSON = ("payload", "user_attributes")
_EXACT = json.JSONDecoder(parse_float=Decimal)  # prices stay Decimals, as Arrow gave them


def _decide(
    ctx: SendContext,
    messages: DataFrame,
    preempted: DataFrame,
    ledger: DataFrame,
    history: DataFrame,
) -> DataFrame:
    """Run the per-person pass (mapInArrow over persons, sorted within each).

    Four kinds of rows meet in one shuffle by person: ``m`` the messages, ``p`` a preempted
    message's id, ``l`` a row of the person's consent ledger (:func:`consent.for_pass`; its time
    in ``send_at``), ``h`` an earlier send in the cap window.
    """
    as_input = {c: F.unix_micros(F.col(c)).alias(c) for c in _TS_FIELDS}
    # The nested columns cross to Python as JSON text: Spark's Arrow writer is slow on nested
    # values (the product slots, the attributes map), text is cheap (docs/benchmarks.md).
    as_input |= {c: F.to_json(c, {"ignoreNullFields": "false"}).alias(c) for c in _AS_JSON}
    m = messages.select(
        F.lit("m").alias("kind"),
        *[as_input.get(c, F.col(c)) for c in _MESSAGE_INPUT],
        F.lit(None).cast("string").alias("channel"),
        F.lit(None).cast("string").alias("l_device"),
        F.lit(None).cast("boolean").alias("l_opted"),
        F.lit(None).cast("string").alias("l_address"),
        F.lit(None).cast("int").alias("l_src"),
        F.lit(None).cast("string").alias("l_seq"),
    )

    def rows(kind: str, df: DataFrame, given: dict[str, Column]) -> DataFrame:
        return df.select(
            F.lit(kind).alias("kind"),
            *[
                (given[f.name] if f.name in given else F.lit(None).cast(f.dataType)).alias(f.name)
                for f in m.schema.fields[1:]
            ],
        )

    col = F.col
    parts = [
        m,
        rows("p", preempted, {"message_id": col("message_id"), "person_key": col("person_key")}),
        rows(
            "l",
            ledger,
            {
                "person_key": col("person_key"),
                "channel": col("channel"),
                "send_at": F.unix_micros(col("time")),
                **{f"l_{c}": col(c) for c in ("device", "opted", "address", "src", "seq")},
            },
        ),
        rows(
            "h",
            history,
            {
                "person_key": col("person_key"),
                "campaign_id": col("campaign_id"),
                "channel": col("channel"),
                "send_at": F.unix_micros(col("send_at")),
            },
        ),
    ]
    every = reduce(DataFrame.unionByName, parts)
    every = every.repartition("person_key").sortWithinPartitions("person_key")
    rules = ctx.rules
    sender = ctx.settings.sender

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from pass_partition(batches, rules, sender)

    return every.mapInArrow(run, PASS_SCHEMA)


def pass_partition(
    batches: Iterable[pa.RecordBatch],
    rules: dict[str, CampaignRules],
    sender: SenderSettings,
) -> Iterator[pa.RecordBatch]:
    """Decide the persons of one partition (rows of :func:`_decide`, sorted by person).

    The messages are those of active campaigns that :func:`_early_verdict` left open. Each
    gets its identifiers, consent and addresses from the person's ledger rows, for the channels
    it has content for (R-CHAN-1); a message with none has no channel to look up (every channel
    unknown, ``NO_IDENTIFIER``).
    """
    schema = pa.schema([pa.field(f.name, _arrow_type(f.dataType)) for f in PASS_SCHEMA.fields])
    out: list[dict[str, Any]] = []
    person: str | None = None
    history: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    preempted: set[str] = set()
    ledger: list[C.LedgerRow] = []

    def flush() -> None:
        if person is None:
            return
        for p in pending:
            r = rules[p["campaign_id"]]
            content = r.content(p["variation_id"], p["step_number"], p["is_control"])
            p["identified"], p["consent"], p["address"] = C.flags(
                p["cuid"],
                p["user_id"],
                p["send_at"],
                [c for c in r.channels if c in content],
                ledger,
            )
            p["preempted"] = p["message_id"] in preempted
        for m, d in decide_person(history, pending, rules, sender):
            out.append(_message_row(m, d, rules[m["campaign_id"]]))

    for batch in batches:
        # Column by column, and a dict only for the rows that need one: a ledger row is kept as
        # a small tuple.
        names = batch.schema.names
        at_kind, at_person, at_id = (names.index(n) for n in ("kind", "person_key", "message_id"))
        at_ledger = tuple(names.index(n) for n in _LEDGER)
        for values in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            if values[at_person] != person:
                flush()
                person, history, pending, preempted, ledger = values[at_person], [], [], set(), []
            kind = values[at_kind]
            if kind == "m":
                row = dict(zip(names, values, strict=True))
                text = row["payload"]
                row["payload"] = _EXACT.decode(text) if text else []
                text = row["user_attributes"]
                row["user_attributes"] = json.loads(text) if text else {}
                pending.append(row)
            elif kind == "l":
                ledger.append(C.LedgerRow(*(values[i] for i in at_ledger)))
            elif kind == "p":
                preempted.add(values[at_id])
            else:
                history.append(dict(zip(names, values, strict=True)))
        if len(out) >= 5000:
            yield pa.RecordBatch.from_pylist(out, schema)
            out = []
    flush()
    if out:
        yield pa.RecordBatch.from_pylist(out, schema)


def _message_row(m: Mapping[str, Any], d: Decision, rules: CampaignRules) -> dict[str, Any]:
    payload = None
    if d.channel is not None:
        products = [dict(p) for p in m["payload"] or []]
        content = rules.content(m["variation_id"], m["step_number"], m["is_control"])
        ctx = message_context(
            message_id=m["message_id"],
            campaign_id=m["campaign_id"],
            campaign_name=rules.name,
            step_name=m["step_name"],
            channel=d.channel,
            products=products,
            user=m["user_attributes"],
        )
        payload = payload_json(
            render_payload(content.get(d.channel, {}), ctx, address=d.address or "")
        )
    return {
        **{
            k: m[k]
            for k in (
                "message_id",
                "journey_id",
                "campaign_id",
                "campaign_type",
                "variation_id",
                "is_control",
                "step_number",
                "step_name",
                "person_key",
                "user_id",
                "cuid",
                "trigger_time",
                "due_at",
                "send_at",
                "deferred_from",
                "decided_by",
            )
        },
        "state": d.state,
        "reason": d.reason,
        "channel": d.channel,
        "address": d.address,
        "payload": payload,
    }


def _arrow_type(t: T.DataType) -> pa.DataType:
    if isinstance(t, T.StringType):
        return pa.string()
    if isinstance(t, T.BooleanType):
        return pa.bool_()
    if isinstance(t, T.IntegerType):
        return pa.int32()
    if isinstance(t, T.LongType):
        return pa.int64()
    raise TypeError(f"no arrow type for {t}")


def _merge_messages(
    spark: SparkSession, settings: Settings, out: DataFrame, h: datetime | None, w: datetime
) -> None:
    """Insert-only MERGE on message_id, pruned to the batch's due-time range."""
    cond = "t.message_id = s.message_id"
    lo = (h - timedelta(days=1)) if h else None
    cond += f" AND t.due_at < TIMESTAMP '{_naive(w):%Y-%m-%d %H:%M:%S.%f}'"
    if lo is not None:
        cond += f" AND t.due_at >= TIMESTAMP '{_naive(lo):%Y-%m-%d %H:%M:%S.%f}'"
    (
        DeltaTable.forPath(spark, GOLD_MESSAGES.location(settings))
        .alias("t")
        .merge(out.alias("s"), cond)
        .whenNotMatchedInsertAll()
        .execute()
    )


def _record(
    spark: SparkSession,
    settings: Settings,
    batch_id: int,
    w: datetime | None,
    h: datetime | None,
    counts: dict[str, int],
) -> dict[str, Any]:
    """Append the batch's progress row; the row, as :func:`deliver_pending` reads it back."""
    row = (
        batch_id, w, h, counts.get("messages", 0), counts.get("SENT", 0),
        counts.get("SUPPRESSED", 0), counts.get("CANCELLED", 0), counts.get("SUPERSEDED", 0),
        counts.get("late_cancels", 0),
    )  # fmt: skip
    # An append: send_batch only reaches here for a batch id not yet recorded.
    df = spark.createDataFrame([row], SEND_PROGRESS)
    df.write.format("delta").mode("append").save(SILVER_SEND_PROGRESS.location(settings))
    return dict(zip(SEND_PROGRESS.fieldNames(), row, strict=True))


# --- late cancels (R-EXIT-3) ----------------------------------------------------------------------


def _exit_matches(campaign: Campaign) -> Column | None:
    """The plain-event part of a campaign's "don't send if" (late events have no session)."""
    et = F.col("event_type")
    parts: list[Column] = []
    for rule in campaign.dont_send_if:
        if rule in ("purchase", "purchase_of_product", "purchase_in_watch_window"):
            parts.append(et == "purchase")
        elif rule == "add_to_cart":
            parts.append(et == "add_to_cart")
    flag = exit_flag(campaign)
    if flag is not None:
        parts.append(flag)
    return reduce(lambda a, b: a | b, parts) if parts else None


def _late_cancels(spark: SparkSession, ctx: SendContext) -> int:
    """Late events that would have cancelled a message already sent: counted, not lost."""
    settings = ctx.settings
    late = table(spark, settings, SILVER_LATE_EVENTS).select("event_id")
    if late.count() == 0:  # answered from the Delta log's statistics
        return 0
    events = table(spark, settings, BRONZE_EVENTS).join(late, "event_id", "left_semi")
    flags = [(c.id, f) for c in ctx.campaigns if (f := _exit_matches(c)) is not None]
    if not flags:
        return 0
    matched = events.select(
        "event_id",
        "event_time",
        "event_type",
        "user_id",
        F.explode(F.array_compact(F.array(*[F.when(f, F.lit(cid)) for cid, f in flags]))).alias(
            "campaign_id"
        ),
    )
    sent = table(spark, settings, GOLD_MESSAGES).where(F.col("state") == "SENT")
    rows = matched.join(
        sent.select(
            "message_id",
            "campaign_id",
            F.col("user_id").alias("m_user"),
            "trigger_time",
            "due_at",
            "send_at",
        ),
        (matched["campaign_id"] == sent["campaign_id"])
        & (matched["user_id"] == F.col("m_user"))
        & (F.col("event_time") > F.col("trigger_time"))
        & (F.col("event_time") <= F.col("due_at")),
    ).select(
        "event_id",
        "event_time",
        "event_type",
        "message_id",
        matched["campaign_id"],
        "user_id",
        "due_at",
        "send_at",
    )
    writes.merge_by_key(spark, GOLD_LATE_CANCELS, settings, rows, ("event_id", "message_id"), False)
    return table(spark, settings, GOLD_LATE_CANCELS).count()  # all known so far


# --- delivery (R-SEND-3) ------------------------------------------------------------------------


def check_providers(settings: Settings) -> None:
    """Build every channel's provider once: a missing URL variable stops before any job runs."""
    for channel in CHANNELS:
        build_provider(settings.sender.provider(channel), channel, settings.paths.lakehouse)


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
    return _deliver(spark, ctx, open_batches)


def _deliver(spark: SparkSession, ctx: SendContext, batches: Sequence[Any]) -> list[Any]:
    """Deliver ``batches`` (send-progress rows, oldest first); those still open."""
    return [b for b in batches if not _deliver_batch(spark, ctx, b)]


def _deliver_batch(spark: SparkSession, ctx: SendContext, b: Any) -> bool:
    """Deliver one settled batch's open messages; whether the batch is now marked delivered."""
    settings = ctx.settings
    batch_id = int(b["batch_id"])
    if b["sent"] == 0 or b["previous_horizon"] == b["horizon"]:
        _mark_delivered(spark, settings, batch_id, 0, 0)
        return True
    todo = _undelivered(spark, settings, b)
    on_executors = _delivered_on_executors(spark, settings)
    open_left = 0
    if on_executors:
        files = todo.where(F.col("channel").isin(*on_executors))
        open_left += _deliver_on_executors(spark, settings, files, on_executors, batch_id)
    if len(on_executors) < len(CHANNELS):
        rest = todo.where(~F.col("channel").isin(*on_executors)) if on_executors else todo
        open_left += _deliver_on_driver(spark, settings, rest, batch_id)
    if open_left == 0:
        counts = (
            table(spark, settings, GOLD_DELIVERIES)
            .where(F.col("send_batch") == batch_id)
            .groupBy("status")
            .count()
            .collect()
        )
        by = {r["status"]: int(r["count"]) for r in counts}
        _mark_delivered(spark, settings, batch_id, by.get("DELIVERED", 0), by.get("FAILED", 0))
    return open_left == 0


def _undelivered(spark: SparkSession, settings: Settings, b: Any) -> DataFrame:
    """The SENT messages of send batch ``b`` without a final delivery attempt."""
    sent = table(spark, settings, GOLD_MESSAGES).where(
        (F.col("state") == "SENT") & (F.col("send_at") < _lit_ts(b["horizon"]))
    )
    if b["previous_horizon"] is not None:
        sent = sent.where(F.col("send_at") >= _lit_ts(b["previous_horizon"]))
    final = (
        table(spark, settings, GOLD_DELIVERIES)
        .where(_final_attempt(F.col("status"), F.col("http_status")))
        .select("message_id")
    )
    return sent.join(final, "message_id", "left_anti").select(
        "message_id", "channel", "address", "payload"
    )


def _delivered_on_executors(spark: SparkSession, settings: Settings) -> list[str]:
    """Channels whose provider runs in the executors: file providers, when Spark runs locally.

    A file drop writes to a folder of the driver's machine; only a local master's executors
    share it. Webhooks stay on the driver (one circuit and one request rate per run), and so
    does the console (the driver's terminal).
    """
    if not (spark.sparkContext.master or "").startswith("local"):
        return []
    return [c for c in CHANNELS if settings.sender.provider(c).kind == "file"]


def _deliver_on_executors(
    spark: SparkSession, settings: Settings, todo: DataFrame, channels: Sequence[str], batch_id: int
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
        yield from deliver_partition(batches, by_channel, root, batch_id)

    # Delivered once, here: the attempts are kept as a local checkpoint, then counted and
    # appended from it (never by delivering again). A file provider makes one attempt per
    # message, so the attempts that are not final are the messages still open.
    attempts = _as_deliveries(
        todo.repartition(n_parts, "message_id")
        .sortWithinPartitions("channel", "message_id")
        .mapInArrow(run, ATTEMPT_ROWS)
    ).localCheckpoint()
    try:
        final = _final_attempt(F.col("status"), F.col("http_status"))
        row = attempts.agg(F.count("*").alias("n"), F.count_if(~final).alias("open")).first()
        assert row is not None
        if row["n"]:
            attempts.write.format("delta").mode("append").save(GOLD_DELIVERIES.location(settings))
        return int(row["open"] or 0)
    finally:
        _release(attempts)


def deliver_partition(
    batches: Iterable[pa.RecordBatch],
    by_channel: Mapping[str, ProviderSettings],
    root: str,
    batch_id: int,
) -> Iterator[pa.RecordBatch]:
    """Hand one partition's messages (sorted by channel) to the providers, chunk by chunk."""
    providers: dict[str, Provider] = {}
    sizes = {c: p.chunk() for c, p in by_channel.items()}
    for chunk in _chunks(_outgoing_rows(batches), sizes):
        channel = chunk[0].channel
        if channel not in providers:
            providers[channel] = build_provider(by_channel[channel], channel, root)
        yield _attempt_batch(providers[channel].deliver(chunk), batch_id)


_OUTGOING = ("message_id", "channel", "address", "payload")
_OutgoingRow = tuple[str, str, str, str]  # message_id, channel, address, payload


def _outgoing_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[_OutgoingRow]:
    """The :data:`_OUTGOING` columns of record batches, row by row."""
    for batch in batches:
        yield from zip(*[batch.column(name).to_pylist() for name in _OUTGOING], strict=True)


def _chunks(rows: Iterable[_OutgoingRow], sizes: Mapping[str, int]) -> Iterator[list[Outgoing]]:
    """Rows sorted by channel, cut into provider calls: one channel each, at most its chunk size.

    Used on the driver and in the workers alike, so both cut the same calls.
    """
    chunk: list[Outgoing] = []
    for message_id, channel, address, payload in rows:
        if chunk and (chunk[0].channel != channel or len(chunk) >= sizes[channel]):
            yield chunk
            chunk = []
        chunk.append(Outgoing(message_id, channel, address, text=payload))
    if chunk:
        yield chunk


# gold.deliveries with the attempt time as UTC microseconds (how the workers hand it over).
ATTEMPT_ROWS = T.StructType(
    [
        T.StructField(f.name, T.LongType(), f.nullable) if f.name == "attempted_at" else f
        for f in DELIVERIES.fields
    ]
)


def _attempt_batch(attempts: Sequence[Attempt], batch_id: int) -> pa.RecordBatch:
    """Attempts as a record batch of :data:`ATTEMPT_ROWS`."""
    return pa.RecordBatch.from_pydict(
        {
            "message_id": [a.message_id for a in attempts],
            "channel": [a.channel for a in attempts],
            "provider": [a.provider for a in attempts],
            "attempt": pa.array([a.attempt for a in attempts], pa.int32()),
            "status": [a.status for a in attempts],
            "http_status": pa.array([a.http_status for a in attempts], pa.int32()),
            "error": pa.array([a.error for a in attempts], pa.string()),
            "attempted_at": pa.array([to_micros(a.attempted_at) for a in attempts], pa.int64()),
            "duration_ms": pa.array([a.duration_ms for a in attempts], pa.int64()),
            "send_batch": pa.array([batch_id] * len(attempts), pa.int64()),
        },
        schema=pa.schema(
            [pa.field(f.name, _arrow_type(f.dataType), f.nullable) for f in ATTEMPT_ROWS.fields]
        ),
    )


def _as_deliveries(attempts: DataFrame) -> DataFrame:
    """Rows of :data:`ATTEMPT_ROWS` as gold.deliveries rows."""
    return attempts.select(
        *[
            F.timestamp_micros(F.col(f.name)).alias(f.name)
            if f.name == "attempted_at"
            else F.col(f.name)
            for f in DELIVERIES.fields
        ]
    )


def _deliver_on_driver(
    spark: SparkSession, settings: Settings, todo: DataFrame, batch_id: int
) -> int:
    """Deliver ``todo`` from the driver, appending attempts after each provider call.

    Returns how many messages are still open (no final attempt).
    """
    open_left = 0
    providers: dict[str, Provider] = {}
    sizes = {c: settings.sender.provider(c).chunk() for c in CHANNELS}
    # Streamed to the driver in (channel, message id) order, one provider call per chunk; the
    # next partition is computed while this one is delivered. Rows are unpacked as tuples (in
    # the select's order): reading Row fields by name cost ~4 us a message.
    rows = todo.orderBy("channel", "message_id").toLocalIterator(prefetchPartitions=True)
    for chunk in _chunks(cast(Iterator[_OutgoingRow], rows), sizes):
        open_left += _deliver_chunk(spark, settings, providers, chunk, batch_id)
    return open_left


def _deliver_chunk(
    spark: SparkSession,
    settings: Settings,
    providers: dict[str, Provider],
    chunk: list[Outgoing],
    batch_id: int,
) -> int:
    """Deliver one chunk (one channel) and append its attempts; how many are still open."""
    channel = chunk[0].channel
    if channel not in providers:
        providers[channel] = build_provider(
            settings.sender.provider(channel), channel, settings.paths.lakehouse
        )
    attempts: list[Attempt] = providers[channel].deliver(chunk)
    if attempts:
        table = pa.Table.from_batches([_attempt_batch(attempts, batch_id)])
        rows = spark.createDataFrame(table, ATTEMPT_ROWS)
        _as_deliveries(rows).write.format("delta").mode("append").save(
            GOLD_DELIVERIES.location(settings)
        )
    final = {a.message_id for a in attempts if _is_final(a)}
    return sum(1 for o in chunk if o.message_id not in final)


def _is_final(a: Attempt) -> bool:
    """Delivered, or refused for good by the provider (a 3xx/4xx other than RETRIED).

    A message whose retries ran out on a transient failure (timeout, 5xx, open circuit, 408,
    429) or on credentials (401, 403: fixed by configuration) is not final: the next run
    delivers it again under the same idempotency key.
    """
    if a.status == "DELIVERED":
        return True
    code = a.http_status
    return (
        a.status == "FAILED" and code is not None and 300 <= code < 500 and code not in (408, 429)
    )


def _final_attempt(status: Column, http_status: Column) -> Column:
    """:func:`_is_final` as a Column over gold.deliveries."""
    permanent = (http_status >= 300) & (http_status < 500) & ~http_status.isin(*RETRIED)
    return (status == "DELIVERED") | ((status == "FAILED") & permanent)


def _mark_delivered(
    spark: SparkSession, settings: Settings, batch_id: int, delivered: int, failed: int
) -> None:
    # An append: deliver_pending only reaches here for a batch not yet marked.
    df = spark.createDataFrame([(batch_id, delivered, failed)], DELIVERY_PROGRESS)
    df.write.format("delta").mode("append").save(SILVER_DELIVERY_PROGRESS.location(settings))
