"""Detection rules that need Spark, on one small hand-made scenario: audiences at trigger time
(R-TRIG-5), custom offline events with a property condition (R-TYPE-CUSTOM), product conditions
(R-TYPE-VIEW), scheduled campaigns per user-feed audience (R-TYPE-SCHED, R-TRIG-3), a first
appearance counted when the campaign asks (R-TYPE-UATTR) and control variations (R-AB-2)."""

from __future__ import annotations

from datetime import UTC

import pytest

from helpers.scenario import Scenario, campaign, messages, run_pipeline, run_scenario, ts

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


def test_r_trig_4_feed_changes_reach_only_who_may_watch_then(spark):
    # A change at s can only matter to a watch whose latest interaction `at` before it has
    # at < s <= at + watch_window (R-TRIG-4): for this batch's events, after the first
    # interaction and within the longest window after the last one. Watches kept in the state
    # from earlier batches reach every change. The machine decides the rest.
    from reconnect.campaigns.loader import parse_campaign
    from reconnect.detect import inputs as I
    from reconnect.detect.plan import plan_campaigns
    from reconnect.detect.schedule import to_micros

    price = parse_campaign({
        "id": "price", "name": "price", "type": "price_drop", "channels": ["email"],
        "steps": ONE, "schedule": {"days": "all", "hour": 10}, "watch_window": "30d",
        "trigger": {"interaction": "add_to_cart", "min_drop_percent": 10},
    })  # fmt: skip
    state = spark.createDataFrame(
        [("user", "u9", ["P1"]), ("cuid", "c1", ["P1"])],
        "key_kind string, user_key string, watched array<string>",
    )
    events = spark.createDataFrame(
        [
            ("u1", "add_to_cart", "P1", ts("2026-01-02T00:00:00Z")),
            ("u1", "add_to_cart", "P1", ts("2026-01-05T00:00:00Z")),
            ("u1", "purchase", "P2", ts("2026-01-05T00:00:00Z")),  # not a watching kind
            ("u2", "product_view", "P1", ts("2026-01-05T00:00:00Z")),  # not this campaign's
            ("u3", "add_to_cart", "P3", ts("2026-01-05T00:00:00Z")),  # P3 did not change
        ],
        "user_id string, event_type string, product_id string, event_time timestamp",
    )
    changed = spark.createDataFrame([("P1",), ("P2",)], "product_id string")
    found = I.watchers(state, events, changed, plan_campaigns([price]))
    rows = {(r["user_key"], r["product_id"]): (r["watch_from"], r["watch_until"])
            for r in found.collect()}  # fmt: skip

    def us(text: str) -> int:
        return to_micros(ts(text).replace(tzinfo=UTC))

    assert rows == {
        ("u9", "P1"): (-(2**62), 2**62),
        ("u1", "P1"): (us("2026-01-02T00:00:00Z"), us("2026-02-04T00:00:00Z")),
    }


def test_state_ttl_counts_from_the_users_events_not_from_feed_changes_routed_to_them(spark, lake):
    # docs/detection.md, "Bounded state": a user is kept while they have events within
    # state_ttl (30 days), a pending message or an open watch. A product-feed change routed to
    # a watcher in a later batch (here a 1 % drop: no journey) is not the user's activity.
    from pathlib import Path

    from reconnect.tables import SILVER_DETECT_STATE

    price = campaign({"id": "price", "type": "price_drop", "interaction": "add_to_cart",
                      "min_drop_percent": 10, "schedule": {"days": "all", "hour": 10},
                      "channels": ["email"], "steps": ONE})  # fmt: skip
    s = Scenario([price], product_feed=[
        {"sync_time": "2026-01-01T00:00:00Z", "rows": [{"product_id": "P1", "price": 100.00}]},
        {"sync_time": "2026-01-08T00:00:00Z", "rows": [{"product_id": "P1", "price": 99.00}]},
    ])  # fmt: skip
    landing = Path(lake.paths.landing)
    s.write_feeds(landing)
    s.events = [
        ["2026-01-02T10:00:00Z", "u1", "add_to_cart", {"product_id": "P1"}],  # watch until 02-01
        ["2026-01-05T10:00:00Z", "u1", "page_view", {}],  # last event: kept until 02-04 10:00
        ["2026-01-06T00:00:00Z", "tick", "page_view", {}],
    ]
    s.write_events(landing, s.event_rows(), "a.jsonl")
    run_pipeline(spark, lake, s.campaigns, send=False)
    # Batch 2: the watermark passes the 01-08 sync; u1 has no event, the change reaches u1.
    s.write_events(
        landing,
        [{"event_id": "e9", "event_time": "2026-01-10T00:00:00Z", "user_id": "tick",
          "event_type": "page_view"}],
        "b.jsonl",
    )  # fmt: skip
    run_pipeline(spark, lake, s.campaigns, send=False)
    state = spark.read.format("delta").load(SILVER_DETECT_STATE.location(lake))
    u1 = state.where("key_kind = 'user' AND user_key = 'u1'").first()
    assert u1 is not None and u1["watched"] == ["P1"]
    # Not 02-07 (the change's time + 30 days), nor 02-01 (the watch's end) alone.
    assert u1["expires_at"] == ts("2026-02-04T10:00:00Z")
    assert messages(spark, lake) == []  # 1 % is no drop
