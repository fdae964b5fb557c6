"""The machine's outputs as table rows: messages (settled when due), journeys, state, late events.

Pure: DataFrames in (the machine's rows in :data:`reconnect.detect.partition.OUTPUT_SCHEMA`),
DataFrames out in the tables' schemas; :mod:`reconnect.detect.sinks` writes them.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reconnect.lake.feed_state import Feeds, with_sync
from reconnect.lake.schemas import JOURNEYS, STEP_ELIGIBILITY


def _ts(col: str) -> Column:
    return F.timestamp_micros(F.col(col))


def _who() -> list[Column | str]:
    return [
        "key_kind",
        "user_key",
        F.when(F.col("key_kind") == "user", F.col("user_key")).alias("user_id"),
        "cuid",
        _ts("trigger_time").alias("trigger_time"),
        "trigger_id",
    ]


def message_rows(out: DataFrame) -> DataFrame:
    """The machine's message rows as gold.step_eligibility rows, payload not yet filled."""
    payload = F.transform(
        "products",
        lambda p, i: F.struct(
            (i + 1).alias("slot"),
            p["product_id"].alias("product_id"),
            F.lit(None).cast("string").alias("name"),
            F.lit(None).cast("string").alias("image_url"),
            F.lit(None).cast("string").alias("url"),
            F.lit(None).cast("decimal(18,4)").alias("price"),
            p["old_price"].alias("old_price"),
            p["drop_percent"].alias("drop_percent"),
        ),
    )
    return out.select(
        "message_id",
        "journey_id",
        "campaign_id",
        "campaign_type",
        "variation_id",
        "is_control",
        "step_number",
        "step_name",
        *_who(),
        _ts("due_at").alias("due_at"),
        "state",
        "reason",
        "decided_by",
        _ts("decided_at").alias("decided_at"),
        payload.alias("payload"),
        F.lit(None).cast("timestamp").alias("payload_as_of"),
    ).select(*STEP_ELIGIBILITY.fieldNames())


def journey_rows(out: DataFrame) -> DataFrame:
    """The machine's journey rows as silver.journeys rows."""
    return out.select(
        "journey_id",
        "campaign_id",
        "campaign_type",
        "variation_id",
        "is_control",
        *_who(),
        "steps",
        _ts("first_due_at").alias("first_due_at"),
        _ts("last_due_at").alias("last_due_at"),
        "state",
        "reason",
        F.col("decided_by").alias("ended_by"),
        _ts("decided_at").alias("ended_at"),
    ).select(*JOURNEYS.fieldNames())


def became_due(stored: DataFrame, w_prev: datetime | None, w: datetime) -> DataFrame:
    """Stored PENDING messages, not yet settled, whose due time is in ``[w_prev, w)``."""
    waiting = stored.where(
        (F.col("state") == "PENDING")
        & F.col("payload_as_of").isNull()
        & (F.col("due_at") < F.lit(w).cast("timestamp"))
    )
    if w_prev is not None:
        waiting = waiting.where(F.col("due_at") >= F.lit(w_prev).cast("timestamp"))
    return waiting


def settle_due(changed: DataFrame, waiting: DataFrame, feeds: Feeds, w: datetime) -> DataFrame:
    """Changed messages plus those that became due, the due ones settled (R-REL-2, R-SEND-3).

    ``waiting``: from :func:`became_due`. A PENDING message whose due time is behind ``w`` gets
    its products' feed values as of its due time, and ``payload_as_of = due_at``; messages
    stored earlier that became due without changing in this batch are settled with them.
    """
    w_lit = F.lit(w).cast("timestamp")
    rows = changed.unionByName(
        waiting.join(changed.select("message_id"), "message_id", "left_anti")
    )
    due = (F.col("state") == "PENDING") & (F.col("due_at") < w_lit)
    slots = (
        rows.where(due & (F.size("payload") > 0))
        .select("message_id", "due_at", F.explode("payload").alias("p"))
        .select("message_id", "due_at", "p.slot", "p.product_id", "p.old_price", "p.drop_percent")
    )
    slots = with_sync(slots, "due_at", feeds.product_syncs, w)
    snap = feeds.products.select(
        F.col("sync_time").alias("as_of_sync"), "product_id", "name", "image_url", "url", "price"
    )
    filled = (
        slots.join(snap, ["as_of_sync", "product_id"], "left")
        .groupBy("message_id")
        .agg(
            F.array_sort(
                F.collect_list(
                    F.struct(
                        "slot", "product_id", "name", "image_url", "url", "price", "old_price",
                        "drop_percent",
                    )
                )
            ).alias("filled")
        )
    )  # fmt: skip
    return (
        rows.join(filled, "message_id", "left")
        .withColumn("payload", F.coalesce("filled", "payload"))
        .withColumn("payload_as_of", F.when(due, F.col("due_at")))
        .select(*STEP_ELIGIBILITY.fieldNames())
    )


def state_changes(finalized: DataFrame, machine: DataFrame, ttl_seconds: int) -> DataFrame:
    """Per key: the clock of its finalized events and the state the machine left, for the MERGE.

    ``ran``: whether the machine ran for the key; ``m_expires``: the machine's expiry;
    ``clock_expires``: the last event's time plus the state TTL.
    """
    clock = (
        finalized.groupBy("user_id")
        .agg(
            F.max("event_time").alias("last_event_at"),
            F.max_by("cuid", F.when(F.col("cuid").isNotNull(), F.col("event_time"))).alias("cuid"),
        )
        .select(
            F.lit("user").alias("key_kind"),
            F.col("user_id").alias("user_key"),
            "last_event_at",
            "cuid",
        )
    )
    m = machine.select(
        "key_kind",
        "user_key",
        F.lit(True).alias("ran"),
        F.col("state_json").alias("state"),
        "watched",
        _ts("expires_at").alias("m_expires"),
    )
    return clock.join(m, ["key_kind", "user_key"], "full_outer").select(
        "key_kind",
        "user_key",
        "cuid",
        "last_event_at",
        F.coalesce("ran", F.lit(False)).alias("ran"),
        "state",
        "watched",
        "m_expires",
        (F.col("last_event_at") + F.expr(f"INTERVAL {ttl_seconds} SECONDS")).alias("clock_expires"),
    )


def late_rows(late: DataFrame, w_prev: datetime | None) -> DataFrame:
    """silver.late_events rows: the late events with the watermark they missed."""
    return late.select(
        "event_id",
        "event_time",
        "user_id",
        "event_type",
        F.lit(w_prev).cast("timestamp").alias("watermark"),
    )
