"""Detection rules that need Spark, on one small hand-made scenario: audiences at trigger time
(R-TRIG-5), custom offline events with a property condition (R-TYPE-CUSTOM), product conditions
(R-TYPE-VIEW), scheduled campaigns per user-feed audience (R-TYPE-SCHED, R-TRIG-3), a first
appearance counted when the campaign asks (R-TYPE-UATTR) and control variations (R-AB-2)."""

from __future__ import annotations

import pytest

from helpers.scenario import Scenario, campaign, messages, run_scenario, ts

pytestmark = pytest.mark.spark

ONE = [{"name": "only"}]
CAMPAIGNS = [
    {"id": "aud", "type": "cart_abandonment", "wait": "1h", "steps": ONE,
     "audience": {"field": "attributes.country", "op": "eq", "value": "DE"}},
    {"id": "hold", "type": "cart_abandonment", "wait": "1h",
     "variations": [{"id": "holdout", "weight": 100, "control": True, "steps": ONE}]},
    {"id": "offline", "type": "custom", "wait": "5m", "steps": ONE,
     "trigger": {"event_name": "store_visit",
                 "where": {"field": "properties.store", "op": "eq", "value": "berlin"}}},
    {"id": "sneakers", "type": "product_view", "wait": "1h", "steps": ONE,
     "trigger": {"product": {"field": "category", "op": "eq", "value": "shoes"}}},
    {"id": "weekly", "type": "scheduled", "steps": ONE,
     "trigger": {"every": {"days": ["monday"], "hour": 9}},
     "audience": {"field": "attributes.loyalty_tier", "op": "eq", "value": "Gold"}},
    {"id": "firsttime", "type": "user_attribute_change", "steps": ONE,
     "trigger": {"change": {"attribute": "loyalty_tier", "to": "Gold"},
                 "include_first_appearance": True}},
]  # fmt: skip
USER_FEED = [
    {"sync_time": "2026-01-05T00:00:00Z", "rows": [
        {"cuid": "c1", "country": "DE", "loyalty_tier": "Silver"},
        {"cuid": "c2", "country": "FR", "loyalty_tier": "Gold"}]},
    {"sync_time": "2026-01-06T00:00:00Z", "rows": [
        {"cuid": "c1", "country": "DE", "loyalty_tier": "Gold"},
        {"cuid": "c2", "country": "FR", "loyalty_tier": "Gold"},
        {"cuid": "c3", "country": "AT", "loyalty_tier": "Gold"}]},
]  # fmt: skip
EVENTS = [
    ["2026-01-05T10:00:00Z", "u1", "identify", {"cuid": "c1"}],
    ["2026-01-05T10:01:00Z", "u1", "add_to_cart", {"product_id": "P1"}],  # DE, linked before
    ["2026-01-05T10:00:00Z", "u2", "add_to_cart", {"product_id": "P1", "cuid": "c2"}],  # FR
    ["2026-01-05T10:00:00Z", "u3", "add_to_cart", {"product_id": "P1"}],  # never identified
    ["2026-01-05T11:00:00Z", "u4", "custom", {"event_name": "store_visit",
                                              "properties": {"store": "berlin"}}],
    ["2026-01-05T11:00:00Z", "u5", "custom", {"event_name": "store_visit",
                                              "properties": {"store": "paris"}}],
    ["2026-01-05T12:00:00Z", "u6", "product_view", {"product_id": "P2", "category": "shoes"}],
    ["2026-01-05T12:00:00Z", "u7", "product_view", {"product_id": "P3", "category": "hats"}],
    ["2026-01-13T00:00:00Z", "tick", "page_view", {}],
]  # fmt: skip


def test_audiences_custom_offline_product_conditions_schedules_first_appearance_control(
    spark, lake
):
    s = Scenario([campaign({"channels": ["email"], **c}) for c in CAMPAIGNS], EVENTS)
    s.user_feed = USER_FEED
    run_scenario(spark, lake, s)
    got = {(m["campaign_id"], m["user_key"], m["due_at"]): m for m in messages(spark, lake)}
    assert sorted(got) == sorted(
        [
            # R-TRIG-5: only the DE user passes; a user never identified has no attributes.
            ("aud", "u1", ts("2026-01-05T11:01:00Z")),
            ("hold", "u1", ts("2026-01-05T11:01:00Z")),
            ("hold", "u2", ts("2026-01-05T11:00:00Z")),
            ("hold", "u3", ts("2026-01-05T11:00:00Z")),
            # R-TYPE-CUSTOM: an offline event with the property; not the other store.
            ("offline", "u4", ts("2026-01-05T11:05:00Z")),
            # R-TYPE-VIEW with a product condition.
            ("sneakers", "u6", ts("2026-01-05T13:00:00Z")),
            # R-TYPE-SCHED: every Monday 09:00, Gold users of the latest user sync then.
            ("weekly", "c2", ts("2026-01-05T09:00:00Z")),
            ("weekly", "c1", ts("2026-01-12T09:00:00Z")),
            ("weekly", "c2", ts("2026-01-12T09:00:00Z")),
            ("weekly", "c3", ts("2026-01-12T09:00:00Z")),
            # R-TYPE-UATTR: c1 changes to Gold; c3 appears in Gold (counted: the campaign asks),
            # and so does c2 in the feed's very first sync (docs/detection.md).
            ("firsttime", "c2", ts("2026-01-05T10:00:00Z")),
            ("firsttime", "c1", ts("2026-01-06T10:00:00Z")),
            ("firsttime", "c3", ts("2026-01-06T10:00:00Z")),
        ]
    )
    # R-AB-2: control journeys go through every rule; their messages are flagged for the sender.
    assert {m["is_control"] for k, m in got.items() if k[0] == "hold"} == {True}
    assert not any(m["is_control"] for k, m in got.items() if k[0] != "hold")
    assert got[("weekly", "c1", ts("2026-01-12T09:00:00Z"))]["cuid"] == "c1"
    assert got[("aud", "u1", ts("2026-01-05T11:01:00Z"))]["cuid"] == "c1"
    assert all(m["state"] == "PENDING" for m in got.values())
