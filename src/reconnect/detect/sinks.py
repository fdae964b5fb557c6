"""Every write of detection: messages, journeys, state, buffer, late events, syncs, progress.

Each is a MERGE, an overwrite or a delete whose content depends only on what the batch read
at its recorded versions, or an append where the batch knows its keys are new: a batch re-run
after a crash writes the same rows again (docs/detection.md, "Exactly once").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.detect import outputs as O
from reconnect.detect.batch import SyncsToApply, utc
from reconnect.lake import writes
from reconnect.lake.feed_state import Feeds
from reconnect.lake.reads import table
from reconnect.lake.schemas import DETECT_FEED_SYNCS, DETECT_PROGRESS, EVENTS
from reconnect.lake.tables import (
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_BUFFER,
    SILVER_DETECT_FEED_SYNCS,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_STATE,
    SILVER_JOURNEYS,
    SILVER_LATE_EVENTS,
)
from reconnect.settings import Settings


def write_messages(
    spark: SparkSession,
    settings: Settings,
    machine: DataFrame,
    feeds: Feeds,
    w_prev: datetime | None,
    w: datetime,
) -> None:
    """MERGE the machine's messages and settle those that became due (:func:`.settle_due`)."""
    waiting = O.became_due(table(spark, settings, GOLD_STEP_ELIGIBILITY), w_prev, w)
    rows = O.settle_due(O.message_rows(machine), waiting, feeds, w)
    writes.merge_by_key(
        spark, GOLD_STEP_ELIGIBILITY, settings, rows, ("message_id",), update_matched=True
    )


def write_journeys(spark: SparkSession, settings: Settings, machine: DataFrame) -> None:
    """MERGE the machine's journeys by id."""
    writes.merge_by_key(
        spark, SILVER_JOURNEYS, settings, O.journey_rows(machine), ("journey_id",),
        update_matched=True,
    )  # fmt: skip


def write_buffer(settings: Settings, remaining: DataFrame) -> None:
    """Overwrite the buffer with the events still ahead of the watermark."""
    remaining.select(*EVENTS.fieldNames()).write.format("delta").mode("overwrite").save(
        SILVER_DETECT_BUFFER.location(settings)
    )


def write_late(
    spark: SparkSession, settings: Settings, late: DataFrame, w_prev: datetime | None
) -> None:
    """Record the batch's late events (behind the previous watermark: not applied)."""
    writes.merge_by_key(
        spark, SILVER_LATE_EVENTS, settings, O.late_rows(late, w_prev), ("event_id",),
        update_matched=False,
    )  # fmt: skip


def write_state(
    spark: SparkSession,
    settings: Settings,
    finalized: DataFrame,
    machine: DataFrame,
    w_prev: datetime | None,
    w: datetime,
    since: datetime | None = None,
) -> None:
    """MERGE the batch's clocks and machine states into ``silver.detect_state``; drop expired rows.

    Rows expired behind ``w_prev`` (see :func:`reconnect.detect.batch.live`) count as absent: a
    key of this batch that has one gets the values of a new row. The rows expired behind ``w``
    are deleted when ``w`` is in a later UTC day than ``since`` (the previous watermark; in the
    first batch, its earliest event), not in every batch: a delete is a fixed cost and a commit
    even when nothing has expired, and state TTLs are days. The table then holds at most about a
    day of expired rows more than the live ones.
    """
    ttl = settings.detection.seconds("state_ttl")
    src = O.state_changes(finalized, machine, ttl)
    expires_new = F.greatest(F.col("s.m_expires"), F.col("s.clock_expires"))
    # A key the machine ran only for product-feed changes keeps its last event's TTL.
    expires_kept = F.greatest(
        expires_new, F.col("t.last_event_at") + F.expr(f"INTERVAL {ttl} SECONDS")
    )
    as_new: dict[str, str | Column] = {
        "cuid": F.col("s.cuid"),
        "last_event_at": F.col("s.last_event_at"),
        "state": F.col("s.state"),
        "watched": F.col("s.watched"),
        "expires_at": F.coalesce(expires_new, F.col("s.clock_expires"), F.col("s.m_expires")),
    }
    state = DeltaTable.forPath(spark, SILVER_DETECT_STATE.location(settings))
    merge = state.alias("t").merge(
        src.alias("s"), "t.key_kind = s.key_kind AND t.user_key = s.user_key"
    )
    if w_prev is not None:
        expired = F.col("t.expires_at") < F.lit(w_prev).cast("timestamp")
        merge = merge.whenMatchedUpdate(condition=expired, set=as_new)
    (
        merge.whenMatchedUpdate(
            set={
                "cuid": F.coalesce(F.col("s.cuid"), F.col("t.cuid")),
                "last_event_at": F.greatest(F.col("s.last_event_at"), F.col("t.last_event_at")),
                "state": F.when(F.col("s.ran"), F.col("s.state")).otherwise(F.col("t.state")),
                "watched": F.when(F.col("s.ran"), F.col("s.watched")).otherwise(F.col("t.watched")),
                "expires_at": F.when(F.col("s.ran"), expires_kept).otherwise(
                    F.greatest(F.col("t.expires_at"), F.col("s.clock_expires"))
                ),
            }
        )
        .whenNotMatchedInsert(
            values={"key_kind": F.col("s.key_kind"), "user_key": F.col("s.user_key"), **as_new}
        )
        .execute()
    )
    if since is not None and utc(w).date() > utc(since).date():
        state.delete(F.col("expires_at") < F.lit(w).cast("timestamp"))


def record_syncs(
    spark: SparkSession, settings: Settings, batch_id: int, syncs: SyncsToApply
) -> None:
    """Record the syncs this batch applied in ``silver.detect_feed_syncs``.

    An append, unless an earlier attempt of this batch id recorded syncs (then an insert-only
    MERGE keeps its rows): no other batch id can have recorded these syncs (they would not be
    applied again).
    """
    rows = [("product_feed", s, batch_id, s in syncs.late) for s in syncs.product] + [
        ("user_feed", s, batch_id, s in syncs.late) for s in syncs.user
    ]
    if not rows:
        return
    df = spark.createDataFrame(rows, DETECT_FEED_SYNCS)
    if syncs.rerun:
        writes.merge_by_key(
            spark, SILVER_DETECT_FEED_SYNCS, settings, df, ("feed", "sync_time"), False
        )
    else:
        df.write.format("delta").mode("append").save(SILVER_DETECT_FEED_SYNCS.location(settings))


def record_progress(
    spark: SparkSession,
    settings: Settings,
    batch_id: int,
    w: datetime | None,
    w_prev: datetime | None,
    counts: dict[str, int],
    state_version: int,
    buffer_version: int,
) -> None:
    """Append the batch's progress row: the batch's last write, its commit point.

    An append: the pipeline only reaches here for a batch id not yet recorded. ``counts`` holds
    the row's counters by column name (those not given are 0).
    """
    row: dict[str, Any] = dict.fromkeys(DETECT_PROGRESS.fieldNames(), 0)
    row.update(
        counts, batch_id=batch_id, watermark=w, previous_watermark=w_prev,
        state_version=state_version, buffer_version=buffer_version,
    )  # fmt: skip
    df = spark.createDataFrame([tuple(row.values())], DETECT_PROGRESS)
    df.write.format("delta").mode("append").save(SILVER_DETECT_PROGRESS.location(settings))
