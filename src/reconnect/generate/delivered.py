"""The messages the providers received, by send batch (pure: DataFrames in and out)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reconnect.vocabulary import DELIVERED, SENT

DELIVERED_COLUMNS = ("message_id", "campaign_id", "variation_id", "channel", "user_id", "cuid",
                     "send_us", "payload")  # fmt: skip


def delivered(messages: DataFrame, deliveries: DataFrame) -> DataFrame:
    """SENT messages of ``gold.messages`` with a DELIVERED attempt, with their ``send_batch``.

    ``send_us``: the send time in microseconds since the epoch (a Python ``datetime`` collected
    from Spark would be in the driver's local time zone).
    """
    handed = (
        deliveries.where(F.col("status") == DELIVERED)
        .groupBy("message_id")
        .agg(F.min("send_batch").alias("send_batch"))
    )
    return (
        messages.where(F.col("state") == SENT)
        .join(handed, "message_id")
        .withColumn("send_us", F.unix_micros("send_at"))
        .select("send_batch", *DELIVERED_COLUMNS)
    )
