"""Spark transforms that turn finalized events, feed changes and schedule slots into machine inputs.

Every campaign condition is evaluated here, as Spark Columns (R-TRIG-1): trigger conditions,
product conditions, audiences at trigger time (R-TRIG-5) and "don't send if" conditions become
lists of campaign indexes per input (``triggers``, ``exits``). The per-user state machine
(:mod:`reconnect.detect.machine`) then only applies what depends on order.

Feed values "as of" a time come from the latest sync at or before it (the feeds are full
snapshots): the price in force at an interaction is the product's price in that sync (R-TRIG-4),
the audience reads the user's attributes in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.campaigns import (
    Campaign,
    CartAbandonmentCampaign,
    PriceDropCampaign,
    ProductAttributeChangeCampaign,
    ProductViewCampaign,
    UserAttributeChangeCampaign,
    audience,
    compile_change,
    exit_flag,
    product_ok,
    trigger_flag,
)
from reconnect.detect.machine import EVENT, PRODUCT_CHANGE, RANKS, SLOT, USER_CHANGE
from reconnect.detect.plan import CampaignPlan
from reconnect.lake.feed_state import (
    PRODUCT_NAMED,
    Feeds,
    attributes_map,
    product_values,
    user_values,
    with_sync,
    with_user_attributes,
)
from reconnect.vocabulary import CART_EVENT_TYPES

INPUT_SCHEMA = T.StructType(
    [
        T.StructField("key_kind", T.StringType()),
        T.StructField("user_key", T.StringType()),
        T.StructField("time", T.LongType()),
        T.StructField("rank", T.IntegerType()),
        T.StructField("seq", T.StringType()),
        T.StructField("kind", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("new_session", T.BooleanType()),
        T.StructField("cuid", T.StringType()),
        T.StructField("items", T.ArrayType(T.StringType())),
        T.StructField("triggers", T.ArrayType(T.IntegerType())),
        T.StructField("exits", T.ArrayType(T.IntegerType())),
        T.StructField("price", T.DecimalType(18, 4)),
        T.StructField("state", T.StringType()),
    ]
)


def as_inputs(df: DataFrame, kind: str, **columns: Column | str) -> DataFrame:
    """``df`` as machine inputs of ``kind``: the named columns, every other input column empty.

    Empty means null, ``false`` for ``new_session`` and an empty array for the list columns, and
    ``rank`` follows the kind (feed changes and slots before events at the same instant).
    """
    defaults: dict[str, Column] = {
        "rank": F.lit(RANKS.get(kind, -1)),
        "kind": F.lit(kind),
        "new_session": F.lit(False),
        "items": F.array(),
        "triggers": F.array(),
        "exits": F.array(),
    }
    cols = []
    for f in INPUT_SCHEMA.fields:
        given = columns.get(f.name)
        c = F.col(given) if isinstance(given, str) else given
        if c is None:
            c = defaults.get(f.name, F.lit(None))
        cols.append(c.cast(f.dataType).alias(f.name))
    return df.select(*cols)


def _sync_id(prefix: str, key: str, at: str) -> Column:
    """A feed change's or slot's id, e.g. ``product:P1@2026-01-03T00:00:00Z``."""
    return F.concat(
        F.lit(prefix), F.col(key), F.lit("@"), F.date_format(at, "yyyy-MM-dd'T'HH:mm:ss'Z'")
    )


def micros(c: Column) -> Column:
    """A timestamp column as UTC microseconds (the machine's unit)."""
    return F.unix_micros(c)


def indexes(flags: Sequence[tuple[int, Column]]) -> Column:
    """An ``array<int>`` of the indexes whose flag is true (never null)."""
    if not flags:
        return F.array().cast("array<int>")
    return F.array_compact(F.array(*[F.when(flag, F.lit(i)) for i, flag in flags])).cast(
        "array<int>"
    )


def _needs_product_values(campaigns: Sequence[Campaign], plans: Sequence[CampaignPlan]) -> bool:
    return any(p.interaction for p in plans) or any(
        isinstance(c, CartAbandonmentCampaign | ProductViewCampaign) and c.trigger.product
        for c in campaigns
    )


def event_inputs(
    events: DataFrame,
    clock: DataFrame,
    campaigns: Sequence[Campaign],
    plans: Sequence[CampaignPlan],
    feeds: Feeds,
    until: datetime,
    session_gap_seconds: int,
) -> DataFrame:
    """Machine inputs of finalized events, keyed by user (and by cuid for cuid-keyed exits).

    One input per relevant event, plus copies keyed by the linked cuid for the exits of
    journeys that follow a cuid.

    ``clock`` is ``(user_key, last_event_at, known_cuid)`` of users from before these events: a
    user's first event here starts a session when it comes ``session_gap`` or more after their
    last one (R-TRIG-6), and the cuid once seen stays linked.
    """
    e = events.join(
        clock.select(
            F.col("user_key").alias("user_id"), "last_event_at", F.col("cuid").alias("known_cuid")
        ),
        "user_id",
        "left",
    )
    w = Window.partitionBy("user_id").orderBy("event_time", "event_id")
    prev = F.coalesce(F.lag("event_time").over(w), F.col("last_event_at"))
    gap = micros(F.col("event_time")) - micros(prev)
    e = e.withColumn(
        "new_session", prev.isNull() | (gap >= F.lit(session_gap_seconds * 1_000_000))
    ).withColumn(
        "cuid_known",
        F.coalesce(
            F.last("cuid", ignorenulls=True).over(w.rowsBetween(Window.unboundedPreceding, 0)),
            F.col("known_cuid"),
        ),
    )
    if _needs_product_values(campaigns, plans):
        e = with_sync(e, "event_time", feeds.product_syncs, until)
        pv = product_values(feeds.products)
        e = e.join(
            pv,
            (e["as_of_sync"] == pv["as_of_sync"]) & (e["product_id"] == pv["feed_product_id"]),
            "left",
        ).drop(pv["as_of_sync"])
    else:
        e = e.select(
            "*",
            F.lit(None).cast("decimal(18,4)").alias("feed_price"),
            F.lit(None).cast("string").alias("feed_category"),
            F.lit(None).cast("map<string,string>").alias("product_attributes"),
        )
    triggers: list[tuple[int, Column]] = []
    exits: list[tuple[int, Column]] = []
    needs_audience = False
    for c, p in zip(campaigns, plans, strict=True):
        flag = trigger_flag(c)
        if flag is not None:
            if c.audience is not None:
                needs_audience = True
                flag = flag & audience(c)
            triggers.append((p.index, F.coalesce(flag, F.lit(False))))
        x = exit_flag(c)
        if x is not None:
            exits.append((p.index, x))
    if needs_audience:
        e = with_user_attributes(e, "cuid_known", "event_time", feeds, until)
    watch_kinds = sorted({p.interaction for p in plans if p.interaction})
    et = F.col("event_type")
    # The first event that links the user to a (new) cuid: the machine needs it so that later
    # inputs of the batch (a feed change, say) know whom to address.
    linked_before = F.coalesce(F.lag("cuid_known").over(w), F.col("known_cuid"))
    e = e.select(
        "*",
        indexes(triggers).alias("triggers"),
        indexes(exits).alias("exits"),
        (F.col("cuid_known").isNotNull() & ~F.col("cuid_known").eqNullSafe(linked_before)).alias(
            "links_cuid"
        ),
    )
    relevant = (
        F.col("new_session")
        | et.isin(*CART_EVENT_TYPES)
        | (F.size("triggers") > 0)
        | (F.size("exits") > 0)
        | F.col("links_cuid")
    )
    if watch_kinds:
        relevant = relevant | (et.isin(*watch_kinds) & F.col("product_id").isNotNull())
    items = (
        F.when(et == "purchase", F.transform("items", lambda i: i["product_id"]))
        .when(et == "sync_cart", F.transform("cart", lambda i: i["product_id"]))
        .otherwise(F.array().cast("array<string>"))
    )
    base = as_inputs(
        e.where(relevant),
        EVENT,
        key_kind=F.lit("user"),
        user_key="user_id",
        time=micros(F.col("event_time")),
        seq="event_id",
        event_type="event_type",
        product_id="product_id",
        new_session="new_session",
        cuid="cuid_known",
        items=F.coalesce(items, F.array()),
        triggers="triggers",
        exits="exits",
        price="feed_price",
    )
    cuid_plans = [p for p in plans if p.key_kind == "cuid" and (p.exits or _has(exits, p.index))]
    if not cuid_plans:
        return base
    # Exits of journeys that follow a cuid (user-feed changes, schedules): the same events, keyed
    # by the cuid the user is linked to.
    routed = base.where(F.col("cuid").isNotNull()).select(
        F.lit("cuid").alias("key_kind"),
        F.col("cuid").alias("user_key"),
        *[c for c in INPUT_SCHEMA.fieldNames() if c not in ("key_kind", "user_key", "triggers")],
        F.array().cast("array<int>").alias("triggers"),
    )
    return base.unionByName(routed)


def _has(flags: Sequence[tuple[int, Column]], index: int) -> bool:
    return any(i == index for i, _ in flags)


def watchers(
    state: DataFrame,
    events: DataFrame,
    changed: DataFrame,
    plans: Sequence[CampaignPlan],
) -> DataFrame:
    """Who may watch a changed product, and when.

    Rows ``(user_key, product_id, watch_from, watch_until)``, one per pair.

    A watch (R-TRIG-4) starts at an interaction of a watching kind and holds a change at ``s``
    when the latest such interaction ``at`` before it has ``at < s <= at + watch_window``
    (:meth:`reconnect.detect.machine._Run._watched_change`). So for this batch's ``events`` a
    change can only matter strictly after the user's first interaction with the product and at
    most the longest watch window after the last one: ``watch_from < s <= watch_until`` (UTC
    microseconds). Products on a watch list in ``state`` (earlier batches) are kept for every
    change: their interaction times live in the state. ``changed``: ``(product_id)`` of the
    changes to apply. A superset: the machine decides.
    """
    kinds = sorted({p.interaction for p in plans if p.interaction})
    window = max((p.watch_window for p in plans), default=0)
    known = state.where(F.col("key_kind") == "user").select(
        "user_key",
        F.explode("watched").alias("product_id"),
        F.lit(-(2**62)).alias("watch_from"),
        F.lit(2**62).alias("watch_until"),
    )
    seen = (
        events.where(F.col("product_id").isNotNull() & F.col("event_type").isin(*kinds))
        .groupBy(F.col("user_id").alias("user_key"), "product_id")
        .agg(
            F.min(micros(F.col("event_time"))).alias("watch_from"),
            (F.max(micros(F.col("event_time"))) + F.lit(window)).alias("watch_until"),
        )
    )
    return (
        known.unionByName(seen)
        .join(changed, "product_id", "left_semi")
        .groupBy("user_key", "product_id")
        .agg(F.min("watch_from").alias("watch_from"), F.max("watch_until").alias("watch_until"))
    )


def product_change_inputs(
    changes: DataFrame,
    snapshots: DataFrame,
    watchers: DataFrame,
    campaigns: Sequence[Campaign],
    plans: Sequence[CampaignPlan],
) -> DataFrame | None:
    """Inputs for users who may watch a changed product (R-TYPE-PRICE, R-TYPE-PATTR).

    ``changes``: silver.product_changes rows of the syncs to apply; ``watchers``: from
    :func:`watchers`, a superset of who may watch a product at a sync (the machine checks the
    window and the baseline). Price campaigns see syncs that lowered the price; attribute
    campaigns syncs where their change happened. Product conditions read the product in that sync.
    """
    watching = [
        (c, p)
        for c, p in zip(campaigns, plans, strict=True)
        if isinstance(c, PriceDropCampaign | ProductAttributeChangeCampaign)
    ]
    if not watching:
        return None
    snap = snapshots.select(
        "sync_time",
        "product_id",
        F.col("price").alias("feed_price"),
        F.col("category").alias("feed_category"),
        F.col("product_id").alias("feed_product_id"),
        attributes_map(PRODUCT_NAMED).alias("product_attributes"),
    )
    ch = changes.join(snap, ["sync_time", "product_id"], "inner")
    flags: list[tuple[int, Column]] = []
    for c, p in watching:
        ok = product_ok(c.trigger.product, "feed")
        if isinstance(c, PriceDropCampaign):
            hit = (F.col("attribute") == "price") & (F.col("new_price") < F.col("old_price"))
        else:
            change = c.trigger.change
            hit = (F.col("attribute") == change.attribute) & compile_change(
                change, F.col("old_value"), F.col("new_value")
            )
        flags.append((p.index, F.coalesce(hit & ok, F.lit(False))))
    per_change = (
        ch.select("sync_time", "product_id", "feed_price", indexes(flags).alias("t"))
        .groupBy("sync_time", "product_id")
        .agg(
            F.first("feed_price").alias("price"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_list("t")))).alias("triggers"),
        )
        .where(F.size("triggers") > 0)
    )
    at = micros(F.col("sync_time"))
    joined = per_change.join(watchers, "product_id").where(
        (at > F.col("watch_from")) & (at <= F.col("watch_until"))
    )
    return as_inputs(
        joined,
        PRODUCT_CHANGE,
        key_kind=F.lit("user"),
        user_key="user_key",
        time=micros(F.col("sync_time")),
        seq=_sync_id("product:", "product_id", "sync_time"),
        product_id="product_id",
        triggers="triggers",
        price="price",
    )


def user_change_inputs(
    changes: DataFrame,
    snapshots: DataFrame,
    campaigns: Sequence[Campaign],
    plans: Sequence[CampaignPlan],
) -> DataFrame | None:
    """Inputs for user-attribute-change campaigns (R-TYPE-UATTR), keyed by cuid.

    The audience reads the user's attributes in the sync that changed (R-TRIG-5).
    """
    chosen = [
        (c, p)
        for c, p in zip(campaigns, plans, strict=True)
        if isinstance(c, UserAttributeChangeCampaign)
    ]
    if not chosen:
        return None
    uv = user_values(snapshots)
    ch = changes.join(
        uv, (changes["sync_time"] == uv["user_sync"]) & (changes["cuid"] == uv["feed_cuid"]), "left"
    )
    flags = []
    for c, p in chosen:
        change = c.trigger.change
        hit = (F.col("attribute") == change.attribute) & compile_change(
            change, F.col("old_value"), F.col("new_value"), c.trigger.include_first_appearance
        )
        flags.append((p.index, F.coalesce(hit & audience(c), F.lit(False))))
    per_user = (
        ch.select("sync_time", "cuid", indexes(flags).alias("t"))
        .groupBy("sync_time", "cuid")
        .agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list("t")))).alias("triggers"))
        .where(F.size("triggers") > 0)
    )
    return as_inputs(
        per_user,
        USER_CHANGE,
        key_kind=F.lit("cuid"),
        user_key="cuid",
        time=micros(F.col("sync_time")),
        seq=_sync_id("user:", "cuid", "sync_time"),
        cuid="cuid",
        triggers="triggers",
    )


def slot_inputs(
    spark: SparkSession,
    slots: Sequence[tuple[int, str, datetime]],
    feeds: Feeds,
    campaigns_by_index: dict[int, Campaign],
    until: datetime,
) -> DataFrame | None:
    """Inputs for scheduled campaigns (R-TYPE-SCHED), keyed by cuid.

    At each slot, every user of the latest user sync at or before it who is in the audience.
    """
    if not slots or not feeds.user_syncs:
        return None
    s = spark.createDataFrame(list(slots), "campaign INT, campaign_id STRING, slot_time TIMESTAMP")
    s = with_sync(s, "slot_time", feeds.user_syncs, until).where(F.col("as_of_sync").isNotNull())
    uv = user_values(feeds.users)
    s = s.join(uv, s["as_of_sync"] == uv["user_sync"])
    ok = reduce(
        lambda acc, item: acc.when(F.col("campaign") == item[0], audience(item[1])),
        campaigns_by_index.items(),
        F.when(F.lit(False), F.lit(False)),
    ).otherwise(F.lit(False))
    return as_inputs(
        s.where(ok),
        SLOT,
        key_kind=F.lit("cuid"),
        user_key="feed_cuid",
        time=micros(F.col("slot_time")),
        seq=_sync_id("slot:", "campaign_id", "slot_time"),
        cuid="feed_cuid",
        triggers=F.array(F.col("campaign")),
    )
