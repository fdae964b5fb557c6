"""Consent lookup in the per-person pass (reconnect.send.consent.flags), no Spark.

R-OPT-1 (latest change at or before the send time wins; an event beats a list at one instant)
and R-OPT-2 (e-mail and SMS need a cuid, push a token of the device).
"""

from __future__ import annotations

from reconnect.send.consent import LedgerRow, flags
from reconnect.vocabulary import CHANNELS

EMAIL, SMS, WEB, APP = (CHANNELS.index(c) for c in ("email", "sms", "web_push", "app_push"))


def listed(channel: str, at: int, opted: bool = True, address: str | None = "a@x.io") -> LedgerRow:
    return LedgerRow(channel, None, at, opted, address if opted else None, 0, "")


def event(
    channel: str,
    at: int,
    opted: bool,
    seq: str,
    device: str | None = None,
    address: str | None = None,
) -> LedgerRow:
    return LedgerRow(channel, device, at, opted, address, 1, seq)


def test_r_opt_2_email_and_sms_need_a_cuid():
    rows = [listed("email", 10), listed("sms", 10, address="+4915112345678")]
    identified, consent, address = flags(None, "u1", 20, ["email", "sms"], rows)
    assert identified[EMAIL] is False and consent[EMAIL] is False and address[EMAIL] is None
    assert identified[SMS] is False and consent[SMS] is False
    identified, consent, address = flags("c1", "u1", 20, ["email", "sms"], rows)
    assert identified[:2] == [True, True] and consent[:2] == [True, True]
    assert address[:2] == ["a@x.io", "+4915112345678"]


def test_channels_not_looked_up_stay_unknown():
    identified, consent, address = flags("c1", "u1", 20, ["sms"], [listed("email", 10)])
    assert identified[EMAIL] is None and consent[EMAIL] is None and address[EMAIL] is None
    # Looked up, with no row at all: identified by the cuid, not opted in.
    assert (identified[SMS], consent[SMS], address[SMS]) == (True, False, None)


def test_r_opt_1_the_latest_row_at_or_before_the_send_time_wins():
    rows = [listed("email", 10), event("email", 20, False, "e1"), listed("email", 30)]
    at = {t: flags("c1", None, t, ["email"], rows)[1][EMAIL] for t in (9, 10, 19, 20, 29, 30)}
    # The list at 10 opts in, the opt-out event at 20 wins until the next list restates the cuid.
    assert at == {9: False, 10: True, 19: True, 20: False, 29: False, 30: True}


def test_r_opt_1_an_opt_out_one_microsecond_before_the_send_wins():
    rows = [listed("email", 10), event("email", 99, False, "e1")]
    assert flags("c1", None, 100, ["email"], rows)[1][EMAIL] is False
    assert flags("c1", None, 98, ["email"], rows)[1][EMAIL] is True


def test_r_opt_1_at_one_instant_an_event_beats_a_list_then_the_event_id_decides():
    rows = [event("email", 10, False, "e1"), listed("email", 10)]
    assert flags("c1", None, 10, ["email"], rows)[1][EMAIL] is False
    rows = [event("email", 10, True, "e2", address="b@x.io"), event("email", 10, False, "e1")]
    _, consent, address = flags("c1", None, 10, ["email"], rows)
    assert consent[EMAIL] is True and address[EMAIL] == "b@x.io"


def test_the_address_is_the_winning_opt_ins_and_none_once_opted_out():
    rows = [listed("email", 10, address="old@x.io"), listed("email", 20, address="new@x.io")]
    assert flags("c1", None, 15, ["email"], rows)[2][EMAIL] == "old@x.io"
    assert flags("c1", None, 25, ["email"], rows)[2][EMAIL] == "new@x.io"
    rows.append(listed("email", 30, opted=False))
    assert flags("c1", None, 35, ["email"], rows)[2][EMAIL] is None


def test_r_opt_2_push_needs_a_token_of_the_messages_own_device():
    rows = [
        event("web_push", 10, True, "e1", device="u:d1", address="tok-1"),
        event("app_push", 10, True, "e2", device="u:d2", address="tok-2"),
        event("web_push", 40, False, "e3", device="u:d1"),
    ]
    identified, consent, address = flags("c1", "d1", 20, ["web_push", "app_push"], rows)
    assert (identified[WEB], consent[WEB], address[WEB]) == (True, True, "tok-1")
    # The person's other device opted in to app push; this message's device did not.
    assert (identified[APP], consent[APP], address[APP]) == (False, False, None)
    # Opted out later: the device still has a token, it is no longer opted in.
    identified, consent, _ = flags("c1", "d1", 50, ["web_push"], rows)
    assert (identified[WEB], consent[WEB]) == (True, False)
    # An opt-in without a token identifies nothing; a message without a device has no push.
    no_token = [event("web_push", 10, True, "e1", device="u:d1")]
    assert flags("c1", "d1", 20, ["web_push"], no_token)[0][WEB] is False
    assert flags("c1", None, 20, ["web_push"], rows)[0][WEB] is False
