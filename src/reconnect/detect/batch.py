"""One micro-batch's plain steps: its watermark, the feed syncs and slots it applies, its inputs.

Pure: DataFrames and plain values in and out, the watermark an argument; the pipeline
(:mod:`reconnect.detect.pipeline`) reads the tables and hands them here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.campaigns import ScheduledCampaign
from reconnect.detect import inputs as I
from reconnect.detect.context import DetectContext
from reconnect.detect.schedule import slots_between
from reconnect.lake.feed_state import Feeds
from reconnect.micros import to_micros

RERUN = "recorded by this batch id"  # the tag of a row of pending_syncs (never a feed's name)
STATE_FIRST = -(2**62)  # the time of a key's stored state: before every input of the key


@dataclass(frozen=True)
class BatchWindow:
    """Where one micro-batch stands: its id, watermarks and the versions it reads.

    ``w_prev``: the previous batch's watermark (None in the first batch); ``w``: this batch's.
    ``since``: the day the state sweep counts from (``w_prev``, or the batch's earliest event in
    the first batch). ``read`` / ``late``: events read, and of them those behind ``w_prev``.
    ``state_version`` / ``buffer_version``: the versions of the state and the buffer the
    previous batch recorded.
    """

    batch_id: int
    w_prev: datetime | None
    w: datetime
    since: datetime
    read: int
    late: int
    state_version: int
    buffer_version: int


@dataclass(frozen=True)
class SyncsToApply:
    """The feed syncs a batch applies (:func:`syncs_to_apply`)."""

    product: list[datetime]
    user: list[datetime]
    late: list[datetime]
    rerun: bool  # whether an earlier attempt of this batch id recorded syncs already


def utc(d: datetime) -> datetime:
    """``d`` as an aware UTC datetime (Spark hands naive UTC timestamps to the driver)."""
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def ts_lit(d: datetime) -> Column:
    """A timestamp literal of ``d`` (naive datetimes are UTC)."""
    return F.lit(utc(d).replace(tzinfo=None)).cast("timestamp")


def next_watermark(
    w_prev: datetime | None, latest: datetime | None, lateness: timedelta
) -> datetime | None:
    """``max(w_prev, latest event time - allowed lateness)`` (R-EXIT-2); None before any event."""
    candidates = [w for w in (w_prev, latest - lateness if latest else None) if w]
    return max(candidates) if candidates else None


def is_late(w_prev: datetime | None) -> Column:
    """True for an event already behind the previous watermark: recorded, never applied."""
    if w_prev is None:
        return F.lit(False)
    return F.col("event_time") < F.lit(w_prev).cast("timestamp")


def live(state: DataFrame, w_prev: datetime | None) -> DataFrame:
    """The rows of ``silver.detect_state`` not expired behind the previous watermark.

    A row whose ``expires_at`` is behind the watermark of the batch that wrote it is gone for
    every later batch: ignored here, replaced as new by the state MERGE, and deleted by the
    first batch whose watermark enters a new UTC day (:func:`reconnect.detect.sinks.write_state`).
    """
    if w_prev is None:
        return state
    return state.where(F.col("expires_at") >= F.lit(w_prev).cast("timestamp"))


def pending_syncs(recorded: DataFrame, diffed: DataFrame, batch_id: int, w: datetime) -> DataFrame:
    """The feed syncs behind ``w`` not applied by an earlier batch, and a :data:`RERUN` mark.

    ``recorded``: silver.detect_feed_syncs; ``diffed``: silver.feed_sync_progress (what
    ``reconnect feeds`` diffed). Syncs recorded by this very batch id were recorded by an attempt
    of it that stopped before its progress row (a crash, a kill): the re-run starts again from
    the state before that attempt, so it applies them again; one row tagged :data:`RERUN` says
    so (the insert-only record then keeps the first row).
    """
    done = recorded.where(F.col("batch_id") < batch_id).select("feed", "sync_time")
    todo = (
        diffed.where(F.col("sync_time") < F.lit(w).cast("timestamp"))
        .select("feed", "sync_time")
        .join(done, ["feed", "sync_time"], "left_anti")
    )
    here = recorded.where(F.col("batch_id") == batch_id).limit(1)
    return todo.unionByName(here.select(F.lit(RERUN).alias("feed"), "sync_time"))


def syncs_to_apply(rows: Sequence[Mapping[str, Any]], w_prev: datetime | None) -> SyncsToApply:
    """The product and user syncs of :func:`pending_syncs` rows, in order; late: behind w_prev."""
    applied = [r for r in rows if r["feed"] != RERUN]
    return SyncsToApply(
        product=[r["sync_time"] for r in applied if r["feed"] == "product_feed"],
        user=[r["sync_time"] for r in applied if r["feed"] == "user_feed"],
        late=[r["sync_time"] for r in applied if w_prev is not None and r["sync_time"] < w_prev],
        rerun=len(applied) < len(rows),
    )


def schedule_slots(
    ctx: DetectContext, feeds: Feeds, w_prev: datetime | None, w: datetime
) -> list[tuple[int, str, datetime]]:
    """Schedule slots in ``[w_prev, w)`` as (plan index, campaign id, naive UTC time).

    The first batch starts at the first user sync; no user sync, no slot (R-TYPE-SCHED).
    """
    out: list[tuple[int, str, datetime]] = []
    if not feeds.user_syncs:
        return out
    start = w_prev if w_prev is not None else feeds.user_syncs[0]
    lo, hi = to_micros(utc(start)), to_micros(utc(w))
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


@dataclass(frozen=True)
class BatchInputs:
    """What a batch's machine inputs are built from (read by the pipeline).

    ``finalized``: the events behind the watermark; ``state``: the live detection state;
    ``product_changes`` / ``user_changes``: the change rows of the syncs to apply (None when
    there are none); ``slots``: from :func:`schedule_slots`.
    """

    finalized: DataFrame
    state: DataFrame
    feeds: Feeds
    product_changes: DataFrame | None
    user_changes: DataFrame | None
    slots: list[tuple[int, str, datetime]]


def machine_inputs(
    spark: SparkSession, ctx: DetectContext, src: BatchInputs, w: datetime
) -> DataFrame:
    """Every machine input of the batch, plus the stored state of each key that has one."""
    det = ctx.settings.detection
    clock = src.state.where(F.col("key_kind") == "user").select("user_key", "last_event_at", "cuid")
    parts: list[DataFrame | None] = [
        I.event_inputs(
            src.finalized, clock, ctx.campaigns, ctx.plans, src.feeds, w,
            det.seconds("session_gap"),
        )
    ]  # fmt: skip
    if src.product_changes is not None:
        changed = src.product_changes.select("product_id").distinct()
        watchers = I.watchers(src.state, src.finalized, changed, ctx.plans)
        parts.append(
            I.product_change_inputs(
                src.product_changes, src.feeds.products, watchers, ctx.campaigns, ctx.plans
            )
        )
    if src.user_changes is not None:
        parts.append(I.user_change_inputs(src.user_changes, src.feeds.users, ctx.campaigns,
                                          ctx.plans))  # fmt: skip
    if src.slots:
        by_index = {p.index: c for c, p in zip(ctx.campaigns, ctx.plans, strict=True)}
        parts.append(I.slot_inputs(spark, src.slots, src.feeds, by_index, w))
    inputs = reduce(DataFrame.unionByName, [p for p in parts if p is not None])
    keys = inputs.select("key_kind", "user_key").distinct()
    stored = I.as_inputs(
        src.state.join(keys, ["key_kind", "user_key"], "left_semi"),
        "state",
        key_kind="key_kind",
        user_key="user_key",
        time=F.lit(STATE_FIRST),
        seq=F.lit(""),
        cuid="cuid",
        state="state",
    )
    return inputs.unionByName(stored)


def at_syncs(changes: DataFrame, syncs: Sequence[datetime]) -> DataFrame:
    """The change rows of the given syncs."""
    return changes.where(F.col("sync_time").isin(*[ts_lit(s) for s in syncs]))
