"""The consent rows the per-person pass receives (reconnect.send.consent.ledger, for_pass).

R-OPT-1: a subscriber list restates every listed cuid at each sync; a restatement that changes
nothing is dropped, but a list row after an opt event is kept, because it overrides the event.
R-OPT-2: push rows are keyed by device and reach every person the device's messages count for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pyspark.sql import SparkSession

from reconnect.send.consent import for_pass, ledger

LEDGER = (
    "channel string, key string, time timestamp, opted boolean, address string, src int, seq string"
)


def t(day: int) -> datetime:
    return datetime(2026, 3, day)


def test_r_opt_1_restated_list_rows_are_dropped_unless_an_event_came_between(spark: SparkSession):
    messages = spark.createDataFrame(
        [("c:A", "A", "d1"), ("c:A", "A", "d1"), ("c:B", "B", "d1"), ("u:d3", None, "d3")],
        "person_key string, cuid string, user_id string",
    )
    ledger = spark.createDataFrame(
        [
            ("email", "c:A", t(1), True, "a@x.io", 0, ""),  # kept: the first row
            ("email", "c:A", t(2), True, "a@x.io", 0, ""),  # restated: dropped
            ("email", "c:A", t(3), True, "a2@x.io", 0, ""),  # a new address: kept
            ("email", "c:A", t(4), False, None, 1, "e1"),  # an opt-out event: kept
            ("email", "c:A", t(5), True, "a2@x.io", 0, ""),  # the list overrides it: kept
            ("email", "c:A", t(6), True, "a2@x.io", 0, ""),  # restated: dropped
            ("email", "c:A", t(7), False, None, 0, ""),  # missing from the list: kept
            ("email", "c:A", t(8), False, None, 0, ""),  # still opted out: dropped
            ("sms", "c:A", t(2), True, "+4915112345678", 0, ""),  # another channel: kept
            ("sms", "c:A", t(3), True, "+4915112345678", 0, ""),  # restated: dropped
            ("email", "c:B", t(2), True, "b@x.io", 0, ""),  # kept
            ("email", "c:Z", t(2), True, "z@x.io", 0, ""),  # nobody in the batch: left out
            ("email", "u:d3", t(2), True, "d@x.io", 0, ""),  # not a cuid key: left out
            ("web_push", "u:d1", t(2), True, "tok-1", 1, "e2"),  # to c:A and c:B
            ("app_push", "u:d3", t(3), True, "tok-3", 1, "e3"),  # to u:d3
            ("web_push", "u:d9", t(2), True, "tok-9", 1, "e4"),  # no message of d9: left out
        ],
        LEDGER,
    )
    got = {
        (r["person_key"], r["channel"], r["device"], r["time"].day, r["opted"], r["address"])
        for r in for_pass(messages, ledger).collect()
    }
    assert got == {
        ("c:A", "email", None, 1, True, "a@x.io"),
        ("c:A", "email", None, 3, True, "a2@x.io"),
        ("c:A", "email", None, 4, False, None),
        ("c:A", "email", None, 5, True, "a2@x.io"),
        ("c:A", "email", None, 7, False, None),
        ("c:A", "sms", None, 2, True, "+4915112345678"),
        ("c:B", "email", None, 2, True, "b@x.io"),
        ("c:A", "web_push", "u:d1", 2, True, "tok-1"),
        ("c:B", "web_push", "u:d1", 2, True, "tok-1"),
        ("u:d3", "app_push", "u:d3", 3, True, "tok-3"),
    }


def test_r_opt_1_list_rows_are_the_changes_between_a_channels_syncs(spark: SparkSession):
    def listed(channel: str, cuid: str, days: list[int], address: dict[int, str] | None = None):
        return [(t(d), channel, cuid, (address or {}).get(d, f"{cuid}@x.io")) for d in days]

    subscriptions = spark.createDataFrame(
        listed("email", "A", [1, 2, 3, 4, 5], {4: "a2@x.io", 5: "a2@x.io"})
        + listed("email", "B", [1, 3, 4, 5])  # missing from the 2nd sync
        + listed("email", "C", [1, 2, 3, 4])  # missing from the 5th
        + listed("email", "D", [1, 2, 3, 4, 5])  # has an opt-out event
        + listed("email", "E", [5])
        + listed("email", "H", [1, 2, 3])  # has an opt-in event, missing from the 4th and 5th
        + listed("email", "G", [6])  # a sync at `until`: not yet
        + listed("sms", "F", [2, 4]),  # the SMS list syncs on days 2 and 4 only
        "sync_time timestamp, channel string, cuid string, address string",
    )
    events = spark.createDataFrame(
        [
            ("e1", t(2) + timedelta(hours=12), "uD", "D", "opt_out", "email", None),
            ("e2", t(1) + timedelta(hours=12), "uH", "H", "opt_in", "email", "h@y.io"),
            ("e3", t(3), "uI", "I", "opt_in", "email", "i@y.io"),  # on no list
            ("e4", t(3), "uI", None, "opt_in", "web_push", "tok-I"),
        ],
        "event_id string, event_time timestamp, user_id string, cuid string, event_type string, "
        "channel string, address string",
    )
    late = spark.createDataFrame([], "event_id string")
    rows = ledger(subscriptions, events, late, t(6))
    collected = rows.collect()
    got = {
        (r["channel"], r["key"], r["time"].day, r["opted"], r["address"], r["src"])
        for r in collected
    }
    assert len(collected) == len(got)
    assert got == {
        ("email", "c:A", 1, True, "A@x.io", 0),
        ("email", "c:A", 4, True, "a2@x.io", 0),  # a new address
        ("email", "c:B", 1, True, "B@x.io", 0),
        ("email", "c:B", 2, False, None, 0),  # the sync that misses B opts it out
        ("email", "c:B", 3, True, "B@x.io", 0),  # listed again
        ("email", "c:C", 1, True, "C@x.io", 0),
        ("email", "c:C", 5, False, None, 0),
        # D has an opt event: every list row stays, for_pass keeps the ones after an event.
        *{("email", "c:D", d, True, "D@x.io", 0) for d in (1, 2, 3, 4, 5)},
        ("email", "c:D", 2, False, None, 1),
        ("email", "c:E", 5, True, "E@x.io", 0),
        # H's event comes after its list rows in the ledger's window: the 4th sync still opts
        # it out.
        *{("email", "c:H", d, True, "H@x.io", 0) for d in (1, 2, 3)},
        ("email", "c:H", 1, True, "h@y.io", 1),
        ("email", "c:H", 4, False, None, 0),
        ("email", "c:I", 3, True, "i@y.io", 1),
        ("web_push", "u:uI", 3, True, "tok-I", 1),
        ("sms", "c:F", 2, True, "F@x.io", 0),  # day 4 restates the channel's previous sync
    }
    messages = spark.createDataFrame(
        [("c:D", "D", "uD")], "person_key string, cuid string, user_id string"
    )
    kept = {(r["time"].day, r["opted"], r["src"]) for r in for_pass(messages, rows).collect()}
    # The list of day 3 overrides the opt-out of day 2 (R-OPT-1); days 2, 4 and 5 restate.
    assert kept == {(1, True, 0), (2, False, 1), (3, True, 0)}
