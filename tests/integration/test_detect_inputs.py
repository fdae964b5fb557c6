"""Detection's input transforms as exact rows (reconnect.detect.inputs; R-TRIG-1, R-TRIG-4,
R-TRIG-6, R-TYPE-UATTR).

Small inputs, every output row spelled out. Machine inputs are rows of ``inputs.INPUT_SCHEMA``:
``time`` in UTC microseconds, ``rank`` 0 for feed changes and slots and 1 for events (the order at
one instant), ``seq`` the event's id or the change's id, ``triggers`` / ``exits`` the indexes of
the campaigns whose trigger / "don't send if" condition the input meets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.campaigns import parse_campaign
from reconnect.detect import inputs as I
from reconnect.detect.plan import plan_campaigns
from reconnect.lake.feed_state import Feeds
from reconnect.lake.schemas import EVENTS, PRODUCT_SNAPSHOTS, USER_SNAPSHOTS
from reconnect.micros import to_micros

pytestmark = pytest.mark.spark

ONE = [{"name": "only"}]
GAP = 30 * 60  # session_gap, seconds (R-TRIG-6)
CART = {"id": "cart", "name": "cart", "type": "cart_abandonment", "channels": ["email"],
        "wait": "1h", "steps": ONE}  # fmt: skip
CHANGE = {"id": "gold", "name": "gold", "type": "user_attribute_change", "channels": ["email"],
          "steps": ONE, "schedule": {"days": "all", "hour": 10},
          "trigger": {"change": {"attribute": "loyalty_tier", "to": "Gold"}}}  # fmt: skip


def t(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 5, hour, minute)


def us(d: datetime) -> int:
    return to_micros(d.replace(tzinfo=UTC))


def events(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """Bronze event rows: the given fields, every other one null."""
    full = [tuple(r.get(f) for f in EVENTS.fieldNames()) for r in rows]
    return spark.createDataFrame(full, EVENTS)


def no_feeds(spark: SparkSession) -> Feeds:
    return Feeds(
        spark.createDataFrame([], PRODUCT_SNAPSHOTS), spark.createDataFrame([], USER_SNAPSHOTS),
        (), (),
    )  # fmt: skip


def inputs(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, I.INPUT_SCHEMA)


def same(actual: DataFrame, expected: DataFrame) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def event(user: str, eid: str, at: datetime, kind: str, **more: Any) -> dict[str, Any]:
    return {"event_id": eid, "event_time": at, "event_date": at.date(), "user_id": user,
            "event_type": kind, "source_file": "events.jsonl", "source_line": 1,
            **more}  # fmt: skip


def test_r_trig_6_sessions_start_after_the_gap_and_events_that_cannot_matter_are_dropped(
    spark: SparkSession,
):
    # A user's first event ever starts a session, and so does one 30 minutes or more after the
    # previous one (here or in the stored clock). A page view inside a session, with no trigger,
    # exit or cart change, cannot change anything: it is not an input.
    cart = parse_campaign(CART)
    plans = plan_campaigns([cart])
    batch = events(spark, [
        event("u1", "e1", t(10), "page_view"),
        event("u1", "e2", t(10, 10), "page_view"),  # inside the session: dropped
        event("u1", "e3", t(10, 20), "add_to_cart", product_id="P1"),  # R-TRIG-1: triggers cart
        event("u1", "e4", t(10, 50), "page_view"),  # exactly the gap after e3: a new session
        event("u2", "e5", t(10), "page_view"),  # 15 minutes after u2's stored last event
        event("u2", "e6", t(10, 5), "purchase", items=[("P1", 1, None)]),
    ])  # fmt: skip
    clock = spark.createDataFrame(
        [("u2", t(9, 45), "c9")], "user_key string, last_event_at timestamp, cuid string"
    )
    got = I.event_inputs(batch, clock, [cart], plans, no_feeds(spark), t(12), GAP)
    same(got, inputs(spark, [
        ("user", "u1", us(t(10)), 1, "e1", "event", "page_view", None, True, None, [], [], [],
         None, None),
        ("user", "u1", us(t(10, 20)), 1, "e3", "event", "add_to_cart", "P1", False, None, [], [0],
         [], None, None),
        ("user", "u1", us(t(10, 50)), 1, "e4", "event", "page_view", None, True, None, [], [], [],
         None, None),
        # The purchase is a cart change; the cuid stays the one linked before this batch.
        ("user", "u2", us(t(10, 5)), 1, "e6", "event", "purchase", None, False, "c9", ["P1"], [],
         [], None, None),
    ]))  # fmt: skip


def test_r_type_uattr_exits_of_cuid_journeys_are_routed_to_the_linked_cuid(spark: SparkSession):
    # A journey that follows a cuid (a user-feed change) ends on the events of the devices
    # linked to it: such an event is an input of the user and, without triggers, of the cuid.
    gold = parse_campaign({**CHANGE, "dont_send_if": [
        {"field": "event_type", "op": "eq", "value": "purchase"}]})  # fmt: skip
    plans = plan_campaigns([gold])
    batch = events(spark, [
        event("u1", "e1", t(10), "identify", cuid="c1"),
        event("u1", "e2", t(10, 5), "purchase", items=[("P1", 1, None)]),
        event("u2", "e3", t(10, 5), "purchase", items=[("P2", 1, None)]),  # never linked
    ])  # fmt: skip
    clock = spark.createDataFrame([], "user_key string, last_event_at timestamp, cuid string")
    got = I.event_inputs(batch, clock, [gold], plans, no_feeds(spark), t(12), GAP)
    same(got, inputs(spark, [
        # The identify links u1 to c1 (and starts the session): the machine must see it.
        ("user", "u1", us(t(10)), 1, "e1", "event", "identify", None, True, "c1", [], [], [],
         None, None),
        ("user", "u1", us(t(10, 5)), 1, "e2", "event", "purchase", None, False, "c1", ["P1"], [],
         [0], None, None),
        ("user", "u2", us(t(10, 5)), 1, "e3", "event", "purchase", None, True, None, ["P2"], [],
         [0], None, None),
        ("cuid", "c1", us(t(10)), 1, "e1", "event", "identify", None, True, "c1", [], [], [],
         None, None),
        ("cuid", "c1", us(t(10, 5)), 1, "e2", "event", "purchase", None, False, "c1", ["P1"], [],
         [0], None, None),
    ]))  # fmt: skip


def test_r_trig_4_watchers_are_bounded_by_this_batchs_interactions_and_kept_watch_lists(
    spark: SparkSession,
):
    # A change at s matters to a watch whose latest interaction `at` has at < s <= at + window:
    # for this batch's events, after the first interaction and within the longest window after
    # the last one. Watch lists stored from earlier batches reach every change.
    price = parse_campaign({
        "id": "price", "name": "price", "type": "price_drop", "channels": ["email"],
        "steps": ONE, "schedule": {"days": "all", "hour": 10}, "watch_window": "30d",
        "trigger": {"interaction": "add_to_cart", "min_drop_percent": 10},
    })  # fmt: skip
    state = spark.createDataFrame(
        [("user", "u9", ["P1"]), ("cuid", "c1", ["P1"])],
        "key_kind string, user_key string, watched array<string>",
    )
    jan = lambda day: datetime(2026, 1, day)  # noqa: E731
    batch = events(spark, [
        event("u1", "e1", jan(2), "add_to_cart", product_id="P1"),
        event("u1", "e2", jan(5), "add_to_cart", product_id="P1"),
        event("u1", "e3", jan(5), "purchase", product_id="P2"),  # not a watching kind
        event("u2", "e4", jan(5), "product_view", product_id="P1"),  # not this campaign's
        event("u3", "e5", jan(5), "add_to_cart", product_id="P3"),  # P3 did not change
    ])  # fmt: skip
    changed = spark.createDataFrame([("P1",), ("P2",)], "product_id string")
    got = I.watchers(state, batch, changed, plan_campaigns([price]))
    same(got, spark.createDataFrame(
        [("u9", "P1", -(2**62), 2**62), ("u1", "P1", us(jan(2)), us(datetime(2026, 2, 4)))],
        "user_key string, product_id string, watch_from long, watch_until long",
    ))  # fmt: skip


def test_r_type_uattr_a_user_feed_change_to_the_wanted_value_is_an_input_of_the_cuid(
    spark: SparkSession,
):
    gold = parse_campaign(CHANGE)
    plans = plan_campaigns([gold])
    sync = datetime(2026, 1, 6)
    changes = spark.createDataFrame(
        [
            (sync, "c1", "loyalty_tier", "Silver", "Gold"),
            (sync, "c2", "loyalty_tier", "Gold", "Silver"),  # away from Gold: no trigger
            (sync, "c3", "country", "DE", "AT"),  # another attribute
        ],
        "sync_time timestamp, cuid string, attribute string, old_value string, new_value string",
    )
    snapshots = spark.createDataFrame([], USER_SNAPSHOTS)
    got = I.user_change_inputs(changes, snapshots, [gold], plans)
    assert got is not None
    same(got, inputs(spark, [
        ("cuid", "c1", us(sync), 0, "user:c1@2026-01-06T00:00:00Z", "user_change", None, None,
         False, "c1", [], [0], [], None, None),
    ]))  # fmt: skip


def test_as_inputs_fills_every_input_column_not_given(spark: SparkSession):
    df = spark.createDataFrame([("u1", 5)], "who string, at long")
    got = I.as_inputs(df, "slot", key_kind=F.lit("cuid"), user_key="who", time="at")
    same(got, inputs(spark, [
        ("cuid", "u1", 5, 0, None, "slot", None, None, False, None, [], [], [], None, None),
    ]))  # fmt: skip
