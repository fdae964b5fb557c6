"""Every write of the analytics stage: the campaign catalog tables and the A/B verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from reconnect.analytics.catalog import catalog_rows
from reconnect.campaigns import Campaign
from reconnect.lake import writes
from reconnect.lake.landing import atomic_text_file
from reconnect.lake.migrations import register_analytics_tables
from reconnect.lake.schemas import VARIATION_WINNERS
from reconnect.lake.tables import (
    GOLD_CAMPAIGN_STEPS,
    GOLD_CAMPAIGN_VARIATIONS,
    GOLD_CAMPAIGNS,
    analytics_location,
)
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


WINNERS_TABLE = "rpt_variation_winners"


def write_winners(
    spark: SparkSession, settings: Settings, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Replace ``analytics.rpt_variation_winners`` with ``rows`` and register it (one commit)."""
    columns = VARIATION_WINNERS.fieldNames()
    df = spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], VARIATION_WINNERS)
    location = f"{analytics_location(settings)}/{WINNERS_TABLE}"
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(location)
    register_analytics_tables(spark, settings)


def write_report(path: Path, page: str) -> None:
    """Write the HTML report to ``path`` (a local file); it appears complete, replacing the last."""
    with atomic_text_file(path) as f:
        f.write(page)
