"""The sender's per-person decision (reconnect.send.decide), on hand-made messages, no Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helpers.scenario import campaign
from reconnect.send.decide import (
    CampaignRules,
    decide_person,
    priority_ranks,
    quiet_end,
    send_time,
)
from reconnect.settings import QuietHours, SenderSettings
from reconnect.vocabulary import CHANNELS, REASONS

SENDER = SenderSettings()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us(text: str) -> int:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t - EPOCH) // timedelta(microseconds=1)


def rules(*raws: dict[str, Any], sender: SenderSettings = SENDER) -> dict[str, CampaignRules]:
    cs = [campaign(r) for r in raws]
    ranks = priority_ranks(cs, sender)
    return {c.id: CampaignRules.of(c, ranks[c.id]) for c in cs}


def msg(campaign_id: str, at: str, n: int = 1, **over: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "message_id": f"{campaign_id}-{at}-{n}",
        "campaign_id": campaign_id,
        "variation_id": "default",
        "step_number": 1,
        "is_control": False,
        "due_at": us(at),
        "send_at": us(at),
        "state": "PENDING",
        "reason": None,
        "payload": [{"product_id": "P1"}],
        "audience_ok": True,
        "preempted": False,
        "identified": [True] * 4,
        "consent": [True, False, False, False],
        "address": ["u1@example.com", None, None, None],
        "user_attributes": {},
    }
    m.update(over)
    return m


PING = {"id": "ping", "type": "custom", "trigger": {"event_name": "ping"}, "wait": "5m",
        "channels": ["email"], "steps": [{"name": "ping"}]}  # fmt: skip


def outcomes(history, messages, rs, sender=SENDER):
    return [(m["message_id"], d.state, d.reason, d.channel) for m, d in
            decide_person(history, messages, rs, sender)]  # fmt: skip


def test_r_cap_1_sixth_send_in_24h_dropped_and_24h_plus_1s_later_sent():
    # R-CAP-1, R-CAP-3: five sends fill the window; the window excludes its start.
    rs = rules(PING)
    times = [f"2026-01-05T0{h}:00:00Z" for h in range(6)]
    later = ["2026-01-05T23:59:59Z", "2026-01-06T00:00:00Z", "2026-01-06T00:00:01Z"]
    got = outcomes([], [msg("ping", t) for t in times + later], rs)
    states = [(s, r) for _, s, r, _ in got]
    assert states[:5] == [("SENT", None)] * 5
    assert states[5] == ("SUPPRESSED", "FREQUENCY_CAP_GLOBAL")
    assert states[6] == ("SUPPRESSED", "FREQUENCY_CAP_GLOBAL")  # 00:00 d1 is still inside
    assert states[7] == ("SENT", None)  # exactly 24 h after the first send: excluded
    assert states[8] == ("SUPPRESSED", "FREQUENCY_CAP_GLOBAL")  # 01:00 d1 still inside


def test_r_cap_1_the_sixth_is_dropped_and_the_next_24h_plus_1s_after_the_first_is_sent():
    rs = rules(PING)
    times = [f"2026-01-05T0{h}:00:00Z" for h in range(6)] + ["2026-01-06T00:00:01Z"]
    got = [(s, r) for _, s, r, _ in outcomes([], [msg("ping", t) for t in times], rs)]
    assert got == [("SENT", None)] * 5 + [("SUPPRESSED", "FREQUENCY_CAP_GLOBAL"), ("SENT", None)]


def test_r_cap_1_history_from_earlier_batches_counts():
    rs = rules(PING)
    history = [
        {"campaign_id": "ping", "channel": "email", "send_at": us(f"2026-01-05T0{h}:00:00Z")}
        for h in range(5)
    ]
    got = outcomes(history, [msg("ping", "2026-01-05T23:00:00Z")], rs)
    assert got[0][1:3] == ("SUPPRESSED", "FREQUENCY_CAP_GLOBAL")


def test_r_cap_2_campaign_cap_then_fallback_channel():
    # R-CAP-2 and R-CHAN-1: the campaign's e-mail cap is reached, SMS takes the message.
    raw = {**PING, "channels": ["email", "sms"], "caps": {"email": {"count": 1, "window": "24h"}}}
    rs = rules(raw)
    both = {"consent": [True, True, False, False],
            "address": ["u1@example.com", "+4915112345678", None, None]}  # fmt: skip
    got = outcomes([], [msg("ping", "2026-01-05T01:00:00Z", **both),
                        msg("ping", "2026-01-05T02:00:00Z", **both)], rs)  # fmt: skip
    assert [(s, c) for _, s, _, c in got] == [("SENT", "email"), ("SENT", "sms")]


def test_r_chan_1_fallback_when_email_capped_globally():
    rs = rules({**PING, "channels": ["email", "sms"]})
    both = {"consent": [True, True, False, False],
            "address": ["u1@example.com", "+4915112345678", None, None]}  # fmt: skip
    history = [
        {"campaign_id": "ping", "channel": "email", "send_at": us(f"2026-01-05T0{h}:00:00Z")}
        for h in range(5)
    ]
    got = outcomes(history, [msg("ping", "2026-01-05T09:00:00Z", **both)], rs)
    assert got[0][1:] == ("SENT", None, "sms")


def test_r_chan_1_none_qualifies_gives_first_channels_reason():
    rs = rules({**PING, "channels": ["email", "sms"]})
    got = outcomes([], [msg("ping", "2026-01-05T09:00:00Z", consent=[False] * 4)], rs)
    assert got[0][1:3] == ("SUPPRESSED", "NOT_OPTED_IN")


def test_r_opt_2_identifier_checked_before_consent_and_sms_needs_e164():
    rs = rules({**PING, "channels": ["sms"]})
    no_cuid = msg("ping", "2026-01-05T09:00:00Z", identified=[False] * 4, consent=[False] * 4)
    bad_phone = msg("ping", "2026-01-05T10:00:00Z", consent=[False, True, False, False],
                    address=[None, "015112345678", None, None])  # fmt: skip
    got = outcomes([], [no_cuid, bad_phone], rs)
    assert [r for _, _, r, _ in got] == ["NO_IDENTIFIER", "NO_IDENTIFIER"]


def test_r_cap_4_last_slot_goes_to_higher_priority_then_due_then_id():
    a = {**PING, "id": "a", "priority": 1}
    b = {**PING, "id": "b", "priority": 2}
    rs = rules(PING, a, b)
    history = [
        {"campaign_id": "ping", "channel": "email", "send_at": us(f"2026-01-05T0{h}:00:00Z")}
        for h in range(6, 10)
    ]
    # b is listed first: the order of arrival must not matter.
    got = outcomes(history, [msg("b", "2026-01-05T11:00:00Z"), msg("a", "2026-01-05T11:00:00Z")],
                   rs)  # fmt: skip
    assert {m: (s, r) for m, s, r, _ in got} == {
        "a-2026-01-05T11:00:00Z-1": ("SENT", None),
        "b-2026-01-05T11:00:00Z-1": ("SUPPRESSED", "FREQUENCY_CAP_GLOBAL"),
    }


def test_r_ab_2_control_group_records_the_send_it_would_have_made_without_a_cap_slot():
    rs = rules(PING)
    control = [msg("ping", f"2026-01-05T0{h}:00:00Z", is_control=True) for h in range(6)]
    got = outcomes([], control, rs)
    assert {(s, r, c) for _, s, r, c in got} == {("SUPPRESSED", "CONTROL_GROUP", "email")}


def test_order_of_checks_exit_audience_empty_payload_preemption():
    cart = {"id": "cart", "type": "cart_abandonment", "wait": "3h", "channels": ["email"],
            "steps": [{"name": "r"}]}  # fmt: skip
    rs = rules(cart)
    cases = [
        msg("cart", "2026-01-05T01:00:00Z", 1, state="CANCELLED", reason="EXIT_CONDITION"),
        msg("cart", "2026-01-05T01:00:00Z", 2, state="CANCELLED", reason="CANCELLED_BY_PRIORITY"),
        msg("cart", "2026-01-05T01:00:00Z", 3, state="SUPERSEDED", reason="RETRIGGERED"),
        msg("cart", "2026-01-05T01:00:00Z", 4, audience_ok=False, payload=[]),
        msg("cart", "2026-01-05T01:00:00Z", 5, payload=[], preempted=True),
        msg("cart", "2026-01-05T01:00:00Z", 6, preempted=True),
    ]
    got = [(s, r) for _, s, r, _ in outcomes([], cases, rs)]
    assert got == [
        ("CANCELLED", "EXIT_CONDITION"),
        ("SUPPRESSED", "CANCELLED_BY_PRIORITY"),  # R-PRIO-3 as R-SEND-2 names it
        ("SUPERSEDED", "RETRIGGERED"),
        ("SUPPRESSED", "AUDIENCE_EXIT"),
        ("SUPPRESSED", "EMPTY_PAYLOAD"),  # R-REL-2
        ("SUPPRESSED", "PRIORITY_PREEMPTED"),  # R-PRIO-2
    ]
    assert all(r in REASONS for _, r in got)


def test_r_prio_1_default_order_and_priority_numbers():
    raws = [
        {"id": "sched", "type": "scheduled", "trigger": {"every": {"days": "all", "hour": 10}},
         "channels": ["email"], "steps": [{"name": "s"}]},
        {**PING, "id": "all", "cancel_all_others": True},
        {**PING, "id": "plain"},
        {"id": "cart", "type": "cart_abandonment", "wait": "3h", "channels": ["email"],
         "steps": [{"name": "r"}]},
        {"id": "tier", "type": "user_attribute_change", "change": {"attribute": "tier", "to": "x"},
         "schedule": {"days": "all", "hour": 10}, "channels": ["email"], "steps": [{"name": "t"}]},
    ]  # fmt: skip
    rs = rules(*raws)
    assert sorted(rs, key=lambda k: rs[k].rank) == ["tier", "all", "cart", "plain", "sched"]


def test_r_quiet_1_deferred_to_the_end_of_quiet_hours_dst_safe():
    quiet = QuietHours(start="21:00", end="08:00")
    berlin = ZoneInfo("Europe/Berlin")
    sender = SenderSettings(quiet_hours={"sms": quiet})
    # 22:30 Berlin (winter, UTC+1) -> 08:00 Berlin next day = 07:00 UTC.
    due = datetime(2026, 1, 5, 21, 30, tzinfo=UTC)
    assert send_time(due, "sms", berlin, sender) == datetime(2026, 1, 6, 7, 0, tzinfo=UTC)
    assert send_time(due, "email", berlin, sender) == due  # no quiet hours for e-mail
    # The night the clocks go forward (29 March 2026): 08:00 is CEST, UTC+2 -> 06:00 UTC.
    due = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 CET
    assert send_time(due, "sms", berlin, sender) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    # And back (25 October 2026): 08:00 is CET again, UTC+1 -> 07:00 UTC.
    due = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert send_time(due, "sms", berlin, sender) == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    # Early morning inside the window ends the same day; outside is not deferred.
    due = datetime(2026, 1, 6, 5, 0, tzinfo=UTC)  # 06:00 CET
    assert quiet_end(quiet, due, berlin) == datetime(2026, 1, 6, 7, 0, tzinfo=UTC)
    noon = datetime(2026, 1, 6, 11, 0, tzinfo=UTC)
    assert send_time(noon, "sms", berlin, sender) == noon


def test_r_quiet_1_a_fallback_channel_in_quiet_hours_is_skipped():
    sender = SenderSettings(quiet_hours={"sms": QuietHours(start="21:00", end="08:00")})
    rs = rules({**PING, "channels": ["email", "sms"]}, sender=sender)
    m = msg("ping", "2026-01-05T22:00:00Z", consent=[False, True, False, False],
            address=[None, "+4915112345678", None, None])  # fmt: skip
    got = outcomes([], [m], rs, sender)
    assert got[0][1:3] == ("SUPPRESSED", "NOT_OPTED_IN")  # the first channel's reason
    m2 = msg("ping", "2026-01-05T12:00:00Z", consent=[False, True, False, False],
             address=[None, "+4915112345678", None, None])  # fmt: skip
    assert outcomes([], [m2], rs, sender)[0][1:] == ("SENT", None, "sms")


def test_channel_names_are_the_rules_four():
    assert CHANNELS == ("email", "sms", "web_push", "app_push")  # R-CHAN-1


def test_r_cap_2_the_campaign_cap_on_its_only_channel_suppresses_and_frees_after_the_window():
    # R-CAP-2, R-CAP-3: one e-mail per 24 h from this campaign; the next is dropped, not
    # deferred; one second after the window the campaign may send again.
    rs = rules({**PING, "caps": {"email": {"count": 1, "window": "24h"}}})
    times = ["2026-01-05T01:00:00Z", "2026-01-05T02:00:00Z", "2026-01-06T01:00:01Z"]
    got = outcomes([], [msg("ping", t) for t in times], rs)
    assert [(s, r) for _, s, r, _ in got] == [
        ("SENT", None), ("SUPPRESSED", "FREQUENCY_CAP_CAMPAIGN"), ("SENT", None)]  # fmt: skip


def test_r_cap_2_a_cap_counts_only_its_own_campaign():
    other = {**PING, "id": "other"}
    rs = rules({**PING, "caps": {"email": {"count": 1, "window": "24h"}}}, other)
    history = [{"campaign_id": "other", "channel": "email", "send_at": us("2026-01-05T00:00:00Z")}]
    got = outcomes(history, [msg("ping", "2026-01-05T01:00:00Z")], rs)
    assert got[0][1:3] == ("SENT", None)


def test_r_quiet_1_quiet_hours_is_the_reason_when_the_steps_only_channel_is_quiet():
    # The campaign's first channel (e-mail) has no quiet hours, so nothing defers the message;
    # the step has only an SMS template, and SMS is in its quiet hours at the send time.
    sender = SenderSettings(quiet_hours={"sms": QuietHours(start="21:00", end="08:00")})
    raw = {**PING, "channels": ["email", "sms"],
           "steps": [{"name": "ping", "templates": {"sms": {"body": "ping"}}}]}  # fmt: skip
    rs = rules(raw, sender=sender)
    sms = {"consent": [True, True, False, False],
           "address": ["u1@example.com", "+4915112345678", None, None]}  # fmt: skip
    night = outcomes([], [msg("ping", "2026-01-05T22:00:00Z", **sms)], rs, sender)
    assert night[0][1:3] == ("SUPPRESSED", "QUIET_HOURS")
    noon = outcomes([], [msg("ping", "2026-01-05T12:00:00Z", **sms)], rs, sender)
    assert noon[0][1:] == ("SENT", None, "sms")
