"""The consent ledger's transforms as exact rows (reconnect.send.consent; R-OPT-1, R-OPT-2).

Small inputs, every output row spelled out. ``ledger`` rows are ``(channel, key, time, opted,
address, src, seq)``: ``src`` 0 a list row, 1 an opt event.
"""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.send.consent import for_pass, ledger, person_key

LEDGER = (
    "channel string, key string, time timestamp, opted boolean, address string, src int, seq string"
)
SUBSCRIPTIONS = "sync_time timestamp, channel string, cuid string, address string"
EVENTS = (
    "event_id string, event_time timestamp, user_id string, cuid string, event_type string, "
    "channel string, address string"
)
MESSAGES = "person_key string, cuid string, user_id string"


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour)


def same(actual: DataFrame, expected: DataFrame) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_r_opt_2_person_key_is_the_cuid_once_known_else_the_device(spark: SparkSession):
    df = spark.createDataFrame([("C1", "d1"), (None, "d2")], "cuid string, user_id string")
    got = df.select(person_key(F.col("cuid"), F.col("user_id")).alias("person_key"))
    same(got, spark.createDataFrame([("c:C1",), ("u:d2",)], "person_key string"))


def test_r_opt_1_a_list_opts_in_from_its_sync_and_out_at_the_next_sync_missing_the_cuid(
    spark: SparkSession,
):
    subscriptions = spark.createDataFrame(
        [
            (t(1), "email", "A", "a@x.io"),
            (t(1), "email", "B", "b@x.io"),
            (t(2), "email", "A", "a@x.io"),  # restates day 1: no row
        ],
        SUBSCRIPTIONS,
    )
    events = spark.createDataFrame([], EVENTS)
    late = spark.createDataFrame([], "event_id string")
    expected = spark.createDataFrame(
        [
            ("email", "c:A", t(1), True, "a@x.io", 0, ""),
            ("email", "c:B", t(1), True, "b@x.io", 0, ""),
            ("email", "c:B", t(2), False, None, 0, ""),  # missing from day 2's list
        ],
        LEDGER,
    )
    same(ledger(subscriptions, events, late, t(3)), expected)


def test_r_opt_1_opt_events_apply_to_the_linked_cuid_or_the_device_and_late_ones_are_left_out(
    spark: SparkSession,
):
    subscriptions = spark.createDataFrame([], SUBSCRIPTIONS)
    events = spark.createDataFrame(
        [
            ("e0", t(1), "u1", "C1", "page_view", None, None),  # links u1 to C1
            ("e1", t(1, 6), "u1", None, "opt_out", "email", None),  # for C1, the linked cuid
            ("e2", t(1, 7), "u1", None, "opt_in", "web_push", "tok-1"),  # for the device
            ("e3", t(1, 8), "u2", None, "opt_in", "email", "x@x.io"),  # u2 has no cuid: none
            ("e4", t(1, 9), "u1", None, "opt_in", "sms", "+4915112345678"),  # late: left out
            ("e5", t(3), "u1", None, "opt_in", "email", "a@x.io"),  # at `until`: not yet
        ],
        EVENTS,
    )
    late = spark.createDataFrame([("e4",)], "event_id string")
    expected = spark.createDataFrame(
        [
            ("email", "c:C1", t(1, 6), False, None, 1, "e1"),
            ("web_push", "u:u1", t(1, 7), True, "tok-1", 1, "e2"),
        ],
        LEDGER,
    )
    same(ledger(subscriptions, events, late, t(3)), expected)


def test_r_opt_1_for_pass_drops_a_list_row_restating_the_one_before_unless_an_event_came_between(
    spark: SparkSession,
):
    messages = spark.createDataFrame([("c:A", "A", "d1")], MESSAGES)
    rows = spark.createDataFrame(
        [
            ("email", "c:A", t(1), True, "a@x.io", 0, ""),
            ("email", "c:A", t(2), True, "a@x.io", 0, ""),  # restated: dropped
            ("email", "c:A", t(3), False, None, 1, "e1"),
            ("email", "c:A", t(4), True, "a@x.io", 0, ""),  # overrides the event: kept
        ],
        LEDGER,
    )
    expected = spark.createDataFrame(
        [
            ("c:A", "email", None, t(1), True, "a@x.io", 0, ""),
            ("c:A", "email", None, t(3), False, None, 1, "e1"),
            ("c:A", "email", None, t(4), True, "a@x.io", 0, ""),
        ],
        "person_key string, channel string, device string, time timestamp, opted boolean, "
        "address string, src int, seq string",
    )
    same(for_pass(messages, rows), expected)


def test_r_opt_2_for_pass_sends_a_devices_push_rows_to_every_person_it_counts_for(
    spark: SparkSession,
):
    messages = spark.createDataFrame(
        [("c:A", "A", "d1"), ("c:B", "B", "d1"), ("u:d2", None, "d2")], MESSAGES
    )
    rows = spark.createDataFrame(
        [
            ("web_push", "u:d1", t(1), True, "tok-1", 1, "e1"),
            ("app_push", "u:d9", t(1), True, "tok-9", 1, "e2"),  # no message of d9
            ("email", "u:d2", t(1), True, "d@x.io", 0, ""),  # not a cuid key
        ],
        LEDGER,
    )
    expected = spark.createDataFrame(
        [
            ("c:A", "web_push", "u:d1", t(1), True, "tok-1", 1, "e1"),
            ("c:B", "web_push", "u:d1", t(1), True, "tok-1", 1, "e1"),
        ],
        "person_key string, channel string, device string, time timestamp, opted boolean, "
        "address string, src int, seq string",
    )
    same(for_pass(messages, rows), expected)
