"""Detection rules on the pure state machine and the schedule: small inputs, exact outcomes.

Conditions are Spark Columns (evaluated in tests/integration); here an input says which campaigns
it triggers, as Spark hands it to the machine.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from reconnect.campaigns import parse_campaign
from reconnect.detect.machine import Input, Machine, drop_percent, sorted_inputs
from reconnect.detect.plan import bucket_of, plan_campaigns
from reconnect.detect.schedule import next_slot, slots_between
from reconnect.detect.state import UserState
from reconnect.micros import from_micros, to_micros


def t(text: str) -> int:
    return to_micros(datetime.fromisoformat(text.replace("Z", "+00:00")))


def iso(micros: int) -> str:
    return from_micros(micros).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine(*raw: dict, slots: int = 3) -> Machine:
    campaigns = [parse_campaign({"name": r["id"], "channels": ["email"], **r}) for r in raw]
    return Machine(plan_campaigns(campaigns), slots)


CART = {"id": "cart", "type": "cart_abandonment", "wait": "3h", "steps": [{"name": "reminder"}]}
CART2 = {**CART, "steps": [{"name": "first"}, {"name": "second", "wait": "1d"}]}


def ev(time: str, seq: str, etype: str, m: Machine, **kw) -> Input:
    """An event input; ``trig`` names campaigns it triggers."""
    names = kw.pop("trig", ())
    trig = tuple(p.index for p in m.plans if p.id in names)
    return Input(t(time), seq, "event", etype, triggers=trig, **kw)


def run(m: Machine, inputs: list[Input], state: UserState | None = None, key: str = "u1"):
    state = state or UserState()
    msgs, journeys, _ = m.run("user", key, state, sorted_inputs(inputs))
    return {(r.campaign_id, r.step_number, iso(r.due_at)): r for r in msgs}, journeys, state


def test_r_exit_1_purchase_one_second_before_and_at_due_cancels_one_after_does_not():
    m = machine(CART)
    out = {}
    for when in ("12:59:59", "13:00:00", "13:00:01"):
        msgs, _, _ = run(m, [
            ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
            ev("2026-01-05T10:20:00Z", "b", "page_view", m),
            ev(f"2026-01-05T{when}Z", "p", "purchase", m, items=("P1",)),
        ])  # fmt: skip
        out[when] = msgs[("cart", 1, "2026-01-05T13:00:00Z")]
    assert (out["12:59:59"].state, out["12:59:59"].decided_by) == ("CANCELLED", "p")
    assert out["13:00:00"].state == "CANCELLED"  # at the due time still cancels (R-EXIT-1)
    assert out["13:00:01"].state == "PENDING"  # after due: the message was already due


def test_r_exit_1_cancel_covers_every_later_step_only():
    m = machine(CART2)
    msgs, journeys, _ = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
        ev("2026-01-05T20:00:00Z", "p", "purchase", m, items=("P1",)),
    ])  # fmt: skip
    assert msgs[("cart", 1, "2026-01-05T13:00:00Z")].state == "PENDING"  # due before: untouched
    assert msgs[("cart", 2, "2026-01-06T13:00:00Z")].state == "CANCELLED"
    assert journeys[-1].state == "CANCELLED" and journeys[-1].ended_by == "p"


def test_r_exit_1_an_event_at_trigger_time_is_not_after_the_trigger():
    m = machine(CART)
    msgs, _, _ = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
        ev("2026-01-05T10:00:00Z", "b", "purchase", m, items=("P9",)),
    ])  # fmt: skip
    assert msgs[("cart", 1, "2026-01-05T13:00:00Z")].state == "PENDING"


def test_r_rel_1_retrigger_supersedes_and_r_rel_2_payload_is_the_cart_most_recent_first():
    m = machine(CART)
    msgs, _, _ = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
        ev("2026-01-05T10:01:00Z", "b", "add_to_cart", m, product_id="P2", trig=["cart"]),
        ev("2026-01-05T10:02:00Z", "c", "add_to_cart", m, product_id="P3", trig=["cart"]),
        ev("2026-01-05T10:03:00Z", "d", "add_to_cart", m, product_id="P4", trig=["cart"]),
    ])  # fmt: skip
    assert [msgs[("cart", 1, f"2026-01-05T13:0{i}:00Z")].state for i in range(4)] == [
        "SUPERSEDED", "SUPERSEDED", "SUPERSEDED", "PENDING"
    ]  # fmt: skip
    assert msgs[("cart", 1, "2026-01-05T13:00:00Z")].decided_by == "b"
    last = msgs[("cart", 1, "2026-01-05T13:03:00Z")]
    assert [p[0] for p in last.products] == ["P4", "P3", "P2"]  # N = 3 slots


def test_r_rel_2_emptied_cart_leaves_an_empty_payload_and_sync_cart_replaces_it():
    m = machine(CART)
    msgs, _, state = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
        ev("2026-01-05T10:10:00Z", "b", "remove_from_cart", m, product_id="P1"),
    ])  # fmt: skip
    assert msgs[("cart", 1, "2026-01-05T13:00:00Z")].products == ()
    msgs, _, state = run(m, [
        ev("2026-01-05T10:20:00Z", "c", "sync_cart", m, items=("P7", "P8")),
    ], state)  # fmt: skip
    assert [p[0] for p in msgs[("cart", 1, "2026-01-05T13:00:00Z")].products] == ["P7", "P8"]


def test_r_rel_2_cart_persists_across_sessions_and_batches():
    m = machine(CART)
    _, _, state = run(m, [ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1")])
    state = UserState.from_json(state.to_json())  # as the state table keeps it
    msgs, _, _ = run(m, [
        ev("2026-01-09T10:00:00Z", "b", "add_to_cart", m, product_id="P2", new_session=True,
           trig=["cart"]),
    ], state)  # fmt: skip
    assert [p[0] for p in msgs[("cart", 1, "2026-01-09T13:00:00Z")].products] == ["P2", "P1"]


def test_r_trig_6_new_session_cancels_the_cart_journey():
    m = machine(CART)
    msgs, _, _ = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
        ev("2026-01-05T10:45:00Z", "b", "page_view", m, new_session=True),
    ])  # fmt: skip
    r = msgs[("cart", 1, "2026-01-05T13:00:00Z")]
    assert (r.state, r.reason, r.decided_by) == ("CANCELLED", "EXIT_CONDITION", "b")


PRICE = {
    "id": "price", "type": "price_drop", "schedule": {"days": "all", "hour": 10},
    "trigger": {"interaction": "add_to_cart", "min_drop_percent": 10}, "steps": [{"name": "drop"}],
}  # fmt: skip


def change(time: str, product: str, price: str, m: Machine, campaigns=("price",)) -> Input:
    trig = tuple(p.index for p in m.plans if p.id in campaigns)
    return Input(t(time), f"product:{product}@{time}", "product_change", product_id=product,
                 triggers=trig, price=Decimal(price))  # fmt: skip


def test_r_type_price_9_99_percent_is_no_drop_10_percent_is():
    assert drop_percent(Decimal("100"), Decimal("90.01")) == Decimal("9.99")
    assert drop_percent(Decimal("100"), Decimal("90.00")) == Decimal("10")
    m = machine(PRICE)
    msgs, _, _ = run(m, [
        ev("2026-01-01T12:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("100")),
        change("2026-01-02T00:00:00Z", "P1", "90.01", m),
        change("2026-01-03T00:00:00Z", "P1", "90.00", m),
    ])  # fmt: skip
    assert list(msgs) == [("price", 1, "2026-01-03T10:00:00Z")]
    (p,) = msgs[("price", 1, "2026-01-03T10:00:00Z")].products
    assert p == ("P1", Decimal("100"), Decimal("10.0000"))


def test_r_trig_4_watch_window_expired_and_restarted_by_a_new_interaction():
    m = machine(PRICE)
    add = ev("2026-01-01T12:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("50"))
    msgs, _, _ = run(m, [add, change("2026-01-31T12:00:01Z", "P1", "40", m)])
    assert msgs == {}  # 30 days and a second after the interaction: expired
    msgs, _, _ = run(m, [add, change("2026-01-31T12:00:00Z", "P1", "40", m)])
    assert len(msgs) == 1  # exactly 30 days: still watched
    again = ev("2026-01-20T12:00:00Z", "b", "add_to_cart", m, product_id="P1", price=Decimal("45"))
    msgs, _, _ = run(m, [add, again, change("2026-02-15T00:00:00Z", "P1", "40", m)])
    (r,) = msgs.values()
    assert r.products[0][1] == Decimal("45")  # the baseline is the price at the last interaction
    assert r.products[0][2] == Decimal("11.1111")


def test_state_ttl_counts_from_the_users_own_inputs_not_product_feed_changes():
    # docs/detection.md, bounded state: kept while the user has events within state_ttl (or a
    # pending message, or an open watch). A product-feed change is not activity of the user.
    m = machine(PRICE)
    add = ev("2026-01-01T12:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("50"))
    state = UserState()
    _, _, last = m.run("user", "u1", state, [add, change("2026-01-09T00:00:00Z", "P1", "50", m)])
    assert last == t("2026-01-01T12:00:00Z")
    _, _, last = m.run("user", "u1", state, [change("2026-01-10T00:00:00Z", "P1", "50", m)])
    assert last == 0  # only a feed change: the stored clock (silver.detect_state) keeps the TTL
    ttl = 30 * 86_400 * 1_000_000
    # The open watch still keeps the state (the longest watch window after the interaction).
    assert state.expires_at(last, ttl, m.max_window) == t("2026-01-31T12:00:00Z")


def test_r_type_price_a_purchase_after_the_interaction_ends_the_watch():
    m = machine(PRICE)
    msgs, _, _ = run(m, [
        ev("2026-01-01T12:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("100")),
        ev("2026-01-02T12:00:00Z", "p", "purchase", m, items=("P9",)),
        change("2026-01-03T00:00:00Z", "P1", "50", m),
    ])  # fmt: skip
    assert msgs == {}


def test_r_prio_3_cancel_all_others_cancels_other_journeys_but_not_attribute_changes():
    store = {
        "id": "store", "type": "custom", "cancel_all_others": True, "wait": "1h",
        "trigger": {"event_name": "store_visit"}, "steps": [{"name": "thanks"}],
    }  # fmt: skip
    m = machine(CART, store)
    msgs, _, _ = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"]),
        ev("2026-01-05T11:00:00Z", "s", "custom", m, trig=["store"]),
    ])  # fmt: skip
    r = msgs[("cart", 1, "2026-01-05T13:00:00Z")]
    assert (r.state, r.reason, r.decided_by) == ("CANCELLED", "CANCELLED_BY_PRIORITY", "s")
    assert msgs[("store", 1, "2026-01-05T12:00:00Z")].state == "PENDING"


def test_r_step_1_each_step_is_due_its_wait_after_the_previous_one():
    three = {
        **CART,
        "steps": [{"name": "a"}, {"name": "b", "wait": "1d"}, {"name": "c", "wait": "2d"}],
    }
    m = machine(three)
    msgs, _journeys, _ = run(
        m, [ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", trig=["cart"])]
    )
    assert sorted(k[2] for k in msgs) == [
        "2026-01-05T13:00:00Z", "2026-01-06T13:00:00Z", "2026-01-08T13:00:00Z"
    ]  # fmt: skip
    assert [r.step_name for r in sorted(msgs.values(), key=lambda r: r.step_number)] == [
        "a",
        "b",
        "c",
    ]


def test_r_ab_1_variation_is_a_pure_function_of_campaign_and_user():
    ab = {**CART, "variations": [
        {"id": "x", "weight": 30, "steps": [{"name": "r"}]},
        {"id": "y", "weight": 70, "steps": [{"name": "r"}]},
    ]}  # fmt: skip
    del ab["steps"]
    m = machine(ab)
    plan = m.plans[0]
    counts = Counter(plan.variation_for(f"user{i}").id for i in range(20_000))
    assert 0.28 < counts["x"] / 20_000 < 0.32
    assert bucket_of("cart", "u1") == bucket_of("cart", "u1")
    assert len({bucket_of(c, "u1") for c in ("a", "b", "c", "d", "e")}) > 1  # per campaign
    first = run(
        m, [ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P", trig=["cart"])]
    )[0]
    again = run(
        m, [ev("2026-02-05T10:00:00Z", "z", "add_to_cart", m, product_id="P", trig=["cart"])]
    )[0]
    assert {r.variation_id for r in first.values()} == {r.variation_id for r in again.values()}


def test_r_trig_3_schedule_dst_week_has_one_slot_a_day_at_local_hour():
    berlin = ZoneInfo("Europe/Berlin")
    everyday = tuple(range(7))
    spring = [
        iso(s)
        for s in slots_between(
            t("2026-03-27T00:00:00Z"), t("2026-04-01T00:00:00Z"), everyday, 10, berlin
        )
    ]
    assert spring == [
        "2026-03-27T09:00:00Z", "2026-03-28T09:00:00Z", "2026-03-29T08:00:00Z",
        "2026-03-30T08:00:00Z", "2026-03-31T08:00:00Z",
    ]  # fmt: skip
    autumn = [
        iso(s)
        for s in slots_between(
            t("2026-10-23T00:00:00Z"), t("2026-10-28T00:00:00Z"), everyday, 2, berlin
        )
    ]
    assert autumn == [
        "2026-10-23T00:00:00Z", "2026-10-24T00:00:00Z", "2026-10-25T00:00:00Z",
        "2026-10-26T01:00:00Z", "2026-10-27T01:00:00Z",
    ]  # 02:00 on the fall-back day happens twice: its first occurrence, once  # fmt: skip
    # 02:00 does not exist on the spring-forward day: the slot is 03:00 CEST, not skipped.
    assert iso(next_slot(t("2026-03-28T23:30:00Z"), everyday, 2, berlin)) == "2026-03-29T01:00:00Z"
    # A detection at 23:30 UTC is already the next day in Berlin (vector V12).
    assert iso(next_slot(t("2026-03-28T23:30:00Z"), everyday, 10, berlin)) == "2026-03-29T08:00:00Z"
    assert (
        iso(next_slot(t("2026-03-28T23:30:00Z"), (0,), 10, ZoneInfo("UTC")))
        == "2026-03-30T10:00:00Z"
    )
    # At the slot itself: that slot (at or after).
    assert (
        iso(next_slot(t("2026-01-03T10:00:00Z"), everyday, 10, ZoneInfo("UTC")))
        == "2026-01-03T10:00:00Z"
    )


def test_state_round_trips_through_json():
    m = machine(CART2, PRICE)
    _, _, state = run(m, [
        ev("2026-01-05T10:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("9.5"),
           trig=["cart"]),
    ])  # fmt: skip
    again = UserState.from_json(state.to_json())
    assert again.to_json() == state.to_json()
    assert again.watched_products() == ["P1"]


def test_feed_triggered_journeys_are_addressed_to_the_linked_cuid():
    m = machine(PRICE)
    msgs, _, _ = run(m, [
        ev("2026-01-01T12:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("100"),
           cuid="c1"),
        change("2026-01-03T00:00:00Z", "P1", "80", m),
    ])  # fmt: skip
    assert [r.cuid for r in msgs.values()] == ["c1"]
    state = UserState()
    state.cuid = "c9"  # linked in an earlier batch (the state table's cuid column)
    add = ev("2026-01-01T12:00:00Z", "a", "add_to_cart", m, product_id="P1", price=Decimal("100"))
    msgs, _, _ = run(m, [add, change("2026-01-03T00:00:00Z", "P1", "80", m)], state)
    assert [r.cuid for r in msgs.values()] == ["c9"]
