"""What one sender batch settles, as DataFrames (docs/sending.md, "How a batch works").

Pure: every function takes DataFrames (the tables as the pipeline read them) and plain values
(the horizon ``h`` the previous batch reached, the watermark ``w``) and returns DataFrames.

- :func:`due` the messages whose send time lies in ``[h, w)``, with the user's attributes at
  their due time, the send time (R-QUIET-1), the person and the audience check (R-TRIG-5);
- :func:`early_verdict` checks 1-4 and paused campaigns as a Column, before any join;
- :func:`preempted` and :func:`history` two of the per-person pass's inputs (R-PRIO-2, the
  sends that still count in a cap window);
- :func:`outcome` the rows of ``gold.messages`` from the early verdicts and the pass's output.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.campaigns import audience
from reconnect.lake.feed_state import Feeds, with_user_attributes
from reconnect.lake.schemas import MESSAGES
from reconnect.send import consent as C
from reconnect.send.context import SendContext
from reconnect.send.decide import NEVER_PREEMPTED, NOT_COMPETING, history_reach, send_time, zone
from reconnect.vocabulary import CANCELLED, SENT, SUPERSEDED, SUPPRESSED

TS_FIELDS = ("trigger_time", "due_at", "send_at", "deferred_from")
# The message columns the per-person pass reads from the wide rows.
KEYS = ("message_id", "person_key", "journey_id", "campaign_id", "send_at", "cuid", "user_id")


def naive(d: datetime) -> datetime:
    """``d`` as a naive UTC datetime (how Spark's session-UTC timestamps compare)."""
    return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d


def lit_ts(d: datetime) -> Column:
    """``d`` as a timestamp literal."""
    return F.lit(naive(d)).cast("timestamp")


def in_range(column: str, lo: datetime | None, hi: datetime) -> Column:
    """``lo <= column < hi`` (no lower bound when ``lo`` is None)."""
    cond = F.col(column) < lit_ts(hi)
    return cond if lo is None else cond & (F.col(column) >= lit_ts(lo))


def due(
    eligible: DataFrame, feeds: Feeds, ctx: SendContext, h: datetime | None, w: datetime
) -> DataFrame:
    """Step eligibility whose send time lies in ``[h, w)``, ready for the checks.

    ``eligible`` is gold.step_eligibility, ``feeds`` the loaded feed state. A message deferred
    by quiet hours is due up to a day before its send time, so the due-time filter reaches back
    by a day when quiet hours are set.
    """
    reach = timedelta(days=1) if ctx.settings.sender.quiet_hours else timedelta(0)
    cand = eligible.where(in_range("due_at", h - reach if h is not None else None, w))
    cand = with_user_attributes(
        cand.withColumn("as_of_sync", F.lit(None).cast("timestamp")),
        "cuid",
        "due_at",
        feeds,
        w,
    ).drop("as_of_sync")
    return (
        with_send_at(cand, ctx)
        .where(in_range("send_at", h, w))
        .withColumn("person_key", C.person_key(F.col("cuid"), F.col("user_id")))
        .withColumn("audience_ok", audience_ok(ctx))
        .withColumn("verdict", early_verdict(ctx))
    )


def with_send_at(cand: DataFrame, ctx: SendContext) -> DataFrame:
    """``send_at`` and ``deferred_from`` (R-QUIET-1, on the campaign's first channel)."""
    sender = ctx.settings.sender
    if not sender.quiet_hours:
        return cand.withColumn("send_at", F.col("due_at")).withColumn(
            "deferred_from", F.lit(None).cast("timestamp")
        )
    primary = {k: r.channels[0] for k, r in ctx.rules.items()}
    tzs = {k: r.timezone for k, r in ctx.rules.items()}

    @F.udf(returnType=T.TimestampType(), useArrow=True)
    def deferred(due_at: datetime, campaign_id: str, tz: str | None) -> datetime:
        due_utc = due_at.replace(tzinfo=UTC) if due_at.tzinfo is None else due_at
        at = send_time(
            due_utc, primary.get(campaign_id), zone(tz, tzs.get(campaign_id, "UTC")), sender
        )
        return at.astimezone(UTC).replace(tzinfo=None)

    tz = F.try_element_at(F.col("user_attributes"), F.lit("timezone"))
    cand = cand.withColumn("send_at", deferred(F.col("due_at"), F.col("campaign_id"), tz))
    return cand.withColumn(
        "deferred_from", F.when(F.col("send_at") != F.col("due_at"), F.col("due_at"))
    )


def audience_ok(ctx: SendContext) -> Column:
    """R-TRIG-5 re-checked at send time: the campaign's audience over the user's attributes."""
    with_audience = [c for c in ctx.campaigns if c.audience is not None]
    if not with_audience:
        return F.lit(True)
    expr = F.when(F.lit(False), F.lit(True))
    for c in with_audience:
        expr = expr.when(F.col("campaign_id") == c.id, F.coalesce(audience(c), F.lit(False)))
    return expr.otherwise(F.lit(True))


def _verdict(state: str | Column, reason: str) -> Column:
    given = state if isinstance(state, Column) else F.lit(state)
    return F.struct(given.alias("state"), F.lit(reason).alias("reason"))


def early_verdict(ctx: SendContext) -> Column:
    """Checks 1-3 of :func:`decide.decide`, and paused or removed campaigns, as a Column.

    ``(state, reason)`` for a message these checks settle, else null. They do not depend on
    the person's other messages, so they are decided before any join.
    """
    state, reason, campaign = F.col("state"), F.col("reason"), F.col("campaign_id")
    active = sorted(ctx.active())
    product = sorted(ctx.carrying_products())
    is_active = campaign.isin(*active) if active else F.lit(False)
    is_product = campaign.isin(*product) if product else F.lit(False)
    kept = F.struct(state.alias("state"), reason.alias("reason"))
    return (
        F.when(
            (state == CANCELLED) & (reason == "CANCELLED_BY_PRIORITY"),
            _verdict(SUPPRESSED, "CANCELLED_BY_PRIORITY"),
        )
        .when(state.isin(CANCELLED, SUPERSEDED), kept)
        .when(~is_active, _verdict(SUPPRESSED, "CAMPAIGN_INACTIVE"))
        .when(~F.coalesce("audience_ok", F.lit(False)), _verdict(SUPPRESSED, "AUDIENCE_EXIT"))
        .when(
            is_product & F.coalesce(F.size("payload") <= 0, F.lit(True)),
            _verdict(SUPPRESSED, "EMPTY_PAYLOAD"),
        )
    )


def preempted(
    journeys: DataFrame, keys: DataFrame, ctx: SendContext, h: datetime | None, w: datetime
) -> DataFrame:
    """``(message_id, person_key)`` of the messages preempted at their send time (R-PRIO-2).

    Preempted means the person has an active journey of a higher-priority campaign;
    ``journeys`` is silver.journeys, ``keys`` the open messages' :data:`KEYS`.
    """
    ranks = keys.sparkSession.createDataFrame(
        [(k, r.rank, ctx.classes[k]) for k, r in ctx.rules.items()],
        "campaign_id string, rank int, pclass string",
    )
    active = (
        journeys.where(F.col("trigger_time") < lit_ts(w))
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
        active = active.where(F.col("last_due_at") >= lit_ts(h - timedelta(days=1)))
    m = (
        keys.select("message_id", "person_key", "journey_id", "campaign_id", "send_at")
        .join(F.broadcast(ranks), "campaign_id")
        .where(F.col("pclass") != NEVER_PREEMPTED)
    )
    t = F.col("send_at")
    return (
        m.join(active, "person_key")
        .where(
            (F.col("j_rank") < F.col("rank"))
            & (F.col("j_id") != F.col("journey_id"))
            & ~((F.col("pclass") == NOT_COMPETING) & (F.col("j_class") == NOT_COMPETING))
            & (F.col("trigger_time") <= t)
            & (F.col("last_due_at") >= t)
            & (F.col("ended_at").isNull() | (F.col("ended_at") > t))
        )
        .select("message_id", "person_key")
        .distinct()
    )


def history(
    messages: DataFrame, keys: DataFrame, ctx: SendContext, h: datetime | None
) -> DataFrame:
    """The persons' sends before ``h`` that still count in a cap window (``messages``: gold)."""
    sent = messages.where(F.col("state") == SENT)
    if h is None:
        sent = sent.where(F.lit(False))  # the first batch: no earlier sends
    else:
        since = h - history_reach(ctx.rules.values(), ctx.settings.sender)
        sent = sent.where(in_range("send_at", since, h))
    return sent.join(keys.select("person_key").distinct(), "person_key", "left_semi").select(
        "person_key", "campaign_id", "channel", "send_at"
    )


def outcome(early: DataFrame, passed: DataFrame) -> DataFrame:
    """gold.messages rows: the early verdicts' messages, then the pass's (send times in micros)."""
    settled = early.select(
        *[
            F.col(f"verdict.{f.name}").alias(f.name)
            if f.name in ("state", "reason")
            else F.lit(None).cast(f.dataType).alias(f.name)
            if f.name in ("channel", "address", "payload")
            else F.col(f.name)
            for f in MESSAGES.fields
        ]
    )
    decided = passed.select(
        *[
            F.timestamp_micros(F.col(f.name)).alias(f.name)
            if f.name in TS_FIELDS
            else F.col(f.name)
            for f in MESSAGES.fields
        ]
    )
    return settled.unionByName(decided)
