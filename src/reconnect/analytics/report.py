"""What the HTML report shows, gathered from the marts (pure: DataFrames in, plain values out)."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reconnect.analytics.html import ReportData


def gather(
    performance: DataFrame, messages: DataFrame, winners: DataFrame, lakehouse: str, now: datetime
) -> ReportData:
    """The report's data, built at ``now``.

    ``rpt_campaign_performance`` rows, ``fct_messages`` counted by day, state and reason, and
    ``rpt_variation_winners`` rows.
    """
    daily = (
        messages.groupBy(F.date_format("send_at", "yyyy-MM-dd").alias("day"), "state", "reason")
        .agg(F.count("*").alias("messages"))
        .orderBy("day", "state", "reason")
    )
    order = ["campaign_id", "variation_id", "step_number"]
    return ReportData(
        generated_at=now,
        lakehouse=lakehouse,
        performance=[r.asDict() for r in performance.orderBy(*order).collect()],
        daily=[r.asDict() for r in daily.collect()],
        winners=[r.asDict() for r in winners.orderBy("campaign_id", "variation_id").collect()],
    )
