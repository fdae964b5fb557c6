"""Every write to the sending tables: the outbox MERGE, the progress rows, the attempts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from reconnect.lake import writes
from reconnect.lake.schemas import DELIVERY_PROGRESS, SEND_PROGRESS
from reconnect.lake.tables import (
    GOLD_DELIVERIES,
    GOLD_LATE_CANCELS,
    GOLD_MESSAGES,
    SILVER_DELIVERY_PROGRESS,
    SILVER_SEND_PROGRESS,
)
from reconnect.send.settle import naive
from reconnect.settings import Settings


def merge_messages(
    spark: SparkSession, settings: Settings, out: DataFrame, h: datetime | None, w: datetime
) -> None:
    """Insert-only MERGE on message_id (the outbox), pruned to the batch's due-time range.

    A message's due time is at most a day before its send time (quiet hours), so the batch's
    messages have ``due_at`` in ``[h - 1 day, w)``.
    """
    cond = "t.message_id = s.message_id"
    cond += f" AND t.due_at < TIMESTAMP '{naive(w):%Y-%m-%d %H:%M:%S.%f}'"
    if h is not None:
        lo = h - timedelta(days=1)
        cond += f" AND t.due_at >= TIMESTAMP '{naive(lo):%Y-%m-%d %H:%M:%S.%f}'"
    (
        DeltaTable.forPath(spark, GOLD_MESSAGES.location(settings))
        .alias("t")
        .merge(out.alias("s"), cond)
        .whenNotMatchedInsertAll()
        .execute()
    )


def merge_late_cancels(spark: SparkSession, settings: Settings, rows: DataFrame) -> None:
    """Insert-only MERGE of gold.late_cancels rows on (event, message)."""
    writes.merge_by_key(spark, GOLD_LATE_CANCELS, settings, rows, ("event_id", "message_id"), False)


def record_batch(
    spark: SparkSession,
    settings: Settings,
    batch_id: int,
    w: datetime | None,
    h: datetime | None,
    counts: Mapping[str, int],
) -> None:
    """Append the batch's silver.send_progress row (its batch id is not yet recorded)."""
    row = (
        batch_id, w, h, counts.get("messages", 0), counts.get("SENT", 0),
        counts.get("SUPPRESSED", 0), counts.get("CANCELLED", 0), counts.get("SUPERSEDED", 0),
        counts.get("late_cancels", 0),
    )  # fmt: skip
    writes.append(settings, SILVER_SEND_PROGRESS, spark.createDataFrame([row], SEND_PROGRESS))


def append_attempts(settings: Settings, deliveries: DataFrame) -> None:
    """Append delivery attempts (gold.deliveries rows)."""
    writes.append(settings, GOLD_DELIVERIES, deliveries)


def mark_delivered(
    spark: SparkSession, settings: Settings, batch_id: int, delivered: int, failed: int
) -> None:
    """Append the silver.delivery_progress row of a batch whose messages are all final."""
    df = spark.createDataFrame([(batch_id, delivered, failed)], DELIVERY_PROGRESS)
    writes.append(settings, SILVER_DELIVERY_PROGRESS, df)
