"""The campaign types' traits (reconnect.vocabulary): every stage reads them, not type names."""

from __future__ import annotations

from reconnect.campaigns import parse_campaign
from reconnect.detect.plan import plan_campaigns
from reconnect.vocabulary import CAMPAIGN_TYPES, CUSTOM_CANCEL_ALL, DEFAULT_PRIORITY_ORDER


def test_r_rel_2_a_type_carries_products_exactly_when_its_payload_is_made_of_products():
    for t in CAMPAIGN_TYPES.values():
        assert t.carries_products == (t.payload != "trigger_product"), t.name


def test_r_trig_4_the_types_that_watch_products_are_those_triggered_by_product_changes():
    for t in CAMPAIGN_TYPES.values():
        assert t.watches_products == (t.trigger == "product_change"), t.name


def test_r_prio_1_every_type_has_a_place_in_the_default_priority_order():
    classes = {t.priority_class for t in CAMPAIGN_TYPES.values()} | {CUSTOM_CANCEL_ALL}
    assert sorted(DEFAULT_PRIORITY_ORDER) == sorted(classes)


def test_a_plan_reads_whose_journey_it_is_from_the_traits():
    base = {"channels": ["email"], "steps": [{"name": "only"}]}
    gold = parse_campaign(
        {
            **base,
            "id": "gold",
            "name": "gold",
            "type": "user_attribute_change",
            "schedule": {"days": "all", "hour": 10},
            "trigger": {"change": {"attribute": "loyalty_tier", "to": "Gold"}},
        }
    )
    cart = parse_campaign({**base, "id": "cart", "name": "cart", "type": "cart_abandonment",
                           "wait": "1h"})  # fmt: skip
    assert {p.id: p.key_kind for p in plan_campaigns([gold, cart])} == {
        "gold": "cuid",
        "cart": "user",
    }
