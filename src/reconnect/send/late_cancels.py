"""Late events that would have cancelled a message already sent (R-EXIT-3), as a DataFrame.

Pure: :func:`late_cancel_rows` matches the late events against the SENT messages; the
pipeline writes the rows to gold.late_cancels (docs/sending.md, "Late cancels").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reconnect.campaigns import Campaign, exit_flag
from reconnect.vocabulary import SENT

# "Don't send if" rules a late event can meet on its own (it has no session context).
_EVENT_OF_RULE = {
    "purchase": "purchase",
    "purchase_of_product": "purchase",
    "purchase_in_watch_window": "purchase",
    "add_to_cart": "add_to_cart",
}


def exit_matches(campaign: Campaign) -> Column | None:
    """The plain-event part of a campaign's "don't send if" (late events have no session)."""
    et = F.col("event_type")
    parts: list[Column] = [
        et == _EVENT_OF_RULE[rule]
        for rule in campaign.dont_send_if
        if isinstance(rule, str) and rule in _EVENT_OF_RULE
    ]
    flag = exit_flag(campaign)
    if flag is not None:
        parts.append(flag)
    return reduce(lambda a, b: a | b, parts) if parts else None


def late_cancel_rows(
    late_events: DataFrame, messages: DataFrame, campaigns: Sequence[Campaign]
) -> DataFrame | None:
    """gold.late_cancels rows: each late event (bronze rows) and a SENT message it would cancel.

    A match is the same campaign and user with ``trigger_time < event_time <= due_at``. None
    when no campaign has a condition a late event can meet.
    """
    flags = [(c.id, f) for c in campaigns if (f := exit_matches(c)) is not None]
    if not flags:
        return None
    matched = late_events.select(
        "event_id",
        "event_time",
        "event_type",
        "user_id",
        F.explode(F.array_compact(F.array(*[F.when(f, F.lit(cid)) for cid, f in flags]))).alias(
            "campaign_id"
        ),
    )
    sent = messages.where(F.col("state") == SENT)
    return matched.join(
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
