"""Every write of the analytics stage: the campaign catalog tables (one overwrite each)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from reconnect.analytics.catalog import catalog_rows
from reconnect.campaigns import Campaign
from reconnect.lake import writes
from reconnect.lake.tables import GOLD_CAMPAIGN_STEPS, GOLD_CAMPAIGN_VARIATIONS, GOLD_CAMPAIGNS
from reconnect.settings import Settings


def write_catalog(spark: SparkSession, settings: Settings, campaigns: list[Campaign]) -> None:
    """Replace the content of the three catalog tables with ``campaigns`` (today's files).

    Each table is overwritten in one commit: it describes the configuration now, not its
    history (a removed campaign's messages keep their ids; the dbt dims mark it unconfigured).
    """
    rows = catalog_rows(campaigns)
    for table, data in (
        (GOLD_CAMPAIGNS, rows.campaigns),
        (GOLD_CAMPAIGN_VARIATIONS, rows.variations),
        (GOLD_CAMPAIGN_STEPS, rows.steps),
    ):
        writes.overwrite(settings, table, spark.createDataFrame(data, table.schema))
