"""Every write of attribution: engagement, its quarantine, the credited purchases, progress."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession

from reconnect.lake import writes
from reconnect.lake.tables import (
    GOLD_ATTRIBUTED_PURCHASES,
    GOLD_MESSAGE_ENGAGEMENT,
    SILVER_ATTRIBUTE_PROGRESS,
    SILVER_ENGAGEMENT_QUARANTINE,
)
from reconnect.settings import Settings


def write_engagement(spark: SparkSession, settings: Settings, accepted: DataFrame) -> None:
    """Insert-only MERGE on event_id: a replayed batch adds nothing."""
    writes.merge_by_key(spark, GOLD_MESSAGE_ENGAGEMENT, settings, accepted, ["event_id"], False)


def write_quarantine(spark: SparkSession, settings: Settings, rejected: DataFrame) -> None:
    """Insert-only MERGE on event_id."""
    writes.merge_by_key(
        spark, SILVER_ENGAGEMENT_QUARANTINE, settings, rejected, ["event_id"], False
    )


def replace_credit(
    spark: SparkSession, settings: Settings, rows: DataFrame, rescored: DataFrame
) -> None:
    """The credited rows of the ``rescored`` purchases become exactly ``rows`` (one commit)."""
    writes.replace_groups(
        spark,
        GOLD_ATTRIBUTED_PURCHASES,
        settings,
        rows,
        rescored,
        ["purchase_event_id"],
        ["attribution", "purchase_event_id", "campaign_id"],
    )


def record_progress(
    spark: SparkSession, settings: Settings, batch_id: int, counts: Mapping[str, int]
) -> None:
    """The batch's progress row, last: insert-only on batch_id."""
    row = {"batch_id": batch_id, **counts}
    df = spark.createDataFrame([row], SILVER_ATTRIBUTE_PROGRESS.schema)
    writes.merge_by_key(spark, SILVER_ATTRIBUTE_PROGRESS, settings, df, ["batch_id"], False)
