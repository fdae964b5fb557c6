"""A campaign's conditions as Spark Columns (R-TRIG-1): trigger, audience and "don't send if".

Detection evaluates triggers, audiences at trigger time and exits with these; the sender
evaluates audiences at send time (R-TRIG-5) and the exits of late events (R-EXIT-3).
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from reconnect.campaigns.compiler import compile_condition
from reconnect.campaigns.conditions import Condition
from reconnect.campaigns.types import (
    Campaign,
    CartAbandonmentCampaign,
    CustomCampaign,
    ProductViewCampaign,
)


def _product_field(source: str) -> object:
    """A resolver for product conditions on events (``source='event'``) or feed rows."""

    def resolve(field: str) -> Column:
        _head, dot, key = field.partition(".")
        if dot:
            return F.try_element_at(F.col("product_attributes"), F.lit(key))
        if source == "event" and field in ("category", "price"):
            feed = "feed_category" if field == "category" else "feed_price"
            return F.coalesce(F.col(field), F.col(feed))  # the event's value, else the feed's
        return F.col(field if source == "event" else f"feed_{field}")

    return resolve


def _user_field(field: str) -> Column:
    return F.try_element_at(F.col("user_attributes"), F.lit(field.partition(".")[2]))


def audience(campaign: Campaign) -> Column:
    """R-TRIG-5: the campaign's audience over ``user_attributes`` (true for all users)."""
    if campaign.audience is None:
        return F.lit(True)
    return compile_condition(campaign.audience, _user_field)


def product_ok(cond: Condition | None, source: str) -> Column:
    """A product condition over event columns (``source='event'``) or feed rows (true if none)."""
    if cond is None:
        return F.lit(True)
    return compile_condition(cond, _product_field(source))  # type: ignore[arg-type]


def trigger_flag(campaign: Campaign) -> Column | None:
    """The event-trigger condition of an event-triggered campaign, without the audience."""
    et = F.col("event_type")
    if isinstance(campaign, CartAbandonmentCampaign):
        return (et == "add_to_cart") & product_ok(campaign.trigger.product, "event")
    if isinstance(campaign, ProductViewCampaign):
        return (et == "product_view") & product_ok(campaign.trigger.product, "event")
    if isinstance(campaign, CustomCampaign):
        t = campaign.trigger
        flag = et == t.event_type
        if t.event_name is not None:
            flag = flag & (F.col("event_name") == t.event_name)
        if t.where is not None:
            flag = flag & compile_condition(t.where)
        return F.coalesce(flag, F.lit(False))
    return None


def exit_flag(campaign: Campaign) -> Column | None:
    """The "don't send if" event conditions of a campaign (shorthands are the machine's)."""
    conditions = [r for r in campaign.dont_send_if if not isinstance(r, str)]
    if not conditions:
        return None
    return F.coalesce(reduce(lambda a, b: a | b, map(compile_condition, conditions)), F.lit(False))
