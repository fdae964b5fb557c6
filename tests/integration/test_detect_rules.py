"""Detection rules that need Spark, on one small hand-made scenario: audiences at trigger time
(R-TRIG-5), custom offline events with a property condition (R-TYPE-CUSTOM), product conditions
(R-TYPE-VIEW), scheduled campaigns per user-feed audience (R-TYPE-SCHED, R-TRIG-3), a first
appearance counted when the campaign asks (R-TYPE-UATTR) and control variations (R-AB-2)."""

from __future__ import annotations

from datetime import UTC

import pytest
from pyspark.sql import functions as F

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


def test_state_ttl_of_a_user_the_machine_ran_only_for_a_feed_change_stays_their_events(spark, lake):
    # docs/detection.md, "Bounded state": a user is kept while they have events within
    # state_ttl (30 days), a pending message or an open watch. A product-feed change routed to
    # a watcher in a later batch is not the user's activity: the machine then reports only the
    # watch's end (tests/unit/test_detect_machine.py), and the state MERGE keeps the TTL of the
    # last event it stored.
    from reconnect.detect.partition import OUTPUT_SCHEMA
    from reconnect.detect.sinks import write_state
    from reconnect.lake.migrations import ensure_tables
    from reconnect.lake.schemas import DETECT_STATE, EVENTS
    from reconnect.lake.tables import SILVER_DETECT_STATE
    from reconnect.micros import to_micros

    ensure_tables(spark, lake)
    stored = [("user", "u1", None, ts("2026-01-05T10:00:00Z"), "{}", ["P1"],
               ts("2026-02-04T10:00:00Z"))]  # fmt: skip
    spark.createDataFrame(stored, DETECT_STATE).write.format("delta").mode("append").save(
        SILVER_DETECT_STATE.location(lake)
    )
    watch_end = to_micros(ts("2026-02-01T10:00:00Z").replace(tzinfo=UTC))
    ran = {f: None for f in OUTPUT_SCHEMA.fieldNames()}
    ran.update(out="s", key_kind="user", user_key="u1", state_json="{}", watched=["P1"],
               expires_at=watch_end)  # fmt: skip
    machine = spark.createDataFrame([tuple(ran.values())], OUTPUT_SCHEMA)
    no_events = spark.createDataFrame([], EVENTS)
    write_state(spark, lake, no_events, machine, None, ts("2026-01-10T00:00:00Z"))
    state = spark.read.format("delta").load(SILVER_DETECT_STATE.location(lake)).collect()
    assert [(r["user_key"], r["last_event_at"], r["expires_at"]) for r in state] == [
        ("u1", ts("2026-01-05T10:00:00Z"), ts("2026-02-04T10:00:00Z"))
    ]  # not the watch's end (02-01), and not the change's time + 30 days


def test_state_expired_behind_the_previous_watermark_counts_as_absent_until_a_new_day(spark, lake):
    # docs/detection.md, "Bounded state": a state row expired behind the watermark of the batch
    # that wrote it is gone for every later batch (not read, replaced as a new row by the
    # MERGE), and is deleted when the watermark enters a new UTC day.
    from reconnect.detect.batch import live
    from reconnect.detect.partition import OUTPUT_SCHEMA
    from reconnect.detect.sinks import write_state
    from reconnect.lake.migrations import ensure_tables
    from reconnect.lake.schemas import DETECT_STATE, EVENTS
    from reconnect.lake.tables import SILVER_DETECT_STATE

    ensure_tables(spark, lake)
    stored = [
        # expired behind w_prev: u1 comes back in this batch, u2 does not
        ("user", "u1", "c-old", ts("2025-12-01T09:00:00Z"), '{"old": 1}', ["P9"],
         ts("2026-01-05T08:00:00Z")),
        ("user", "u2", None, ts("2025-12-01T09:00:00Z"), "{}", [], ts("2026-01-05T08:30:00Z")),
        # live: expires at the previous watermark itself
        ("user", "u3", "c3", ts("2025-12-06T09:00:00Z"), "{}", [], ts("2026-01-05T09:00:00Z")),
    ]  # fmt: skip
    table = SILVER_DETECT_STATE.location(lake)
    spark.createDataFrame(stored, DETECT_STATE).write.format("delta").mode("append").save(table)
    w_prev, w = ts("2026-01-05T09:00:00Z"), ts("2026-01-05T12:00:00Z")

    def read() -> dict[str, tuple]:
        rows = spark.read.format("delta").load(table).collect()
        return {r["user_key"]: (r["cuid"], r["state"], r["watched"], r["expires_at"]) for r in rows}

    assert sorted(r["user_key"] for r in live(spark.read.format("delta").load(table), w_prev)
                  .collect()) == ["u3"]  # fmt: skip
    ran = {f: None for f in OUTPUT_SCHEMA.fieldNames()}
    ran.update(out="s", key_kind="user", user_key="u1", state_json='{"new": 1}', watched=[],
               expires_at=None)  # fmt: skip
    machine = spark.createDataFrame([tuple(ran.values())], OUTPUT_SCHEMA)
    events = spark.createDataFrame(
        [("e1", ts("2026-01-05T10:00:00Z"), "u1", "page_view")],
        "event_id string, event_time timestamp, user_id string, event_type string",
    )
    finalized = events.select(
        *[events[f.name] if f.name in events.columns else F.lit(None).cast(f.dataType).alias(f.name)
          for f in EVENTS.fields]
    )  # fmt: skip
    write_state(spark, lake, finalized, machine, w_prev, w, since=w_prev)
    after = read()
    # u1 as a new row: no cuid, watch list or expiry carried over from the expired one.
    assert after["u1"] == (None, '{"new": 1}', [], ts("2026-02-04T10:00:00Z"))
    assert set(after) == {"u1", "u2", "u3"}  # the same day: u2 is kept (and never read)
    # The next batch's watermark enters a new day: the rows expired behind it are deleted.
    nxt = ts("2026-01-06T00:10:00Z")
    write_state(spark, lake, finalized.limit(0), machine.limit(0), w, nxt, since=w)
    assert set(read()) == {"u1"}


def test_a_rerun_batch_applies_again_the_feed_syncs_its_stopped_attempt_recorded(spark, lake):
    # docs/detection.md, "Exactly once": a batch records the feed syncs it applied before its
    # progress row, its last write. An attempt stopped in between (a crash, a kill) is re-run
    # under the same batch id from the state before it, so the re-run applies those syncs again
    # (else their price drops and attribute changes, R-TRIG-4, R-TYPE-PRICE, R-TYPE-UATTR, would
    # be lost from the state); a later batch does not.
    from reconnect.detect.batch import SyncsToApply
    from reconnect.detect.pipeline import feeds_and_syncs_to_apply
    from reconnect.lake.migrations import ensure_tables
    from reconnect.lake.schemas import DETECT_FEED_SYNCS, FEED_SYNC_PROGRESS
    from reconnect.lake.tables import SILVER_DETECT_FEED_SYNCS, SILVER_FEED_SYNC_PROGRESS

    ensure_tables(spark, lake)
    p1, u1, p2 = ts("2026-01-05T00:00:00Z"), ts("2026-01-06T00:00:00Z"), ts("2026-01-07T00:00:00Z")
    diffed = [("product_feed", p1, None, 1, 2), ("user_feed", u1, None, 1, 1),
              ("product_feed", p2, p1, 2, 1)]  # fmt: skip
    spark.createDataFrame(diffed, FEED_SYNC_PROGRESS).write.format("delta").mode("append").save(
        SILVER_FEED_SYNC_PROGRESS.location(lake)
    )
    recorded = [("product_feed", p1, 3, False), ("user_feed", u1, 4, False)]
    spark.createDataFrame(recorded, DETECT_FEED_SYNCS).write.format("delta").mode("append").save(
        SILVER_DETECT_FEED_SYNCS.location(lake)
    )
    w_prev, w = ts("2026-01-05T12:00:00Z"), ts("2026-01-08T00:00:00Z")
    # Batch 4 stopped after recording u1: its re-run applies u1 again, not p1 (batch 3's).
    # (The re-run records its syncs with an insert-only MERGE, a later batch with an append.)
    assert feeds_and_syncs_to_apply(spark, lake, 4, w_prev, w)[1] == SyncsToApply(
        product=[p2], user=[u1], late=[], rerun=True
    )
    assert feeds_and_syncs_to_apply(spark, lake, 5, w_prev, w)[1] == SyncsToApply(
        product=[p2], user=[], late=[], rerun=False
    )
