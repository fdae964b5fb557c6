"""Which purchases each click earns (R-ATTR-1), in event time (pure: DataFrames in and out).

A click *qualifies* for a purchase when the same person made both (the same ``user_id``, or the
same ``cuid``), the purchase came after the click, and at most the campaign's attribution window
after it: ``click_time < purchase_time <= click_time + window`` (a window includes its last
instant, as R-EXIT-1's "at or before" does). Two views, side by side:

- ``last_click``: each purchase credited at most once, to its latest qualifying click;
- ``per_campaign``: a purchase counted once for each campaign with a qualifying click (its latest).

The credit of a purchase depends only on the purchase and the clicks before it, so a purchase's
rows are recomputed whenever it or a click that may qualify for it arrives (:func:`to_rescore`):
late data updates the result, and any cut into batches gives the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from reconnect.lake.schemas import ATTRIBUTED_PURCHASES, MONEY
from reconnect.vocabulary import LAST_CLICK, MESSAGE_CLICK, PER_CAMPAIGN, PURCHASE

PURCHASE_COLUMNS = ("purchase_event_id", "order_id", "purchase_time", "user_id", "cuid",
                    "revenue", "currency")  # fmt: skip


def purchases(events: DataFrame) -> DataFrame:
    """The purchases among bronze events, one row each, with their revenue.

    Revenue is the event's ``revenue``, else the sum of its items' price x quantity.
    """
    items_total = F.aggregate(
        "items",
        F.lit(0).cast(MONEY),
        lambda acc, i: (acc + i["price"] * F.coalesce(i["quantity"], F.lit(1))).cast(MONEY),
    )
    return events.where(F.col("event_type") == PURCHASE).select(
        F.col("event_id").alias("purchase_event_id"),
        "order_id",
        F.col("event_time").alias("purchase_time"),
        "user_id",
        "cuid",
        F.coalesce(F.col("revenue"), items_total).cast(MONEY).alias("revenue"),
        "currency",
    )


def clicks(engagement: DataFrame) -> DataFrame:
    """The clicks among ``gold.message_engagement`` rows, named for the join with purchases."""
    return engagement.where(F.col("event_type") == MESSAGE_CLICK).select(
        F.col("event_id").alias("click_event_id"),
        F.col("event_time").alias("click_time"),
        F.col("user_id").alias("c_user_id"),
        F.col("cuid").alias("c_cuid"),
        "message_id",
        "campaign_id",
        "variation_id",
        "is_control",
        "step_number",
        "step_name",
        "channel",
    )


def window_us(windows: Mapping[str, int], default_us: int) -> Column:
    """Each click's attribution window in microseconds: its campaign's, else ``default_us``.

    ``windows``: campaign id -> window (microseconds); a campaign no longer configured keeps
    the default.
    """
    if not windows:
        return F.lit(default_us)
    lookup = F.create_map(*(F.lit(x) for kv in sorted(windows.items()) for x in kv))
    return F.coalesce(lookup[F.col("campaign_id")], F.lit(default_us))


def _same_person(p: DataFrame, c: DataFrame, in_window: Column) -> DataFrame:
    by_user = p.join(c, (F.col("user_id") == F.col("c_user_id")) & in_window)
    by_cuid = p.join(c, F.col("cuid").isNotNull() & (F.col("cuid") == F.col("c_cuid")) & in_window)
    return by_user.unionByName(by_cuid).dropDuplicates(["purchase_event_id", "click_event_id"])


def qualifying(
    purchases: DataFrame, clicks: DataFrame, windows: Mapping[str, int], default_us: int
) -> DataFrame:
    """Every (purchase, click) pair where the click qualifies for the purchase."""
    c = clicks.withColumn("window_us", window_us(windows, default_us))
    ends = F.timestamp_micros(F.unix_micros("click_time") + F.col("window_us"))
    in_window = (F.col("click_time") < F.col("purchase_time")) & (F.col("purchase_time") <= ends)
    return _same_person(purchases, c, in_window)


def credit(
    purchases: DataFrame, clicks: DataFrame, windows: Mapping[str, int], default_us: int
) -> DataFrame:
    """The rows of ``gold.attributed_purchases`` for ``purchases``: both views of R-ATTR-1."""
    pairs = qualifying(purchases, clicks, windows, default_us)
    latest = [F.desc("click_time"), F.desc("click_event_id")]
    last = pairs.withColumn(
        "_n", F.row_number().over(Window.partitionBy("purchase_event_id").orderBy(*latest))
    ).where(F.col("_n") == 1)
    per_campaign = pairs.withColumn(
        "_n",
        F.row_number().over(
            Window.partitionBy("purchase_event_id", "campaign_id").orderBy(*latest)
        ),
    ).where(F.col("_n") == 1)
    columns = [f.name for f in ATTRIBUTED_PURCHASES.fields if f.name != "attribution"]
    return last.select(F.lit(LAST_CLICK).alias("attribution"), *columns).unionByName(
        per_campaign.select(F.lit(PER_CAMPAIGN).alias("attribution"), *columns)
    )


def to_rescore(
    new_purchases: DataFrame, new_clicks: DataFrame, all_purchases: DataFrame, longest_us: int
) -> DataFrame:
    """The purchases whose credit a batch must recompute.

    Its own purchases, and every purchase of the same person within ``longest_us`` (the longest
    window) after one of its clicks.
    """
    after = (F.col("click_time") < F.col("purchase_time")) & (
        F.col("purchase_time")
        <= F.timestamp_micros(F.unix_micros("click_time") + F.lit(longest_us))
    )
    reached = _same_person(all_purchases, new_clicks, after).select(*PURCHASE_COLUMNS)
    return (
        new_purchases.select(*PURCHASE_COLUMNS)
        .unionByName(reached)
        .dropDuplicates(["purchase_event_id"])
    )
