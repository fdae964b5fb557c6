"""``reconnect attribute``: the streaming query over bronze events that credits purchases.

Each micro-batch (``foreachBatch``; docs/analytics.md):

1. checks the batch's opens and clicks against ``gold.messages``: accepted ones go to
   ``gold.message_engagement``, the others to ``silver.engagement_quarantine`` with a reason;
2. finds the purchases whose credit may change: the batch's own purchases and every purchase in
   bronze by the person of one of its clicks, within the longest window after it;
3. recomputes the credit of exactly those purchases from all accepted clicks (R-ATTR-1, both
   views) and replaces their rows of ``gold.attributed_purchases`` in one MERGE;
4. appends its progress row.

Every write is keyed, so a batch run again after a crash writes the same rows. Run it after
``reconnect send``: a click can only name a message the sender has settled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from reconnect.attribute import credit as C
from reconnect.attribute import sinks
from reconnect.attribute.context import AttributeContext
from reconnect.attribute.engagement import check, engagement_events
from reconnect.attribute.summary import AttributeSummary, summarize_tables
from reconnect.campaigns import Campaign
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import table
from reconnect.lake.schemas import EVENTS
from reconnect.lake.streams import run_to_end, with_trigger
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    GOLD_ATTRIBUTED_PURCHASES,
    GOLD_MESSAGE_ENGAGEMENT,
    GOLD_MESSAGES,
    SILVER_ATTRIBUTE_PROGRESS,
    SILVER_ENGAGEMENT_QUARANTINE,
)
from reconnect.lake.writes import write_concurrently
from reconnect.settings import Settings
from reconnect.vocabulary import MESSAGE_CLICK, PURCHASE

log = logging.getLogger(__name__)


def run_attribute(
    spark: SparkSession, settings: Settings, campaigns: Sequence[Campaign]
) -> AttributeSummary:
    """Credit purchases until the bronze events are done (availableNow) or until stopped."""
    ensure_tables(spark, settings)
    before = last_batch(spark, settings)
    run_to_end(start_attribute_query(spark, AttributeContext.of(settings, campaigns)))
    return summarize(spark, settings, before)


def last_batch(spark: SparkSession, settings: Settings) -> int:
    """The id of the last recorded attribution batch; -1 before the first."""
    row = table(spark, settings, SILVER_ATTRIBUTE_PROGRESS).agg(F.max("batch_id")).first()
    return -1 if row is None or row[0] is None else int(row[0])


def summarize(spark: SparkSession, settings: Settings, since_batch: int = -1) -> AttributeSummary:
    """Counts over the attribution tables; the run is the batches after ``since_batch``."""
    return summarize_tables(
        table(spark, settings, SILVER_ATTRIBUTE_PROGRESS),
        table(spark, settings, SILVER_ENGAGEMENT_QUARANTINE),
        table(spark, settings, GOLD_ATTRIBUTED_PURCHASES),
        since_batch,
    )


def start_attribute_query(spark: SparkSession, ctx: AttributeContext) -> StreamingQuery:
    """Start the streaming query over bronze events with its checkpoint and trigger."""
    settings = ctx.settings
    reader = spark.readStream.format("delta")
    if settings.streaming.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.streaming.max_files_per_trigger)
    events = reader.load(BRONZE_EVENTS.location(settings))

    def batch(df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        attribute_batch(spark, ctx, df, batch_id)
        log.info("attribute: batch %d in %.1fs", batch_id, time.monotonic() - started)

    writer = (
        events.writeStream.queryName("attribute")
        .foreachBatch(batch)
        .option("checkpointLocation", f"{settings.paths.checkpoints.rstrip('/')}/attribute")
    )
    return with_trigger(writer, settings).start()


def attribute_batch(
    spark: SparkSession, ctx: AttributeContext, new: DataFrame, batch_id: int
) -> None:
    """Credit one micro-batch of bronze events (see the module note)."""
    settings = ctx.settings
    if last_batch(spark, settings) >= batch_id:
        log.info("attribute: batch %d already applied", batch_id)
        return
    new = new.select(*EVENTS.fieldNames()).persist()
    try:
        accepted, rejected = check(engagement_events(new), table(spark, settings, GOLD_MESSAGES))
        accepted, rejected = accepted.persist(), rejected.persist()
        write_concurrently(
            "attribute",
            [
                ("engagement", lambda: sinks.write_engagement(spark, settings, accepted)),
                ("quarantine", lambda: sinks.write_quarantine(spark, settings, rejected)),
            ],
        )
        counts = _engagement_counts(new, accepted, rejected)
        rescored = C.to_rescore(
            C.purchases(new),
            C.clicks(accepted),
            _purchases_after(spark, settings, accepted, ctx.longest_us),
            ctx.longest_us,
        ).persist()
        clicks = C.clicks(table(spark, settings, GOLD_MESSAGE_ENGAGEMENT))
        rows = C.credit(rescored, clicks, ctx.windows, ctx.default_us).persist()
        sinks.replace_credit(spark, settings, rows, rescored)
        counts["purchases_scored"] = rescored.count()
        counts["attributed_rows"] = rows.count()
        sinks.record_progress(spark, settings, batch_id, counts)
        for df in (rows, rescored, accepted, rejected):
            df.unpersist()
    finally:
        new.unpersist()


def _engagement_counts(new: DataFrame, accepted: DataFrame, rejected: DataFrame) -> dict[str, int]:
    read = new.agg(
        F.count("*").alias("events_read"),
        F.count_if(F.col("event_type") == PURCHASE).alias("purchases_read"),
    ).first()
    kinds = accepted.agg(
        F.count_if(F.col("event_type") == MESSAGE_CLICK).alias("clicks"),
        F.count_if(F.col("event_type") != MESSAGE_CLICK).alias("opens"),
    ).first()
    assert read is not None and kinds is not None
    return {
        "events_read": int(read["events_read"]),
        "opens": int(kinds["opens"]),
        "clicks": int(kinds["clicks"]),
        "quarantined": rejected.count(),
        "purchases_read": int(read["purchases_read"]),
    }


def _purchases_after(
    spark: SparkSession, settings: Settings, accepted: DataFrame, longest_us: int
) -> DataFrame:
    """The bronze purchases a click of the batch may earn (no clicks: none).

    Those after the batch's earliest click and before its latest click's longest window ends.
    """
    bounds = (
        accepted.where(F.col("event_type") == MESSAGE_CLICK)
        .agg(F.min("event_time").alias("lo"), F.max("event_time").alias("hi"))
        .first()
    )
    events = table(spark, settings, BRONZE_EVENTS)
    if bounds is None or bounds["lo"] is None:
        return C.purchases(events.limit(0))
    hi = bounds["hi"] + timedelta(microseconds=longest_us)
    return C.purchases(
        events.where(
            (F.col("event_time") > F.lit(bounds["lo"])) & (F.col("event_time") <= F.lit(hi))
        )
    )
