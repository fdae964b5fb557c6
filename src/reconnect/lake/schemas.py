"""The StructType of every Delta table of the lakehouse, by layer.

These and the versioned DDL in ``reconnect/lake/migrations/`` are two statements of one contract;
``tests/integration/test_table_contracts.py`` applies the DDL and requires them equal.
"""

from __future__ import annotations

from pyspark.sql import types as T

MONEY = T.DecimalType(18, 4)


def _f(name: str, dtype: T.DataType, nullable: bool = True) -> T.StructField:
    return T.StructField(name, dtype, nullable)


LINEAGE = [_f("source_file", T.StringType(), False), _f("source_line", T.LongType(), False)]

EVENTS = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("event_date", T.DateType(), False),
        _f("user_id", T.StringType(), False),
        _f("cuid", T.StringType()),
        _f("session_id", T.StringType()),
        _f("event_type", T.StringType(), False),
        _f("event_name", T.StringType()),
        _f("product_id", T.StringType()),
        _f("quantity", T.IntegerType()),
        _f("price", MONEY),
        _f("currency", T.StringType()),
        _f("category", T.StringType()),
        _f(
            "cart",
            T.ArrayType(
                T.StructType([_f("product_id", T.StringType()), _f("quantity", T.IntegerType())])
            ),
        ),
        _f("order_id", T.StringType()),
        _f("revenue", MONEY),
        _f(
            "items",
            T.ArrayType(
                T.StructType(
                    [
                        _f("product_id", T.StringType()),
                        _f("quantity", T.IntegerType()),
                        _f("price", MONEY),
                    ]
                )
            ),
        ),
        _f("message_id", T.StringType()),
        _f("channel", T.StringType()),
        _f("address", T.StringType()),
        _f("properties", T.MapType(T.StringType(), T.StringType())),
        *LINEAGE,
    ]
)

PRODUCT_SNAPSHOTS = T.StructType(
    [
        _f("sync_time", T.TimestampType(), False),
        _f("product_id", T.StringType(), False),
        _f("price", MONEY, False),
        _f("name", T.StringType()),
        _f("url", T.StringType()),
        _f("image_url", T.StringType()),
        _f("category", T.StringType()),
        _f("brand", T.StringType()),
        _f("currency", T.StringType()),
        _f("stock", T.IntegerType()),
        _f("attributes", T.MapType(T.StringType(), T.StringType()), False),
        *LINEAGE,
    ]
)

USER_SNAPSHOTS = T.StructType(
    [
        _f("sync_time", T.TimestampType(), False),
        _f("cuid", T.StringType(), False),
        _f("email", T.StringType()),
        _f("phone", T.StringType()),
        _f("timezone", T.StringType()),
        _f("country", T.StringType()),
        _f("loyalty_tier", T.StringType()),
        _f("attributes", T.MapType(T.StringType(), T.StringType()), False),
        *LINEAGE,
    ]
)

SUBSCRIPTIONS = T.StructType(
    [
        _f("sync_time", T.TimestampType(), False),
        _f("channel", T.StringType(), False),
        _f("cuid", T.StringType(), False),
        _f("address", T.StringType(), False),
        *LINEAGE,
    ]
)

QUARANTINE = T.StructType(
    [
        _f("source", T.StringType(), False),
        _f("source_file", T.StringType(), False),
        _f("source_line", T.LongType(), False),
        _f("sync_time", T.TimestampType()),
        _f("reason", T.StringType(), False),
        _f("field", T.StringType()),
        _f("detail", T.StringType(), False),
        _f("raw", T.StringType()),
    ]
)

INGEST_FILES = T.StructType(
    [
        _f("source", T.StringType(), False),
        _f("source_file", T.StringType(), False),
        _f("sync_time", T.TimestampType()),
        _f("lines", T.LongType(), False),
        _f("accepted", T.LongType(), False),
        _f("quarantined", T.LongType(), False),
        _f("duplicates", T.LongType(), False),
    ]
)


# --- silver: feed changes (migrations/V004, docs/feeds.md) ---------------------------------

PERCENT = T.DecimalType(9, 4)

PRODUCT_CHANGES = T.StructType(
    [
        _f("product_id", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("previous_sync_time", T.TimestampType(), False),
        _f("attribute", T.StringType(), False),
        _f("change_kind", T.StringType(), False),
        _f("old_value", T.StringType()),
        _f("new_value", T.StringType(), False),
        _f("old_price", MONEY),
        _f("new_price", MONEY),
        _f("drop_amount", MONEY),
        _f("drop_percent", PERCENT),
        _f("back_in_stock", T.BooleanType(), False),
    ]
)

USER_ATTRIBUTE_CHANGES = T.StructType(
    [
        _f("cuid", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("previous_sync_time", T.TimestampType()),
        _f("attribute", T.StringType(), False),
        _f("change_kind", T.StringType(), False),
        _f("old_value", T.StringType()),
        _f("new_value", T.StringType(), False),
    ]
)

FEED_SYNC_PROGRESS = T.StructType(
    [
        _f("feed", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("previous_sync_time", T.TimestampType()),
        _f("bronze_version", T.LongType(), False),
        _f("change_rows", T.LongType(), False),
    ]
)

# --- detection (migrations/V005, docs/detection.md) ------------------------------------------

PAYLOAD = T.ArrayType(
    T.StructType(
        [
            _f("slot", T.IntegerType()),
            _f("product_id", T.StringType()),
            _f("name", T.StringType()),
            _f("image_url", T.StringType()),
            _f("url", T.StringType()),
            _f("price", MONEY),
            _f("old_price", MONEY),
            _f("drop_percent", PERCENT),
        ]
    )
)


def _journey_head() -> list[T.StructField]:
    return [
        _f("journey_id", T.StringType(), False),
        _f("campaign_id", T.StringType(), False),
        _f("campaign_type", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("is_control", T.BooleanType(), False),
    ]


def _who() -> list[T.StructField]:
    return [
        _f("key_kind", T.StringType(), False),
        _f("user_key", T.StringType(), False),
        _f("user_id", T.StringType()),
        _f("cuid", T.StringType()),
        _f("trigger_time", T.TimestampType(), False),
        _f("trigger_id", T.StringType(), False),
    ]


JOURNEYS = T.StructType(
    [
        *_journey_head(),
        *_who(),
        _f("steps", T.IntegerType(), False),
        _f("first_due_at", T.TimestampType(), False),
        _f("last_due_at", T.TimestampType(), False),
        _f("state", T.StringType(), False),
        _f("reason", T.StringType()),
        _f("ended_by", T.StringType()),
        _f("ended_at", T.TimestampType()),
    ]
)

STEP_ELIGIBILITY = T.StructType(
    [
        _f("message_id", T.StringType(), False),
        *_journey_head(),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        *_who(),
        _f("due_at", T.TimestampType(), False),
        _f("state", T.StringType(), False),
        _f("reason", T.StringType()),
        _f("decided_by", T.StringType()),
        _f("decided_at", T.TimestampType()),
        _f("payload", PAYLOAD, False),
        _f("payload_as_of", T.TimestampType()),
    ]
)

DETECT_STATE = T.StructType(
    [
        _f("key_kind", T.StringType(), False),
        _f("user_key", T.StringType(), False),
        _f("cuid", T.StringType()),
        _f("last_event_at", T.TimestampType()),
        _f("state", T.StringType()),
        _f("watched", T.ArrayType(T.StringType())),
        _f("expires_at", T.TimestampType(), False),
    ]
)

LATE_EVENTS = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("user_id", T.StringType(), False),
        _f("event_type", T.StringType(), False),
        _f("watermark", T.TimestampType(), False),
    ]
)

DETECT_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        _f("watermark", T.TimestampType()),
        _f("previous_watermark", T.TimestampType()),
        *(_f(n, T.LongType(), False) for n in ("events_read", "events_applied", "late_events")),
        _f("feed_syncs", T.IntegerType(), False),
        _f("late_feed_syncs", T.IntegerType(), False),
        *(
            _f(n, T.LongType(), False)
            for n in (
                "inputs",
                "messages_written",
                "journeys_written",
                "state_rows",
                "state_version",
                "buffer_version",
            )
        ),
    ]
)

DETECT_FEED_SYNCS = T.StructType(
    [
        _f("feed", T.StringType(), False),
        _f("sync_time", T.TimestampType(), False),
        _f("batch_id", T.LongType(), False),
        _f("late", T.BooleanType(), False),
    ]
)

# --- sending (migrations/V006, docs/sending.md) ----------------------------------------------

MESSAGES = T.StructType(
    [
        _f("message_id", T.StringType(), False),
        *_journey_head(),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        _f("person_key", T.StringType(), False),
        _f("user_id", T.StringType()),
        _f("cuid", T.StringType()),
        _f("trigger_time", T.TimestampType(), False),
        _f("due_at", T.TimestampType(), False),
        _f("send_at", T.TimestampType(), False),
        _f("deferred_from", T.TimestampType()),
        _f("state", T.StringType(), False),
        _f("reason", T.StringType()),
        _f("decided_by", T.StringType()),
        _f("channel", T.StringType()),
        _f("address", T.StringType()),
        _f("payload", T.StringType()),
    ]
)

DELIVERIES = T.StructType(
    [
        _f("message_id", T.StringType(), False),
        _f("channel", T.StringType(), False),
        _f("provider", T.StringType(), False),
        _f("attempt", T.IntegerType(), False),
        _f("status", T.StringType(), False),
        _f("http_status", T.IntegerType()),
        _f("error", T.StringType()),
        _f("attempted_at", T.TimestampType(), False),
        _f("duration_ms", T.LongType(), False),
        _f("send_batch", T.LongType(), False),
    ]
)

LATE_CANCELS = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("event_type", T.StringType(), False),
        _f("message_id", T.StringType(), False),
        _f("campaign_id", T.StringType(), False),
        _f("user_id", T.StringType(), False),
        _f("due_at", T.TimestampType(), False),
        _f("send_at", T.TimestampType(), False),
    ]
)

SEND_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        _f("horizon", T.TimestampType()),
        _f("previous_horizon", T.TimestampType()),
        *[
            _f(n, T.LongType(), False)
            for n in ("messages", "sent", "suppressed", "cancelled", "superseded", "late_cancels")
        ],
    ]
)

DELIVERY_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        _f("delivered", T.LongType(), False),
        _f("failed", T.LongType(), False),
    ]
)

# --- attribution (migrations/V007, docs/analytics.md) -----------------------------------------

MESSAGE_ENGAGEMENT = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("event_type", T.StringType(), False),
        _f("message_id", T.StringType(), False),
        _f("campaign_id", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("is_control", T.BooleanType(), False),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        _f("channel", T.StringType()),
        _f("user_id", T.StringType(), False),
        _f("cuid", T.StringType()),
        _f("send_at", T.TimestampType(), False),
    ]
)

ENGAGEMENT_QUARANTINE = T.StructType(
    [
        _f("event_id", T.StringType(), False),
        _f("event_time", T.TimestampType(), False),
        _f("event_type", T.StringType(), False),
        _f("user_id", T.StringType(), False),
        _f("message_id", T.StringType(), False),
        _f("reason", T.StringType(), False),
        _f("detail", T.StringType(), False),
        *LINEAGE,
    ]
)

ATTRIBUTED_PURCHASES = T.StructType(
    [
        _f("attribution", T.StringType(), False),
        _f("purchase_event_id", T.StringType(), False),
        _f("order_id", T.StringType()),
        _f("purchase_time", T.TimestampType(), False),
        _f("user_id", T.StringType(), False),
        _f("revenue", MONEY),
        _f("currency", T.StringType()),
        _f("campaign_id", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("is_control", T.BooleanType(), False),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        _f("channel", T.StringType()),
        _f("message_id", T.StringType(), False),
        _f("click_event_id", T.StringType(), False),
        _f("click_time", T.TimestampType(), False),
    ]
)

ATTRIBUTE_PROGRESS = T.StructType(
    [
        _f("batch_id", T.LongType(), False),
        *(
            _f(n, T.LongType(), False)
            for n in (
                "events_read",
                "opens",
                "clicks",
                "quarantined",
                "purchases_read",
                "purchases_scored",
                "attributed_rows",
            )
        ),
    ]
)

# --- the campaign catalog (migrations/V008, docs/analytics.md) --------------------------------

WEIGHT = T.DecimalType(5, 2)

CAMPAIGNS = T.StructType(
    [
        _f("campaign_id", T.StringType(), False),
        _f("campaign_type", T.StringType(), False),
        _f("name", T.StringType(), False),
        _f("status", T.StringType(), False),
        _f("priority", T.IntegerType(), False),
        _f("timezone", T.StringType(), False),
        _f("channels", T.ArrayType(T.StringType()), False),
        _f(
            "caps",
            T.ArrayType(
                T.StructType(
                    [
                        _f("channel", T.StringType()),
                        _f("count", T.IntegerType()),
                        _f("window_seconds", T.LongType()),
                    ]
                )
            ),
            False,
        ),
        _f("primary_metric", T.StringType(), False),
        _f("attribution_window_seconds", T.LongType(), False),
        _f("wait_seconds", T.LongType()),
        _f("watch_window_seconds", T.LongType()),
        _f("cancel_all_others", T.BooleanType(), False),
        _f("variations", T.IntegerType(), False),
    ]
)

CAMPAIGN_VARIATIONS = T.StructType(
    [
        _f("campaign_id", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("variation_number", T.IntegerType(), False),
        _f("is_control", T.BooleanType(), False),
        _f("weight", WEIGHT, False),
        _f("bucket_start", T.IntegerType(), False),
        _f("bucket_end", T.IntegerType(), False),
        _f("steps", T.IntegerType(), False),
    ]
)

CAMPAIGN_STEPS = T.StructType(
    [
        _f("campaign_id", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("is_control", T.BooleanType(), False),
        _f("step_number", T.IntegerType(), False),
        _f("step_name", T.StringType(), False),
        _f("channels", T.ArrayType(T.StringType()), False),
        _f("wait_seconds", T.LongType()),
        _f("offset_seconds", T.LongType(), False),
    ]
)

# analytics.rpt_variation_winners (docs/analytics.md): written by ``reconnect models build``
# after dbt, one row per campaign and compared variation (R-ATTR-3).
VARIATION_WINNERS = T.StructType(
    [
        _f("campaign_id", T.StringType(), False),
        _f("variation_id", T.StringType(), False),
        _f("is_control", T.BooleanType(), False),
        _f("metric", T.StringType(), False),
        _f("method", T.StringType(), False),
        _f("threshold", T.DoubleType(), False),
        _f("status", T.StringType(), False),
        _f("winner", T.StringType()),
        _f("reason", T.StringType(), False),
        _f("trials", T.LongType(), False),
        _f("observed", T.DoubleType()),
        _f("posterior_mean", T.DoubleType()),
        _f("ci_low", T.DoubleType()),
        _f("ci_high", T.DoubleType()),
        _f("probability_best", T.DoubleType()),
    ]
)
