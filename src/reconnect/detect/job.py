"""``reconnect detect``: a Structured Streaming query over bronze events, one micro-batch at a time.

Each micro-batch (``foreachBatch``; docs/detection.md):

1. moves the watermark to the largest event time seen minus the allowed lateness (R-EXIT-2);
   events already behind the previous watermark are late: recorded, not applied;
2. takes the events behind the new watermark (this batch's and those buffered from earlier
   ones), the feed syncs behind it and the schedule slots behind it, and builds machine inputs
   (:mod:`reconnect.detect.inputs`);
3. runs the per-user state machine (:mod:`reconnect.detect.machine`) in the Python workers over
   each user's inputs in event-time order, with the user's state from ``silver.detect_state``;
4. MERGEs the changed journeys and messages, the new state, the buffer and the feed values of the
   messages that became due, then records its progress.

Reads of state and buffer are pinned to the versions the previous batch recorded, and every write
is a MERGE, an overwrite or a delete with the same content on a re-run, or an append only where
the batch knows the keys are new (its progress row; its applied feed syncs when no earlier
attempt recorded any): a batch replayed after a crash writes the same rows again and applies
nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pyarrow as pa
from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery

from reconnect.campaigns import Campaign, ScheduledCampaign
from reconnect.detect import inputs as I
from reconnect.detect.machine import Input, Machine, UserState
from reconnect.detect.plan import CampaignPlan, active_campaigns, plan_campaigns
from reconnect.detect.schedule import slots_between
from reconnect.lake import writes
from reconnect.lake.feed_state import Feeds, feeds_with, with_sync
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import latest_version, table
from reconnect.lake.schemas import (
    DETECT_FEED_SYNCS,
    DETECT_PROGRESS,
    EVENTS,
    JOURNEYS,
    STEP_ELIGIBILITY,
)
from reconnect.lake.streams import LastRow, run_to_end, with_trigger
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    BRONZE_PRODUCT_SNAPSHOTS,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_BUFFER,
    SILVER_DETECT_FEED_SYNCS,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_STATE,
    SILVER_FEED_SYNC_PROGRESS,
    SILVER_JOURNEYS,
    SILVER_LATE_EVENTS,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
)
from reconnect.micros import to_micros
from reconnect.settings import Settings

log = logging.getLogger(__name__)

_PRODUCT = T.StructType(
    [
        T.StructField("product_id", T.StringType()),
        T.StructField("old_price", T.DecimalType(18, 4)),
        T.StructField("drop_percent", T.DecimalType(9, 4)),
    ]
)
OUTPUT_SCHEMA = T.StructType(
    [
        T.StructField("out", T.StringType()),  # m(essage), j(ourney), s(tate)
        T.StructField("key_kind", T.StringType()),
        T.StructField("user_key", T.StringType()),
        T.StructField("cuid", T.StringType()),
        T.StructField("message_id", T.StringType()),
        T.StructField("journey_id", T.StringType()),
        T.StructField("campaign_id", T.StringType()),
        T.StructField("campaign_type", T.StringType()),
        T.StructField("variation_id", T.StringType()),
        T.StructField("is_control", T.BooleanType()),
        T.StructField("step_number", T.IntegerType()),
        T.StructField("step_name", T.StringType()),
        T.StructField("steps", T.IntegerType()),
        T.StructField("trigger_time", T.LongType()),
        T.StructField("trigger_id", T.StringType()),
        T.StructField("due_at", T.LongType()),
        T.StructField("first_due_at", T.LongType()),
        T.StructField("last_due_at", T.LongType()),
        T.StructField("state", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("decided_by", T.StringType()),
        T.StructField("decided_at", T.LongType()),
        T.StructField("products", T.ArrayType(_PRODUCT)),
        T.StructField("state_json", T.StringType()),
        T.StructField("watched", T.ArrayType(T.StringType())),
        T.StructField("expires_at", T.LongType()),
    ]
)
_FIELDS = OUTPUT_SCHEMA.fieldNames()
_FINALIZED = "finalized"  # a count's tag beside the output kinds (never an output kind)
_RERUN = "recorded by this batch id"  # tag of a row in _feeds_and_syncs_to_apply
_ARROW = None  # built lazily in the workers


def _arrow_schema() -> pa.Schema:
    global _ARROW
    if _ARROW is None:
        from pyspark.sql.pandas.types import to_arrow_schema

        _ARROW = to_arrow_schema(OUTPUT_SCHEMA)
    return _ARROW


@dataclass(frozen=True)
class DetectContext:
    """What every micro-batch needs: settings, campaigns and their plans."""

    settings: Settings
    campaigns: tuple[Campaign, ...]
    plans: tuple[CampaignPlan, ...]

    @classmethod
    def of(cls, settings: Settings, campaigns: Sequence[Campaign]) -> DetectContext:
        """The context of the active ``campaigns``."""
        active = tuple(active_campaigns(campaigns))
        return cls(settings, active, plan_campaigns(active))


@dataclass
class DetectSummary:
    """What a run did, for the CLI and the demo."""

    batches: int = 0
    events_applied: int = 0
    late_events: int = 0
    watermark: datetime | None = None
    journeys_by_type: dict[str, int] = field(default_factory=dict)
    messages_by_state: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """Lines for the terminal."""
        lines = [
            f"detect: {self.batches} micro-batch(es), {self.events_applied:,} events applied, "
            f"{self.late_events:,} late; watermark {self.watermark:%Y-%m-%d %H:%M:%S}Z"
            if self.watermark
            else f"detect: {self.batches} micro-batch(es), no events yet"
        ]
        lines.append("  journeys started by campaign type:")
        for t, n in sorted(self.journeys_by_type.items()):
            lines.append(f"    {t:<26} {n:>9,}")
        lines.append("  messages by state:")
        for s, n in sorted(self.messages_by_state.items()):
            lines.append(f"    {s:<26} {n:>9,}")
        return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------


def start_detect_query(
    spark: SparkSession, settings: Settings, ctx: DetectContext
) -> StreamingQuery:
    """Start the streaming query over bronze events with its checkpoint and trigger."""
    reader = spark.readStream.format("delta")
    if settings.streaming.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.streaming.max_files_per_trigger)
    events = reader.load(BRONZE_EVENTS.location(settings))

    last = LastRow()  # read by the first micro-batch, then kept by the ones that append to it

    def batch(df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        detect_batch(spark, ctx, df, batch_id, last)
        log.info("detect: batch %d in %.1fs", batch_id, time.monotonic() - started)

    writer = (
        events.writeStream.queryName("detect")
        .foreachBatch(batch)
        .option("checkpointLocation", f"{settings.paths.checkpoints.rstrip('/')}/detect")
    )
    return with_trigger(writer, settings).start()


def run_detect(
    spark: SparkSession, settings: Settings, campaigns: Sequence[Campaign]
) -> DetectSummary:
    """Run detection until the bronze events are done (availableNow) or until stopped."""
    ensure_tables(spark, settings)
    ctx = DetectContext.of(settings, campaigns)
    query = start_detect_query(spark, settings, ctx)
    run_to_end(query)
    return summarize(spark, settings)


def summarize(spark: SparkSession, settings: Settings) -> DetectSummary:
    """Counts over the detection tables."""
    progress = table(spark, settings, SILVER_DETECT_PROGRESS)
    agg = progress.agg(
        F.count("*").alias("b"),
        F.sum("events_applied").alias("e"),
        F.sum("late_events").alias("l"),
        F.max("watermark").alias("w"),
    ).first()
    assert agg is not None
    journeys = table(spark, settings, SILVER_JOURNEYS).groupBy("campaign_type").count().collect()
    messages = table(spark, settings, GOLD_STEP_ELIGIBILITY).groupBy("state").count().collect()
    return DetectSummary(
        batches=int(agg["b"] or 0),
        events_applied=int(agg["e"] or 0),
        late_events=int(agg["l"] or 0),
        watermark=agg["w"],
        journeys_by_type={r["campaign_type"]: int(r["count"]) for r in journeys},
        messages_by_state={r["state"]: int(r["count"]) for r in messages},
    )


# --- one micro-batch ----------------------------------------------------------------------------


def detect_batch(
    spark: SparkSession,
    ctx: DetectContext,
    new: DataFrame,
    batch_id: int,
    known: LastRow | None = None,
) -> None:
    """Apply one micro-batch of bronze events (see the module note).

    ``known``, when given, keeps the newest ``silver.detect_progress`` row across one run's
    micro-batches (updated in place; the run is the table's only writer): only the run's first
    micro-batch reads it.
    """
    settings = ctx.settings
    det = settings.detection
    known = known if known is not None else LastRow()
    progress = known.newest(spark, SILVER_DETECT_PROGRESS.location(settings))
    if progress is not None and progress["batch_id"] >= batch_id:
        log.info("detect: batch %d already applied", batch_id)
        return
    w_prev: datetime | None = progress["watermark"] if progress else None
    state_v = int(progress["state_version"]) if progress else 0
    buffer_v = int(progress["buffer_version"]) if progress else 0

    new = new.select(*EVENTS.fieldNames()).persist()
    try:
        # One query for the batch's size, its latest event and how many of its events are late
        # (behind the previous watermark: recorded, not applied).
        is_late = (
            F.col("event_time") < F.lit(w_prev).cast("timestamp")
            if w_prev is not None
            else F.lit(False)
        )
        stats = new.agg(
            F.count("*").alias("n"),
            F.min("event_time").alias("t0"),
            F.max("event_time").alias("t"),
            F.count_if(is_late).alias("late"),
        ).first()
        assert stats is not None
        lateness = timedelta(seconds=det.seconds("allowed_lateness"))
        candidates = [w for w in (w_prev, stats["t"] - lateness if stats["t"] else None) if w]
        w = max(candidates) if candidates else None
        if w is None:
            recorded = _record(
                spark,
                settings,
                batch_id,
                None,
                None,
                int(stats["n"]),
                0,
                0,
                0,
                0,
                state_v,
                buffer_v,
            )
            known.row = recorded
            return
        n_late = int(stats["late"])
        # Expired state rows are swept when the watermark enters a new UTC day since the previous
        # watermark, or, in the first batch, since its earliest event (_write_state).
        since = w_prev if w_prev is not None else stats["t0"]
        recorded = _apply(spark, ctx, new, batch_id, int(stats["n"]), n_late, w_prev, w, since,
                          state_v, buffer_v)  # fmt: skip
        known.row = recorded
    finally:
        new.unpersist()


def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _lit_ts(d: datetime) -> Any:
    return F.lit(_utc(d).replace(tzinfo=None)).cast("timestamp")


def _apply(
    spark: SparkSession,
    ctx: DetectContext,
    new: DataFrame,
    batch_id: int,
    n_new: int,
    n_late: int,
    w_prev: datetime | None,
    w: datetime,
    since: datetime,
    state_v: int,
    buffer_v: int,
) -> dict[str, Any]:
    """Apply the batch's events behind the watermark ``w``; the progress row it recorded."""
    settings = ctx.settings
    det = settings.detection
    # Spark hands timestamps to the driver in the session time zone (UTC): compare naive UTC.
    w_lit = F.lit(w).cast("timestamp")
    buffered = table(spark, settings, SILVER_DETECT_BUFFER, buffer_v)
    if w_prev is not None:
        is_late = F.col("event_time") < F.lit(w_prev).cast("timestamp")
        late = new.where(is_late)
        on_time = new.where(~is_late)
    else:
        late = new.where(F.lit(False))
        on_time = new
    pending = buffered.unionByName(on_time)
    # Not cached: its readers filter the cached batch (and the small buffer) again, which cost
    # less than building a second cache of the same events (docs/benchmarks.md, 2026-12-03).
    finalized = pending.where(F.col("event_time") < w_lit)
    remaining = pending.where(F.col("event_time") >= w_lit)

    state = _live(table(spark, settings, SILVER_DETECT_STATE, state_v), w_prev).persist()
    feeds, syncs = _feeds_and_syncs_to_apply(spark, settings, batch_id, w_prev, w)
    product_syncs, user_syncs, late_syncs = syncs.product, syncs.user, syncs.late

    parts: list[DataFrame] = []
    clock = state.where(F.col("key_kind") == "user").select("user_key", "last_event_at", "cuid")
    parts.append(
        I.event_inputs(
            finalized, clock, ctx.campaigns, ctx.plans, feeds, w, det.seconds("session_gap")
        )
    )
    if product_syncs:
        changes = table(spark, settings, SILVER_PRODUCT_CHANGES).where(
            F.col("sync_time").isin(*[_lit_ts(s) for s in product_syncs])
        )
        changed = changes.select("product_id").distinct()
        watchers = I.watchers(state, finalized, changed, ctx.plans)
        snaps = table(spark, settings, BRONZE_PRODUCT_SNAPSHOTS)
        p = I.product_change_inputs(changes, snaps, watchers, ctx.campaigns, ctx.plans)
        if p is not None:
            parts.append(p)
    if user_syncs:
        uchanges = table(spark, settings, SILVER_USER_ATTRIBUTE_CHANGES).where(
            F.col("sync_time").isin(*[_lit_ts(s) for s in user_syncs])
        )
        u = I.user_change_inputs(uchanges, feeds.users, ctx.campaigns, ctx.plans)
        if u is not None:
            parts.append(u)
    slots = _slots(ctx, feeds, w_prev, w)
    if slots:
        by_index = {p.index: c for c, p in zip(ctx.campaigns, ctx.plans, strict=True)}
        s = I.slot_inputs(spark, slots, feeds, by_index, w)
        if s is not None:
            parts.append(s)
    inputs = parts[0]
    for part in parts[1:]:
        inputs = inputs.unionByName(part)
    keys = inputs.select("key_kind", "user_key").distinct()
    state_rows = I.as_inputs(
        state.join(keys, ["key_kind", "user_key"], "left_semi"),
        "state",
        key_kind="key_kind",
        user_key="user_key",
        time=F.lit(-(2**62)),  # before every input of the key
        seq=F.lit(""),
        cuid="cuid",
        state="state",
    )
    all_inputs = inputs.unionByName(state_rows)
    n_parts = max(1, settings.spark.shuffle_partitions)
    ordered = all_inputs.repartition(n_parts, "key_kind", "user_key").sortWithinPartitions(
        "key_kind", "user_key", "time", "rank", "seq"
    )
    plans = ctx.plans
    slots_n = det.product_slots
    ttl = det.seconds("state_ttl") * 1_000_000

    def run(batches: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
        yield from run_partition(iter(batches), plans, slots_n, ttl)

    out = ordered.mapInArrow(run, OUTPUT_SCHEMA).persist()
    try:
        with _phase("inputs and machine"):
            # The machine's outputs by kind and the finalized events, counted in one query.
            n_finalized = finalized.agg(F.count("*").alias("count"))
            counted = (
                out.groupBy("out")
                .count()
                .unionByName(n_finalized.select(F.lit(_FINALIZED).alias("out"), "count"))
            )
            counts = {r["out"]: int(r["count"]) for r in counted.collect()}
            n_final = counts.pop(_FINALIZED)
        # Each write goes to its own table and reads only what this batch fixed before it (the
        # cached machine output, the state and buffer at their recorded versions): they run at
        # once, and the progress row, the batch's commit point, is appended after all of them.
        jobs = [
            ("messages", lambda: _write_messages(
                spark, settings, out.where(F.col("out") == "m"), feeds, w_prev, w)),
            ("journeys", lambda: _write_journeys(spark, settings, out.where(F.col("out") == "j"))),
            ("state", lambda: _write_state(
                spark, settings, finalized, out.where(F.col("out") == "s"), w_prev, w, since)),
            ("buffer", lambda: remaining.select(*EVENTS.fieldNames()).write.format("delta")
                .mode("overwrite").save(SILVER_DETECT_BUFFER.location(settings))),
            ("feed syncs", lambda: _record_syncs(spark, settings, batch_id, syncs)),
        ]  # fmt: skip
        if n_late:
            jobs.append(("late events", lambda: _write_late(spark, settings, late, w_prev)))
        with _phase("writes"):
            writes.write_concurrently("detect", jobs)
        return _record(
            spark,
            settings,
            batch_id,
            w,
            w_prev,
            n_new,
            n_final,
            n_late,
            counts.get("m", 0),
            counts.get("j", 0),
            latest_version(spark, settings, SILVER_DETECT_STATE),
            latest_version(spark, settings, SILVER_DETECT_BUFFER),
            feed_syncs=len(product_syncs) + len(user_syncs),
            late_feed_syncs=len(late_syncs),
            inputs=sum(counts.values()),
            state_rows=counts.get("s", 0),
        )
    finally:
        out.unpersist()
        state.unpersist()


@contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long one phase of a micro-batch took (``reconnect -v``)."""
    started = time.monotonic()
    yield
    log.info("detect:   %s %.1fs", name, time.monotonic() - started)


class SyncsToApply(NamedTuple):
    """The feed syncs a detection batch applies (see :func:`_feeds_and_syncs_to_apply`)."""

    product: list[datetime]
    user: list[datetime]
    late: list[datetime]
    rerun: bool  # whether an earlier attempt of this batch id recorded syncs already


def _feeds_and_syncs_to_apply(
    spark: SparkSession,
    settings: Settings,
    batch_id: int,
    w_prev: datetime | None,
    w: datetime,
) -> tuple[Feeds, SyncsToApply]:
    """The feeds (:func:`load_feeds`), and the syncs to apply, in one query.

    The product and user syncs are those diffed by ``reconnect feeds``, behind ``w``, not yet
    applied, in order; the late ones are those of them behind ``w_prev``.

    Syncs recorded by this very batch id were recorded by an attempt of it that stopped before
    its progress row (a crash, a kill): the re-run starts again from the state before that
    attempt, so it applies them again (the insert-only record keeps the first row).
    """
    recorded = table(spark, settings, SILVER_DETECT_FEED_SYNCS)
    done = recorded.where(F.col("batch_id") < batch_id).select("feed", "sync_time")
    todo = (
        table(spark, settings, SILVER_FEED_SYNC_PROGRESS)
        .where(F.col("sync_time") < F.lit(w).cast("timestamp"))
        .select("feed", "sync_time")
        .join(done, ["feed", "sync_time"], "left_anti")
    )
    here = recorded.where(F.col("batch_id") == batch_id).limit(1)
    todo = todo.unionByName(here.select(F.lit(_RERUN).alias("feed"), "sync_time"))
    feeds, rows = feeds_with(spark, settings, todo)
    applied = [r for r in rows if r["feed"] != _RERUN]
    return feeds, SyncsToApply(
        product=[r["sync_time"] for r in applied if r["feed"] == "product_feed"],
        user=[r["sync_time"] for r in applied if r["feed"] == "user_feed"],
        late=[r["sync_time"] for r in applied if w_prev is not None and r["sync_time"] < w_prev],
        rerun=len(applied) < len(rows),
    )


def _slots(
    ctx: DetectContext, feeds: Feeds, w_prev: datetime | None, w: datetime
) -> list[tuple[int, str, datetime]]:
    """Schedule slots in ``[w_prev, w)``; the first batch starts at the first user sync."""
    out: list[tuple[int, str, datetime]] = []
    if not feeds.user_syncs:
        return out
    start = w_prev if w_prev is not None else feeds.user_syncs[0]
    lo, hi = to_micros(_utc(start)), to_micros(_utc(w))
    for c, p in zip(ctx.campaigns, ctx.plans, strict=True):
        if not isinstance(c, ScheduledCampaign):
            continue
        zone = ZoneInfo(c.timezone)
        if c.trigger.at is not None:
            at = c.trigger.at if c.trigger.at.tzinfo else c.trigger.at.replace(tzinfo=zone)
            if lo <= to_micros(at) < hi:
                out.append((p.index, c.id, at.astimezone(UTC).replace(tzinfo=None)))
            continue
        for s in slots_between(lo, hi, p.weekdays, p.hour, zone):
            moment = datetime(1970, 1, 1) + timedelta(microseconds=s)
            out.append((p.index, c.id, moment))
    return out


# --- the machine in the workers -----------------------------------------------------------------


def _inputs_of(batch: pa.RecordBatch) -> Iterator[tuple[str, str, Any]]:
    cols = {name: batch.column(name).to_pylist() for name in batch.schema.names}
    kk, uk, kind = cols["key_kind"], cols["user_key"], cols["kind"]
    for i in range(batch.num_rows):
        if kind[i] == "state":
            yield kk[i], uk[i], (cols["state"][i], cols["cuid"][i])
            continue
        yield (
            kk[i],
            uk[i],
            Input(
                cols["time"][i],
                cols["seq"][i],
                kind[i],
                cols["event_type"][i],
                cols["product_id"][i],
                bool(cols["new_session"][i]),
                cols["cuid"][i],
                tuple(cols["items"][i] or ()),
                tuple(cols["triggers"][i] or ()),
                tuple(cols["exits"][i] or ()),
                cols["price"][i],
            ),
        )


def run_partition(
    batches: Iterator[pa.RecordBatch], plans: Sequence[CampaignPlan], slots: int, ttl: int
) -> Iterator[pa.RecordBatch]:
    """Run the machine over one partition of inputs sorted by key, then time (mapInArrow)."""
    machine = Machine(plans, slots)
    rows: list[tuple[Any, ...]] = []
    current: tuple[str, str] | None = None
    state_json: str | None = None
    cuid: str | None = None
    pending: list[Input] = []

    def flush() -> None:
        if current is None or not pending:
            return
        state = UserState.from_json(state_json)
        state.cuid = cuid
        messages, journeys, last = machine.run(current[0], current[1], state, pending)
        rows.extend(_message_out(m) for m in messages)
        rows.extend(_journey_out(j) for j in journeys)
        rows.append(_state_out(current, state, last, ttl, machine.max_window))

    for batch in batches:
        for kk, uk, item in _inputs_of(batch):
            if (kk, uk) != current:
                flush()
                current, state_json, cuid, pending = (kk, uk), None, None, []
            if isinstance(item, Input):
                pending.append(item)
            else:
                state_json, cuid = item
        if len(rows) >= 10_000:
            yield _to_arrow(rows)
            rows = []
    flush()
    if rows:
        yield _to_arrow(rows)


def _to_arrow(rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    schema = _arrow_schema()
    arrays = [pa.array(list(c), type=schema.field(i).type) for i, c in enumerate(columns)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _none_row() -> dict[str, Any]:
    return dict.fromkeys(_FIELDS)


def _products(ps: Sequence[tuple[str, Decimal | None, Decimal | None]]) -> list[dict[str, Any]]:
    return [{"product_id": p, "old_price": o, "drop_percent": d} for p, o, d in ps]


def _message_out(m: Any) -> tuple[Any, ...]:
    r = _none_row()
    r.update(
        out="m", key_kind=m.key_kind, user_key=m.user_key, cuid=m.cuid, message_id=m.message_id,
        journey_id=m.journey_id, campaign_id=m.campaign_id, campaign_type=m.campaign_type,
        variation_id=m.variation_id, is_control=m.control, step_number=m.step_number,
        step_name=m.step_name, trigger_time=m.trigger_time, trigger_id=m.trigger_id,
        due_at=m.due_at, state=m.state, reason=m.reason, decided_by=m.decided_by,
        decided_at=m.decided_at, products=_products(m.products),
    )  # fmt: skip
    return tuple(r[f] for f in _FIELDS)


def _journey_out(j: Any) -> tuple[Any, ...]:
    r = _none_row()
    r.update(
        out="j", key_kind=j.key_kind, user_key=j.user_key, cuid=j.cuid, journey_id=j.journey_id,
        campaign_id=j.campaign_id, campaign_type=j.campaign_type, variation_id=j.variation_id,
        is_control=j.control, steps=j.steps, trigger_time=j.trigger_time, trigger_id=j.trigger_id,
        first_due_at=j.first_due_at, last_due_at=j.last_due_at, state=j.state, reason=j.reason,
        decided_by=j.ended_by, decided_at=j.ended_at,
    )  # fmt: skip
    return tuple(r[f] for f in _FIELDS)


def _state_out(
    key: tuple[str, str], state: UserState, last: int, ttl: int, max_window: int
) -> tuple[Any, ...]:
    r = _none_row()
    r.update(
        out="s",
        key_kind=key[0],
        user_key=key[1],
        state_json=None if state.is_empty() else state.to_json(),
        watched=state.watched_products(),
        expires_at=state.expires_at(last, ttl, max_window),
    )
    return tuple(r[f] for f in _FIELDS)


# --- sinks --------------------------------------------------------------------------------------


def _ts(col: str) -> Any:
    return F.timestamp_micros(F.col(col))


def _who(out: DataFrame) -> list[Any]:
    return [
        "key_kind",
        "user_key",
        F.when(F.col("key_kind") == "user", F.col("user_key")).alias("user_id"),
        "cuid",
        _ts("trigger_time").alias("trigger_time"),
        "trigger_id",
    ]


def _write_messages(
    spark: SparkSession,
    settings: Settings,
    out: DataFrame,
    feeds: Feeds,
    w_prev: datetime | None,
    w: datetime,
) -> None:
    payload = F.transform(
        "products",
        lambda p, i: F.struct(
            (i + 1).alias("slot"),
            p["product_id"].alias("product_id"),
            F.lit(None).cast("string").alias("name"),
            F.lit(None).cast("string").alias("image_url"),
            F.lit(None).cast("string").alias("url"),
            F.lit(None).cast("decimal(18,4)").alias("price"),
            p["old_price"].alias("old_price"),
            p["drop_percent"].alias("drop_percent"),
        ),
    )
    rows = out.select(
        "message_id",
        "journey_id",
        "campaign_id",
        "campaign_type",
        "variation_id",
        "is_control",
        "step_number",
        "step_name",
        *_who(out),
        _ts("due_at").alias("due_at"),
        "state",
        "reason",
        "decided_by",
        _ts("decided_at").alias("decided_at"),
        payload.alias("payload"),
        F.lit(None).cast("timestamp").alias("payload_as_of"),
    )
    rows = _with_due_payloads(
        spark, settings, rows.select(*STEP_ELIGIBILITY.fieldNames()), feeds, w_prev, w
    )
    writes.merge_by_key(
        spark, GOLD_STEP_ELIGIBILITY, settings, rows, ("message_id",), update_matched=True
    )


def _write_journeys(spark: SparkSession, settings: Settings, out: DataFrame) -> None:
    rows = out.select(
        "journey_id",
        "campaign_id",
        "campaign_type",
        "variation_id",
        "is_control",
        *_who(out),
        "steps",
        _ts("first_due_at").alias("first_due_at"),
        _ts("last_due_at").alias("last_due_at"),
        "state",
        "reason",
        F.col("decided_by").alias("ended_by"),
        _ts("decided_at").alias("ended_at"),
    )
    writes.merge_by_key(
        spark, SILVER_JOURNEYS, settings, rows.select(*JOURNEYS.fieldNames()), ("journey_id",),
        update_matched=True,
    )  # fmt: skip


def _write_late(
    spark: SparkSession, settings: Settings, late: DataFrame, w_prev: datetime | None
) -> None:
    """Record the batch's late events (behind the previous watermark: not applied)."""
    writes.merge_by_key(
        spark,
        SILVER_LATE_EVENTS,
        settings,
        late.select(
            "event_id",
            "event_time",
            "user_id",
            "event_type",
            F.lit(w_prev).cast("timestamp").alias("watermark"),
        ),
        ("event_id",),
        update_matched=False,
    )


def _live(state: DataFrame, w_prev: datetime | None) -> DataFrame:
    """The rows of ``silver.detect_state`` not expired behind the previous watermark.

    A row whose ``expires_at`` is behind the watermark of the batch that wrote it is gone for
    every later batch: ignored here, replaced as new by the state MERGE, and deleted by the
    first batch whose watermark enters a new UTC day (:func:`_write_state`).
    """
    if w_prev is None:
        return state
    return state.where(F.col("expires_at") >= F.lit(w_prev).cast("timestamp"))


def _write_state(
    spark: SparkSession,
    settings: Settings,
    finalized: DataFrame,
    machine: DataFrame,
    w_prev: datetime | None,
    w: datetime,
    since: datetime | None = None,
) -> None:
    """MERGE the batch's clocks and machine states into ``silver.detect_state``; drop expired rows.

    Rows expired behind ``w_prev`` (see :func:`_live`) count as absent: a key of this batch
    that has one gets the values of a new row. The rows expired behind ``w`` are deleted when
    ``w`` is in a later UTC day than ``since`` (the previous watermark; in the first batch, its
    earliest event), not in every batch: on local Spark the delete is ~0.5 s of fixed cost and a
    commit a batch even when nothing has expired (state TTLs are days). The table then holds at
    most about a day of expired rows more than the live ones.
    """
    ttl = settings.detection.seconds("state_ttl")
    clock = (
        finalized.groupBy("user_id")
        .agg(
            F.max("event_time").alias("last_event_at"),
            F.max_by("cuid", F.when(F.col("cuid").isNotNull(), F.col("event_time"))).alias("cuid"),
        )
        .select(
            F.lit("user").alias("key_kind"),
            F.col("user_id").alias("user_key"),
            "last_event_at",
            "cuid",
        )
    )
    m = machine.select(
        "key_kind",
        "user_key",
        F.lit(True).alias("ran"),
        F.col("state_json").alias("state"),
        "watched",
        _ts("expires_at").alias("m_expires"),
    )
    src = clock.join(m, ["key_kind", "user_key"], "full_outer").select(
        "key_kind",
        "user_key",
        "cuid",
        "last_event_at",
        F.coalesce("ran", F.lit(False)).alias("ran"),
        "state",
        "watched",
        "m_expires",
        (F.col("last_event_at") + F.expr(f"INTERVAL {ttl} SECONDS")).alias("clock_expires"),
    )
    expires_new = F.greatest(F.col("s.m_expires"), F.col("s.clock_expires"))
    # A key the machine ran only for product-feed changes keeps its last event's TTL.
    expires_kept = F.greatest(
        expires_new, F.col("t.last_event_at") + F.expr(f"INTERVAL {ttl} SECONDS")
    )
    as_new: dict[str, str | Column] = {
        "cuid": F.col("s.cuid"),
        "last_event_at": F.col("s.last_event_at"),
        "state": F.col("s.state"),
        "watched": F.col("s.watched"),
        "expires_at": F.coalesce(expires_new, F.col("s.clock_expires"), F.col("s.m_expires")),
    }
    table = DeltaTable.forPath(spark, SILVER_DETECT_STATE.location(settings))
    merge = table.alias("t").merge(
        src.alias("s"), "t.key_kind = s.key_kind AND t.user_key = s.user_key"
    )
    if w_prev is not None:
        expired = F.col("t.expires_at") < F.lit(w_prev).cast("timestamp")
        merge = merge.whenMatchedUpdate(condition=expired, set=as_new)
    (
        merge.whenMatchedUpdate(
            set={
                "cuid": F.coalesce(F.col("s.cuid"), F.col("t.cuid")),
                "last_event_at": F.greatest(F.col("s.last_event_at"), F.col("t.last_event_at")),
                "state": F.when(F.col("s.ran"), F.col("s.state")).otherwise(F.col("t.state")),
                "watched": F.when(F.col("s.ran"), F.col("s.watched")).otherwise(F.col("t.watched")),
                "expires_at": F.when(F.col("s.ran"), expires_kept).otherwise(
                    F.greatest(F.col("t.expires_at"), F.col("s.clock_expires"))
                ),
            }
        )
        .whenNotMatchedInsert(
            values={"key_kind": F.col("s.key_kind"), "user_key": F.col("s.user_key"), **as_new}
        )
        .execute()
    )
    if since is not None and _utc(w).date() > _utc(since).date():
        table.delete(F.col("expires_at") < F.lit(w).cast("timestamp"))


def _with_due_payloads(
    spark: SparkSession,
    settings: Settings,
    changed: DataFrame,
    feeds: Feeds,
    w_prev: datetime | None,
    w: datetime,
) -> DataFrame:
    """Changed messages plus those that became due, the due ones settled (R-REL-2, R-SEND-3).

    A PENDING message whose due time is behind ``w`` gets its products' feed values as of its due
    time, and ``payload_as_of = due_at``. Messages stored earlier that became due without
    changing in this batch are read back and settled in the same MERGE.
    """
    w_lit = F.lit(w).cast("timestamp")
    waiting = table(spark, settings, GOLD_STEP_ELIGIBILITY).where(
        (F.col("state") == "PENDING") & F.col("payload_as_of").isNull() & (F.col("due_at") < w_lit)
    )
    if w_prev is not None:
        waiting = waiting.where(F.col("due_at") >= F.lit(w_prev).cast("timestamp"))
    rows = changed.unionByName(
        waiting.join(changed.select("message_id"), "message_id", "left_anti")
    )
    due = (F.col("state") == "PENDING") & (F.col("due_at") < w_lit)
    slots = (
        rows.where(due & (F.size("payload") > 0))
        .select("message_id", "due_at", F.explode("payload").alias("p"))
        .select("message_id", "due_at", "p.slot", "p.product_id", "p.old_price", "p.drop_percent")
    )
    slots = with_sync(slots, "due_at", feeds.product_syncs, w)
    snap = feeds.products.select(
        F.col("sync_time").alias("as_of_sync"),
        "product_id",
        "name",
        "image_url",
        "url",
        "price",
    )
    filled = (
        slots.join(snap, ["as_of_sync", "product_id"], "left")
        .groupBy("message_id")
        .agg(
            F.array_sort(
                F.collect_list(
                    F.struct(
                        "slot",
                        "product_id",
                        "name",
                        "image_url",
                        "url",
                        "price",
                        "old_price",
                        "drop_percent",
                    )
                )
            ).alias("filled")
        )
    )
    return (
        rows.join(filled, "message_id", "left")
        .withColumn("payload", F.coalesce("filled", "payload"))
        .withColumn("payload_as_of", F.when(due, F.col("due_at")))
        .select(*STEP_ELIGIBILITY.fieldNames())
    )


def _record_syncs(
    spark: SparkSession, settings: Settings, batch_id: int, syncs: SyncsToApply
) -> None:
    """Record the syncs this batch applied in ``silver.detect_feed_syncs``.

    An append, unless an earlier attempt of this batch id recorded syncs (then an insert-only
    MERGE keeps its rows): no other batch id can have recorded these syncs (they would not be
    applied again), and the append is ~0.6 s less than a MERGE on local Spark.
    """
    rows = [("product_feed", s, batch_id, s in syncs.late) for s in syncs.product] + [
        ("user_feed", s, batch_id, s in syncs.late) for s in syncs.user
    ]
    if not rows:
        return
    df = spark.createDataFrame(rows, DETECT_FEED_SYNCS)
    if syncs.rerun:
        writes.merge_by_key(
            spark, SILVER_DETECT_FEED_SYNCS, settings, df, ("feed", "sync_time"), False
        )
    else:
        df.write.format("delta").mode("append").save(SILVER_DETECT_FEED_SYNCS.location(settings))


def _record(
    spark: SparkSession,
    settings: Settings,
    batch_id: int,
    w: datetime | None,
    w_prev: datetime | None,
    n_read: int,
    n_applied: int,
    n_late: int,
    n_messages: int,
    n_journeys: int,
    state_version: int,
    buffer_version: int,
    feed_syncs: int = 0,
    late_feed_syncs: int = 0,
    inputs: int = 0,
    state_rows: int = 0,
) -> dict[str, Any]:
    """Append the batch's progress row; the row, as :func:`detect_batch` reads it back."""
    row = (
        batch_id, w, w_prev, n_read, n_applied, n_late, feed_syncs, late_feed_syncs, inputs,
        n_messages, n_journeys, state_rows, state_version, buffer_version,
    )  # fmt: skip
    # An append, the batch's last write: detect_batch only reaches here for a batch id not yet
    # recorded (a one-row MERGE would read the table first, ~0.5 s more a batch).
    df = spark.createDataFrame([row], DETECT_PROGRESS)
    df.write.format("delta").mode("append").save(SILVER_DETECT_PROGRESS.location(settings))
    return dict(zip(DETECT_PROGRESS.fieldNames(), row, strict=True))
