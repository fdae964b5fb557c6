"""Opens and clicks checked against the messages they name (pure: DataFrames in and out).

An open or click is accepted when its ``message_id`` names a SENT message and the event is the
recipient's: the same ``user_id`` as the message, or the same ``cuid`` (an e-mail opened on
another device carries the person's cuid). Anything else is quarantined with a reason and never
attributed.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reconnect.lake.schemas import ENGAGEMENT_QUARANTINE, MESSAGE_ENGAGEMENT
from reconnect.vocabulary import (
    ENGAGEMENT_EVENT_TYPES,
    NOT_THE_RECIPIENT,
    SENT,
    UNKNOWN_MESSAGE,
)


def engagement_events(events: DataFrame) -> DataFrame:
    """The opens and clicks among bronze events."""
    return events.where(F.col("event_type").isin(*ENGAGEMENT_EVENT_TYPES))


def check(engagement: DataFrame, messages: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(accepted, quarantined)`` for the opens and clicks ``engagement`` (bronze rows).

    Rows of ``gold.message_engagement`` and of ``silver.engagement_quarantine``.
    """
    sent = messages.where(F.col("state") == SENT).select(
        "message_id",
        "campaign_id",
        "variation_id",
        "is_control",
        "step_number",
        "step_name",
        "channel",
        "send_at",
        F.col("user_id").alias("m_user_id"),
        F.col("cuid").alias("m_cuid"),
    )
    events = engagement.select("event_id", "event_time", "event_type", "message_id", "user_id",
                               "cuid", "source_file", "source_line")  # fmt: skip
    joined = events.join(sent, "message_id", "left")
    recipient = (F.col("user_id") == F.col("m_user_id")) | (
        F.col("cuid").isNotNull() & (F.col("cuid") == F.col("m_cuid"))
    )
    known = F.col("send_at").isNotNull()
    accepted = joined.where(known & recipient).select(
        *(
            F.coalesce("cuid", "m_cuid").alias("cuid") if f.name == "cuid" else F.col(f.name)
            for f in MESSAGE_ENGAGEMENT.fields
        )
    )
    rejected = joined.where(~known | ~F.coalesce(recipient, F.lit(False)))
    reason = F.when(~known, F.lit(UNKNOWN_MESSAGE)).otherwise(F.lit(NOT_THE_RECIPIENT))
    quarantined = rejected.select(
        *(_quarantine_column(f.name, reason) for f in ENGAGEMENT_QUARANTINE.fields)
    )
    return accepted, quarantined


def _quarantine_column(name: str, reason: Column) -> Column:
    if name == "reason":
        return reason.alias("reason")
    if name == "detail":
        return (
            F.when(
                reason == UNKNOWN_MESSAGE,
                F.format_string("message_id %s: no SENT message has this id", "message_id"),
            )
            .otherwise(
                F.format_string(
                    "message_id %s was sent to user_id %s, not to this event's user_id %s",
                    "message_id",
                    "m_user_id",
                    "user_id",
                )
            )
            .alias("detail")
        )
    return F.col(name)
