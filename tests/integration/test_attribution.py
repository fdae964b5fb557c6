"""Attribution (R-ATTR-1): hand-made bronze events and sent messages through ``run_attribute``.

Every campaign here has the default 7-day window; a window includes its last instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from tests.helpers.attribution import DAY0, land, message

from reconnect.attribute.pipeline import run_attribute
from reconnect.lake.reads import table
from reconnect.lake.tables import (
    GOLD_ATTRIBUTED_PURCHASES,
    SILVER_ENGAGEMENT_QUARANTINE,
)


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


def click(eid: str, mid: str, t: datetime, user: str = "u1") -> dict:
    return {"event_id": eid, "event_time": t, "user_id": user, "event_type": "message_click",
            "message_id": mid}  # fmt: skip


def purchase(order: str, revenue: int, t: datetime, user: str = "u1") -> dict:
    return {"event_id": f"e-{order}", "event_time": t, "user_id": user, "event_type": "purchase",
            "order_id": order, "revenue": Decimal(revenue),
            "items": [{"product_id": "p1", "quantity": 1, "price": Decimal(revenue)}]}  # fmt: skip


def credited(spark, lake, view: str):
    return (
        table(spark, lake, GOLD_ATTRIBUTED_PURCHASES)
        .where(f"attribution = '{view}'")
        .select("order_id", "campaign_id", "message_id")
    )


def expect(spark, rows: list[tuple[str, str, str]]):
    return spark.createDataFrame(rows, "order_id string, campaign_id string, message_id string")


def assert_credit(spark, lake, view: str, rows: list[tuple[str, str, str]]) -> None:
    assert_df_equality(
        credited(spark, lake, view), expect(spark, rows), ignore_row_order=True,
        ignore_nullable=True,
    )  # fmt: skip


@pytest.fixture()
def two_campaigns(spark, lake):
    """u1 clicks m1 of A on day 0 at 10:00 and m2 of B on day 2 at 10:00 (the worked example)."""
    land(spark, lake, [click("c1", "m1", at(0, 10)), click("c2", "m2", at(2, 10))],
         [message("m1", "A"), message("m2", "B")])  # fmt: skip
    return lake


def test_r_attr_1_worked_example_last_click_and_per_campaign(spark, two_campaigns):
    lake = two_campaigns
    land(spark, lake, [purchase("o1", 50, at(3, 9)), purchase("o2", 30, at(9, 10)),
                       purchase("o3", 20, at(9, 10, 0, 1))])  # fmt: skip
    summary = run_attribute(spark, lake, [])
    # Last click: o1 and o2 to B (B 80, A 0), o3 (one second after B's window) to nobody.
    assert_credit(spark, lake, "last_click", [("o1", "B", "m2"), ("o2", "B", "m2")])
    # Per campaign: o1 to A and to B, o2 to B (A 50, B 80).
    assert_credit(spark, lake, "per_campaign",
                  [("o1", "A", "m1"), ("o1", "B", "m2"), ("o2", "B", "m2")])  # fmt: skip
    revenue = {
        (r["attribution"], r["campaign_id"]): r["r"]
        for r in table(spark, lake, GOLD_ATTRIBUTED_PURCHASES)
        .groupBy("attribution", "campaign_id")
        .agg({"revenue": "sum"})
        .withColumnRenamed("sum(revenue)", "r")
        .collect()
    }
    assert revenue == {("last_click", "B"): 80, ("per_campaign", "A"): 50,
                       ("per_campaign", "B"): 80}  # fmt: skip
    assert summary.run["clicks"] == 2 and summary.run["purchases_read"] == 3


def test_r_attr_1_a_purchase_one_second_inside_the_window_is_credited(spark, lake):
    land(spark, lake, [click("c1", "m1", at(0, 10)), purchase("o1", 10, at(7, 10))],
         [message("m1", "A")])  # fmt: skip
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [("o1", "A", "m1")])


def test_r_attr_1_a_purchase_one_second_outside_the_window_is_not(spark, lake):
    land(spark, lake, [click("c1", "m1", at(0, 10)), purchase("o1", 10, at(7, 10, 0, 1))],
         [message("m1", "A")])  # fmt: skip
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [])
    assert_credit(spark, lake, "per_campaign", [])


def test_r_attr_1_a_purchase_without_a_click_is_not_credited(spark, lake):
    land(spark, lake, [purchase("o1", 10, at(1, 10))], [message("m1", "A")])
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [])


def test_r_attr_1_a_purchase_before_the_click_is_not_credited(spark, lake):
    land(spark, lake, [purchase("o1", 10, at(0, 9)), click("c1", "m1", at(0, 10))],
         [message("m1", "A")])  # fmt: skip
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "per_campaign", [])


def test_r_attr_1_another_persons_purchase_is_not_credited(spark, lake):
    land(spark, lake, [click("c1", "m1", at(0, 10)), purchase("o1", 10, at(1, 10), user="u2")],
         [message("m1", "A")])  # fmt: skip
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "per_campaign", [])


def test_r_attr_1_two_clicks_of_one_campaign_credit_its_latest_once(spark, lake):
    land(spark, lake, [click("c1", "m1", at(0, 10)), click("c2", "m2", at(1, 10)),
                       purchase("o1", 10, at(2, 10))],
         [message("m1", "A"), message("m2", "A")])  # fmt: skip
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [("o1", "A", "m2")])
    assert_credit(spark, lake, "per_campaign", [("o1", "A", "m2")])


def test_r_attr_1_a_late_purchase_in_a_later_batch_is_credited(spark, two_campaigns):
    lake = two_campaigns
    run_attribute(spark, lake, [])
    land(spark, lake, [purchase("o1", 50, at(3, 9))])
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [("o1", "B", "m2")])


def test_r_attr_1_a_late_click_moves_the_last_click_credit(spark, lake):
    land(spark, lake, [click("c1", "m1", at(0, 10)), purchase("o1", 50, at(3, 9))],
         [message("m1", "A"), message("m2", "B")])  # fmt: skip
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [("o1", "A", "m1")])
    land(spark, lake, [click("c2", "m2", at(2, 10))])  # arrives after the purchase
    run_attribute(spark, lake, [])
    assert_credit(spark, lake, "last_click", [("o1", "B", "m2")])
    assert_credit(spark, lake, "per_campaign", [("o1", "A", "m1"), ("o1", "B", "m2")])


def test_a_click_on_an_unknown_message_or_another_users_is_quarantined(spark, lake):
    land(spark, lake, [click("c1", "nope", at(0, 10)), click("c2", "m1", at(0, 11), user="u2"),
                       purchase("o1", 10, at(1, 10)), purchase("o2", 10, at(1, 10), user="u2")],
         [message("m1", "A")])  # fmt: skip
    summary = run_attribute(spark, lake, [])
    reasons = table(spark, lake, SILVER_ENGAGEMENT_QUARANTINE).select("event_id", "reason")
    assert_df_equality(
        reasons,
        spark.createDataFrame([("c1", "UNKNOWN_MESSAGE"), ("c2", "NOT_THE_RECIPIENT")],
                              "event_id string, reason string"),
        ignore_row_order=True, ignore_nullable=True,
    )  # fmt: skip
    assert_credit(spark, lake, "per_campaign", [])
    assert summary.quarantined_by_reason == {"UNKNOWN_MESSAGE": 1, "NOT_THE_RECIPIENT": 1}


def test_a_second_run_over_the_same_events_changes_nothing(spark, two_campaigns):
    lake = two_campaigns
    land(spark, lake, [purchase("o1", 50, at(3, 9))])
    run_attribute(spark, lake, [])
    before = table(spark, lake, GOLD_ATTRIBUTED_PURCHASES).collect()
    summary = run_attribute(spark, lake, [])
    assert summary.batches == 0
    assert sorted(table(spark, lake, GOLD_ATTRIBUTED_PURCHASES).collect()) == sorted(before)
