"""Every Delta table of the lakehouse: its layer, name, schema and where it lives."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from reconnect.lake.schemas import (
    ATTRIBUTE_PROGRESS,
    ATTRIBUTED_PURCHASES,
    CAMPAIGN_STEPS,
    CAMPAIGN_VARIATIONS,
    CAMPAIGNS,
    DELIVERIES,
    DELIVERY_PROGRESS,
    DETECT_FEED_SYNCS,
    DETECT_PROGRESS,
    DETECT_STATE,
    ENGAGEMENT_QUARANTINE,
    EVENTS,
    FEED_SYNC_PROGRESS,
    INGEST_FILES,
    JOURNEYS,
    LATE_CANCELS,
    LATE_EVENTS,
    MESSAGE_ENGAGEMENT,
    MESSAGES,
    PRODUCT_CHANGES,
    PRODUCT_SNAPSHOTS,
    QUARANTINE,
    SEND_PROGRESS,
    STEP_ELIGIBILITY,
    SUBSCRIPTIONS,
    USER_ATTRIBUTE_CHANGES,
    USER_SNAPSHOTS,
)
from reconnect.settings import Settings


@dataclass(frozen=True)
class TableSpec:
    """One Delta table: layer (bronze / silver / gold), name, schema and partitioning."""

    layer: str
    name: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()

    def qualified_name(self, settings: Settings) -> str:
        """``<catalog.>schema.table`` as registered in the Spark catalog."""
        return f"{settings.catalog.schema_name(self.layer)}.{self.name}"

    def location(self, settings: Settings) -> str:
        """The folder (or URI) of the table's Delta log and files."""
        return f"{settings.paths.lakehouse.rstrip('/')}/{self.layer}/{self.name}"


# --- bronze: what ingest accepted (migrations V001-V003, docs/ingest.md) -----------------------

BRONZE_EVENTS = TableSpec("bronze", "events", EVENTS)
BRONZE_PRODUCT_SNAPSHOTS = TableSpec("bronze", "product_snapshots", PRODUCT_SNAPSHOTS)
BRONZE_USER_SNAPSHOTS = TableSpec("bronze", "user_snapshots", USER_SNAPSHOTS)
BRONZE_SUBSCRIPTIONS = TableSpec("bronze", "subscriptions", SUBSCRIPTIONS)
BRONZE_QUARANTINE = TableSpec("bronze", "quarantine", QUARANTINE)
BRONZE_INGEST_FILES = TableSpec("bronze", "ingest_files", INGEST_FILES)

# --- silver: feed changes (V004, docs/feeds.md) ------------------------------------------------

SILVER_PRODUCT_CHANGES = TableSpec("silver", "product_changes", PRODUCT_CHANGES)
SILVER_USER_ATTRIBUTE_CHANGES = TableSpec(
    "silver", "user_attribute_changes", USER_ATTRIBUTE_CHANGES
)
SILVER_FEED_SYNC_PROGRESS = TableSpec("silver", "feed_sync_progress", FEED_SYNC_PROGRESS)

# --- detection (V005, docs/detection.md) -------------------------------------------------------

SILVER_JOURNEYS = TableSpec("silver", "journeys", JOURNEYS)
GOLD_STEP_ELIGIBILITY = TableSpec("gold", "step_eligibility", STEP_ELIGIBILITY)
SILVER_DETECT_STATE = TableSpec("silver", "detect_state", DETECT_STATE)
SILVER_DETECT_BUFFER = TableSpec("silver", "detect_buffer", EVENTS)
SILVER_LATE_EVENTS = TableSpec("silver", "late_events", LATE_EVENTS)
SILVER_DETECT_PROGRESS = TableSpec("silver", "detect_progress", DETECT_PROGRESS)
SILVER_DETECT_FEED_SYNCS = TableSpec("silver", "detect_feed_syncs", DETECT_FEED_SYNCS)

# --- sending (V006, docs/sending.md) -----------------------------------------------------------

GOLD_MESSAGES = TableSpec("gold", "messages", MESSAGES)
GOLD_DELIVERIES = TableSpec("gold", "deliveries", DELIVERIES)
GOLD_LATE_CANCELS = TableSpec("gold", "late_cancels", LATE_CANCELS)
SILVER_SEND_PROGRESS = TableSpec("silver", "send_progress", SEND_PROGRESS)
SILVER_DELIVERY_PROGRESS = TableSpec("silver", "delivery_progress", DELIVERY_PROGRESS)

# --- attribution (V007, docs/analytics.md) -----------------------------------------------------

GOLD_MESSAGE_ENGAGEMENT = TableSpec("gold", "message_engagement", MESSAGE_ENGAGEMENT)
SILVER_ENGAGEMENT_QUARANTINE = TableSpec("silver", "engagement_quarantine", ENGAGEMENT_QUARANTINE)
GOLD_ATTRIBUTED_PURCHASES = TableSpec("gold", "attributed_purchases", ATTRIBUTED_PURCHASES)
SILVER_ATTRIBUTE_PROGRESS = TableSpec("silver", "attribute_progress", ATTRIBUTE_PROGRESS)

# --- the campaign catalog (V008, docs/analytics.md) ---------------------------------------------

GOLD_CAMPAIGNS = TableSpec("gold", "campaigns", CAMPAIGNS)
GOLD_CAMPAIGN_VARIATIONS = TableSpec("gold", "campaign_variations", CAMPAIGN_VARIATIONS)
GOLD_CAMPAIGN_STEPS = TableSpec("gold", "campaign_steps", CAMPAIGN_STEPS)

ALL_TABLES: tuple[TableSpec, ...] = (
    BRONZE_EVENTS,
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_USER_SNAPSHOTS,
    BRONZE_SUBSCRIPTIONS,
    BRONZE_QUARANTINE,
    BRONZE_INGEST_FILES,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    SILVER_FEED_SYNC_PROGRESS,
    SILVER_JOURNEYS,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_STATE,
    SILVER_DETECT_BUFFER,
    SILVER_LATE_EVENTS,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_FEED_SYNCS,
    GOLD_MESSAGES,
    GOLD_DELIVERIES,
    GOLD_LATE_CANCELS,
    SILVER_SEND_PROGRESS,
    SILVER_DELIVERY_PROGRESS,
    GOLD_MESSAGE_ENGAGEMENT,
    SILVER_ENGAGEMENT_QUARANTINE,
    GOLD_ATTRIBUTED_PURCHASES,
    SILVER_ATTRIBUTE_PROGRESS,
    GOLD_CAMPAIGNS,
    GOLD_CAMPAIGN_VARIATIONS,
    GOLD_CAMPAIGN_STEPS,
)

DETECT_TABLES: tuple[TableSpec, ...] = (
    SILVER_JOURNEYS,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_STATE,
    SILVER_DETECT_BUFFER,
    SILVER_LATE_EVENTS,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_FEED_SYNCS,
)
SEND_TABLES: tuple[TableSpec, ...] = (
    GOLD_MESSAGES,
    GOLD_DELIVERIES,
    GOLD_LATE_CANCELS,
    SILVER_SEND_PROGRESS,
    SILVER_DELIVERY_PROGRESS,
)
CATALOG_TABLES: tuple[TableSpec, ...] = (
    GOLD_CAMPAIGNS,
    GOLD_CAMPAIGN_VARIATIONS,
    GOLD_CAMPAIGN_STEPS,
)

# --- the dbt project's models (docs/analytics.md, "The dbt project") ---------------------------

ANALYTICS = "analytics"
"""The layer (folder under ``paths.lakehouse``, and ``catalog.analytics``) of the dbt models."""


def analytics_location(settings: Settings) -> str:
    """The folder under which dbt writes each model's Delta table (``<lakehouse>/analytics``)."""
    return f"{settings.paths.lakehouse.rstrip('/')}/{ANALYTICS}"
