"""Ingest: landing files -> bronze tables (issue: foundation; spec/DATA.md)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.helpers.lake import rows, separate_lake
from tests.helpers.landing import event, write_csv, write_lines

from reconnect.ingest.pipeline import run_ingest, with_line_origin, write_events_batch
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    BRONZE_INGEST_FILES,
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_QUARANTINE,
    BRONZE_SUBSCRIPTIONS,
    BRONZE_USER_SNAPSHOTS,
)
from reconnect.lake.writes import replace_syncs, syncs_predicate
from reconnect.settings import Settings, StreamingSettings

pytestmark = pytest.mark.spark

SYNC1 = "sync_time=2026-01-05T00:00:00Z"
SYNC2 = "sync_time=2026-01-06T00:00:00Z"


def landing(lake: Settings) -> Path:
    return Path(lake.paths.landing)


def quarantine_by_line(spark, lake: Settings) -> dict[int, tuple[str, str | None]]:
    return {
        r["source_line"]: (r["reason"], r["field"]) for r in rows(spark, BRONZE_QUARANTINE, lake)
    }


def test_good_lines_become_typed_utc_events(spark, lake):
    write_lines(
        landing(lake) / "events" / "a.jsonl",
        [
            event(
                "add_to_cart",
                "2026-01-05T11:00:00+01:00",
                event_id="e1",
                product_id="P1",
                cuid="c1",
                price=19.99,
            ),
            event("sync_cart", event_id="e2", cart=[{"product_id": "P1", "quantity": 2}]),
            event(
                "purchase",
                event_id="e3",
                order_id="o1",
                revenue=39.98,
                items=[{"product_id": "P1", "quantity": 2, "price": 19.99}],
                properties={"coupon": "X", "n": 3},
            ),
            event("custom", event_id="e4", event_name="store_visit", properties={"store": "B1"}),
        ],
    )
    run_ingest(spark, lake)
    got = {r["event_id"]: r for r in rows(spark, BRONZE_EVENTS, lake)}
    assert set(got) == {"e1", "e2", "e3", "e4"}
    e1 = got["e1"]
    assert str(e1["event_time"]) == "2026-01-05 10:00:00"  # +01:00 stored as UTC
    assert str(e1["event_date"]) == "2026-01-05"
    assert e1["quantity"] == 1  # DATA.md: quantity defaults to 1
    assert e1["price"] == Decimal("19.9900")
    assert e1["source_line"] == 1 and e1["source_file"].endswith("events/a.jsonl")
    assert got["e2"]["cart"] == [{"product_id": "P1", "quantity": 2}]
    assert got["e3"]["items"] == [{"product_id": "P1", "quantity": 2, "price": Decimal("19.9900")}]
    assert got["e3"]["properties"] == {"coupon": "X", "n": "3"}
    assert got["e4"]["event_name"] == "store_visit"


BAD_LINES: list[tuple[str, str, str | None]] = [
    ("this is not json", "NOT_JSON", None),
    ('[{"event_id": "x"}]', "NOT_JSON", None),
    ('{"event_id": "b1", "event_time": "2026-01-05T10:00:00Z", "user_id": "u1"', "NOT_JSON", None),
    (
        json.dumps(
            {"event_time": "2026-01-05T10:00:00Z", "user_id": "u1", "event_type": "page_view"}
        ),
        "MISSING_FIELD",
        "event_id",
    ),
    (json.dumps(event(user_id="")), "MISSING_FIELD", "user_id"),
    (
        json.dumps({"event_id": "b2", "user_id": "u1", "event_type": "page_view"}),
        "MISSING_FIELD",
        "event_time",
    ),
    (
        json.dumps({"event_id": "b3", "event_time": "2026-01-05T10:00:00Z", "user_id": "u1"}),
        "MISSING_FIELD",
        "event_type",
    ),
    (json.dumps(event(event_time="2026-01-05 10:00:00")), "BAD_TIMESTAMP", "event_time"),
    (json.dumps(event(event_time="2026-01-05T10:00:00")), "BAD_TIMESTAMP", "event_time"),
    (json.dumps(event(event_time="2026-13-45T25:00:00Z")), "BAD_TIMESTAMP", "event_time"),
    (json.dumps(event("teleport")), "UNKNOWN_EVENT_TYPE", "event_type"),
    (json.dumps(event("add_to_cart", product_id="P1", quantity="two")), "WRONG_TYPE", "quantity"),
    (json.dumps(event("product_view", product_id="P1", price="abc")), "WRONG_TYPE", "price"),
    (json.dumps(event("sync_cart", cart="P1")), "WRONG_TYPE", "cart"),
    (
        json.dumps(event("sync_cart", cart=[{"product_id": "P1", "quantity": "x"}])),
        "WRONG_TYPE",
        "cart",
    ),
    (json.dumps(event(properties=["a"])), "WRONG_TYPE", "properties"),
    (json.dumps(event("add_to_cart", product_id="P1", quantity=-1)), "INVALID_VALUE", "quantity"),
    (
        json.dumps(event("sync_cart", cart=[{"product_id": "P1", "quantity": -2}])),
        "INVALID_VALUE",
        "cart",
    ),
    (json.dumps(event("opt_in", channel="pigeon", address="x")), "INVALID_VALUE", "channel"),
    (json.dumps(event("custom")), "MISSING_FIELD", "event_name"),
    (json.dumps(event("add_to_cart")), "MISSING_FIELD", "product_id"),
    (json.dumps(event("purchase", items=[])), "MISSING_FIELD", "order_id"),
    (json.dumps(event("opt_out")), "MISSING_FIELD", "channel"),
    (json.dumps(event("message_click")), "MISSING_FIELD", "message_id"),
    # A number too large for a money column is a range error, not a wrong type.
    (json.dumps(event("product_view", product_id="P1", price=1e15)), "INVALID_VALUE", "price"),
    (
        json.dumps(event("product_view", product_id="P1", price=1.5)).replace("1.5", "1e309"),
        "INVALID_VALUE",
        "price",
    ),
    (
        json.dumps(event("purchase", order_id="o", items=[{"product_id": "P1"}], revenue=1e15)),
        "INVALID_VALUE",
        "revenue",
    ),
    (
        json.dumps(event("purchase", order_id="o", items=[{"product_id": "P1", "price": 1e15}])),
        "INVALID_VALUE",
        "items",
    ),
]


def test_each_kind_of_bad_line_is_quarantined_with_reason_field_line_and_raw_text(spark, lake):
    good = event("page_view", event_id="g1")
    write_lines(
        landing(lake) / "events" / "bad.jsonl",
        [good, *[line for line, _, _ in BAD_LINES], event(event_id="g2")],
    )
    run_ingest(spark, lake, sources=["events"])

    quarantined = rows(spark, BRONZE_QUARANTINE, lake)
    by_line = {r["source_line"]: r for r in quarantined}
    for i, (line, reason, field) in enumerate(BAD_LINES, start=2):
        assert (by_line[i]["reason"], by_line[i]["field"]) == (reason, field), line
        assert by_line[i]["raw"] == line
        assert by_line[i]["source_file"].endswith("events/bad.jsonl")
        assert by_line[i]["detail"]
    assert len(quarantined) == len(BAD_LINES)
    assert {r["event_id"] for r in rows(spark, BRONZE_EVENTS, lake)} == {"g1", "g2"}
    # The detail says what was expected, in words a data engineer can act on.
    assert by_line[2 + 11]["detail"] == "quantity: expected an integer, got 'two'"
    assert by_line[len(BAD_LINES)]["detail"].startswith(
        "revenue: expected an amount between -10^14 and 10^14"
    )


def test_duplicate_event_ids_are_kept_once_within_a_file_across_files_and_across_runs(spark, lake):
    events_dir = landing(lake) / "events"
    first = event("add_to_cart", event_id="d1", product_id="P1")
    write_lines(events_dir / "1.jsonl", [first, first, event(event_id="d2")], mtime=1_000)
    write_lines(events_dir / "2.jsonl", [first, event(event_id="d3")], mtime=2_000)
    run_ingest(spark, lake)
    write_lines(
        events_dir / "3.jsonl", [first, event(event_id="d2"), event(event_id="d4")], mtime=3_000
    )
    run_ingest(spark, lake)

    stored = rows(spark, BRONZE_EVENTS, lake)
    assert sorted(r["event_id"] for r in stored) == ["d1", "d2", "d3", "d4"]
    kept = next(r for r in stored if r["event_id"] == "d1")
    assert (Path(kept["source_file"]).name, kept["source_line"]) == ("1.jsonl", 1)
    per_file = {
        Path(r["source_file"]).name: (r["lines"], r["accepted"], r["quarantined"], r["duplicates"])
        for r in rows(spark, BRONZE_INGEST_FILES, lake)
    }
    assert per_file == {"1.jsonl": (3, 2, 0, 1), "2.jsonl": (2, 1, 0, 1), "3.jsonl": (3, 1, 0, 2)}


def test_counts_reconcile_lines_in_equal_accepted_plus_quarantined_plus_duplicates(spark, lake):
    events_dir = landing(lake) / "events"
    a = [event(event_id=f"r{i}") for i in range(20)]
    write_lines(events_dir / "a.jsonl", [*a, "garbage", "", a[3], json.dumps(event("teleport"))])
    write_lines(events_dir / "b.jsonl", [a[0], event(event_id="r99"), "{"])
    run_ingest(spark, lake, sources=["events"])

    lines_in = sum(
        1 for f in events_dir.iterdir() for line in f.read_text().splitlines() if line.strip()
    )
    accepted = len(rows(spark, BRONZE_EVENTS, lake))
    quarantined = len(rows(spark, BRONZE_QUARANTINE, lake))
    log = rows(spark, BRONZE_INGEST_FILES, lake)
    duplicates = sum(r["duplicates"] for r in log)
    assert (lines_in, accepted, quarantined, duplicates) == (26, 21, 3, 2)
    assert lines_in == accepted + quarantined + duplicates
    assert sum(r["lines"] for r in log) == lines_in
    assert sum(r["accepted"] for r in log) == accepted
    assert sum(r["quarantined"] for r in log) == quarantined


def test_a_replayed_batch_after_a_crash_changes_nothing(spark, lake):
    """A batch whose writes partly landed before a crash is re-run by Spark: same tables."""
    events_dir = landing(lake) / "events"
    write_lines(events_dir / "a.jsonl", [event(event_id="x1"), event(event_id="x1"), "bad"])
    write_lines(events_dir / "old.jsonl", [event(event_id="x2")])
    ensure_tables(spark, lake)

    def read(path: str):
        return with_line_origin(spark.read.text(path))

    write_events_batch(spark, lake, read(str(events_dir / "old.jsonl")))
    batch = read(str(events_dir / "a.jsonl"))
    write_events_batch(spark, lake, batch)
    before = [rows(spark, t, lake) for t in (BRONZE_EVENTS, BRONZE_QUARANTINE, BRONZE_INGEST_FILES)]
    write_events_batch(spark, lake, batch)  # the replay
    after = [rows(spark, t, lake) for t in (BRONZE_EVENTS, BRONZE_QUARANTINE, BRONZE_INGEST_FILES)]
    assert after == before
    a_counts = next(r for r in after[2] if r["source_file"].endswith("a.jsonl"))
    assert (a_counts["accepted"], a_counts["duplicates"], a_counts["quarantined"]) == (1, 1, 1)


def test_line_numbers_are_exact_when_a_file_is_read_in_many_blocks(spark, lake):
    rows_in = []
    for i in range(1, 3001):
        if i % 500 == 0:
            rows_in.append("not json")
        elif i % 7 == 0:
            rows_in.append("")  # blank lines count for the numbering, not as records
        else:
            rows_in.append(event(event_id=f"m{i}", user_id=f"user-{i:05d}"))
    write_lines(landing(lake) / "events" / "big.jsonl", rows_in)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16384")  # ~20 blocks
    try:
        run_ingest(spark, lake, sources=["events"])
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    stored = rows(spark, BRONZE_EVENTS, lake)
    assert len(stored) == 3000 - 6 - 428
    assert all(r["event_id"] == f"m{r['source_line']}" for r in stored)
    bad = sorted(r["source_line"] for r in rows(spark, BRONZE_QUARANTINE, lake))
    assert bad == [500, 1000, 1500, 2000, 2500, 3000]


def test_a_file_that_is_not_text_is_quarantined_and_the_stream_goes_on(spark, lake):
    events_dir = landing(lake) / "events"
    events_dir.mkdir(parents=True)
    (events_dir / "blob.bin").write_bytes(bytes(range(256)) * 4)
    write_lines(events_dir / "ok.jsonl", [event(event_id="ok1")])
    run_ingest(spark, lake, sources=["events"])
    assert [r["event_id"] for r in rows(spark, BRONZE_EVENTS, lake)] == ["ok1"]
    reasons = {r["reason"] for r in rows(spark, BRONZE_QUARANTINE, lake)}
    assert reasons == {"NOT_JSON"}


def _feed_landing(root: Path) -> None:
    pf = root / "product_feed"
    write_csv(
        pf / SYNC1 / "p.csv",
        "product_id,price,name,stock,color",
        [
            "P1,20.00,Mug,0,red",
            "P2,abc,Pen,1,",
            "P3,5",
            "P1,21.00,Mug again,1,blue",
            '"P4","7.50","Cup, large",3,""',
            "P5,-1,Neg,1,x",
            "P6,3,Six,many,x",
        ],
    )
    write_lines(
        root / "user_feed" / SYNC1 / "u.jsonl",
        [
            {"cuid": "c1", "loyalty_tier": "Bronze", "email": "a@x.org"},
            {"cuid": "c2", "loyalty_tier": ""},
            {"loyalty_tier": "Gold"},
        ],
    )
    subs = root / "subscribers"
    write_csv(subs / "channel=email" / SYNC1 / "s.csv", "cuid,address", ["c1,a@x.org"])
    write_csv(subs / "channel=sms" / SYNC1 / "s.csv", "cuid,address", ["c1,+4915112345678"])
    write_csv(subs / "channel=fax" / SYNC1 / "s.csv", "cuid,address", ["c1,123"])
    write_csv(pf / "no_sync_folder.csv", "product_id,price", ["P9,1"])
    write_csv(root / "user_feed" / SYNC1 / "empty.csv", "cuid,loyalty_tier", [])
    write_lines(pf / SYNC1 / "notes.txt", ["hello"])


def test_feed_snapshots_are_typed_checked_and_keyed_by_sync(spark, lake):
    _feed_landing(landing(lake))
    run_ingest(spark, lake, sources=["product_feed", "user_feed", "subscribers"])

    products = {r["product_id"]: r for r in rows(spark, BRONZE_PRODUCT_SNAPSHOTS, lake)}
    assert set(products) == {"P1", "P4"}
    assert products["P1"]["name"] == "Mug"  # the first copy in the sync wins
    assert products["P1"]["stock"] == 0
    assert products["P1"]["attributes"] == {
        "price": "20.00",
        "name": "Mug",
        "stock": "0",
        "color": "red",
    }
    assert products["P4"]["name"] == "Cup, large" and "color" not in products["P4"]["attributes"]
    users = {r["cuid"]: r for r in rows(spark, BRONZE_USER_SNAPSHOTS, lake)}
    assert users["c1"]["loyalty_tier"] == "Bronze" and users["c1"]["email"] == "a@x.org"
    # R-TYPE-UATTR: an empty value is an absent attribute, so deleting one is not a change.
    assert users["c2"]["attributes"] == {}
    subs = {
        (r["channel"], r["cuid"]): r["address"] for r in rows(spark, BRONZE_SUBSCRIPTIONS, lake)
    }
    assert subs == {("email", "c1"): "a@x.org", ("sms", "c1"): "+4915112345678"}

    q = {
        (Path(r["source_file"]).name, r["source_line"], r["source"]): (r["reason"], r["field"])
        for r in rows(spark, BRONZE_QUARANTINE, lake)
    }
    assert q == {
        ("p.csv", 3, "product_feed"): ("WRONG_TYPE", "price"),
        ("p.csv", 4, "product_feed"): ("MALFORMED_CSV", None),
        ("p.csv", 7, "product_feed"): ("INVALID_VALUE", "price"),
        ("p.csv", 8, "product_feed"): ("WRONG_TYPE", "stock"),
        ("u.jsonl", 3, "user_feed"): ("MISSING_FIELD", "cuid"),
        ("s.csv", 1, "subscribers"): ("BAD_PATH", None),
        ("s.csv", 2, "subscribers"): ("BAD_PATH", None),
        ("no_sync_folder.csv", 1, "product_feed"): ("BAD_PATH", None),
        ("no_sync_folder.csv", 2, "product_feed"): ("BAD_PATH", None),
        ("notes.txt", 1, "product_feed"): ("UNSUPPORTED_FORMAT", None),
    }
    log = {
        (Path(r["source_file"]).name, r["source"]): r
        for r in rows(spark, BRONZE_INGEST_FILES, lake)
    }
    p = log[("p.csv", "product_feed")]
    # 7 data lines (the header is not a record): P1 and P4 kept, a second P1, four bad lines.
    assert (p["lines"], p["accepted"], p["quarantined"], p["duplicates"]) == (7, 2, 4, 1)
    empty = log[("empty.csv", "user_feed")]
    assert (empty["lines"], empty["accepted"]) == (0, 0)  # listed, though it holds no record
    for r in log.values():
        assert r["lines"] == r["accepted"] + r["quarantined"] + r["duplicates"]


def test_feed_syncs_are_ingested_idempotently_by_sync_time(spark, lake):
    pf = landing(lake) / "product_feed"
    write_csv(pf / SYNC1 / "part-1.csv", "product_id,price", ["P1,10", "P2,20"], mtime=1_000)
    run_ingest(spark, lake, sources=["product_feed"])
    run_ingest(spark, lake, sources=["product_feed"])  # nothing new: nothing changes
    assert len(rows(spark, BRONZE_PRODUCT_SNAPSHOTS, lake)) == 2

    # A late second part of the same sync: the sync is re-read and replaced, not appended.
    write_csv(pf / SYNC1 / "part-2.csv", "product_id,price", ["P3,30"], mtime=2_000)
    write_csv(pf / SYNC2 / "part-1.csv", "product_id,price", ["P1,9"], mtime=3_000)
    run_ingest(spark, lake, sources=["product_feed"])
    got = [
        (str(r["sync_time"]), r["product_id"], r["price"])
        for r in rows(spark, BRONZE_PRODUCT_SNAPSHOTS, lake, order_by=["sync_time", "product_id"])
    ]
    assert got == [
        ("2026-01-05 00:00:00", "P1", Decimal("10.0000")),
        ("2026-01-05 00:00:00", "P2", Decimal("20.0000")),
        ("2026-01-05 00:00:00", "P3", Decimal("30.0000")),
        ("2026-01-06 00:00:00", "P1", Decimal("9.0000")),
    ]


def test_parquet_feed_files_are_read_with_row_numbers(spark, lake):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = landing(lake) / "user_feed" / SYNC1
    folder.mkdir(parents=True)
    table = pa.table({"cuid": ["c1", None, "c3"], "loyalty_tier": ["Gold", "Silver", None]})
    pq.write_table(table, folder / "users.parquet")
    run_ingest(spark, lake, sources=["user_feed"])

    users = {r["cuid"]: r["attributes"] for r in rows(spark, BRONZE_USER_SNAPSHOTS, lake)}
    assert users == {"c1": {"loyalty_tier": "Gold"}, "c3": {}}
    (bad,) = rows(spark, BRONZE_QUARANTINE, lake)
    assert (bad["source_line"], bad["reason"], bad["field"]) == (2, "MISSING_FIELD", "cuid")
    assert bad["raw"] == '{"loyalty_tier":"Silver"}'


def _replay_landing(root: Path) -> None:
    events_dir = root / "events"
    shared = event("add_to_cart", event_id="s1", product_id="P1")
    for i in range(6):
        batch = [
            event(event_id=f"f{i}-{k}", event_time=f"2026-01-0{1 + i}T0{k}:00:00Z", user_id=f"u{k}")
            for k in range(5)
        ]
        write_lines(
            events_dir / f"{i:02d}.jsonl",
            [*batch, shared, "oops" if i % 2 else json.dumps(event("teleport"))],
            mtime=1_000 + i,
        )
    pf = root / "product_feed"
    for i in range(3):
        write_csv(
            pf / f"sync_time=2026-01-0{1 + i}T00:00:00Z" / "p.csv",
            "product_id,price",
            [f"P1,{10 - i}", "P2,x", "P1,1"],
            mtime=1_000 + i,
        )


def test_replay_one_batch_and_many_small_batches_give_identical_bronze_tables(spark, lake):
    _replay_landing(landing(lake))
    one = separate_lake(lake, "_one")
    many = separate_lake(lake, "_many", streaming=StreamingSettings(max_files_per_trigger=1))
    run_ingest(spark, one)
    run_ingest(spark, many)
    tables = (BRONZE_EVENTS, BRONZE_QUARANTINE, BRONZE_INGEST_FILES, BRONZE_PRODUCT_SNAPSHOTS)
    for table in tables:
        assert rows(spark, table, one) == rows(spark, table, many), table.name
    assert len(rows(spark, BRONZE_EVENTS, one)) == 31
    versions = spark.sql(f"DESCRIBE HISTORY delta.`{BRONZE_EVENTS.location(many)}`").count()
    assert versions > 6  # the many-batch run really did write in several commits


def test_continuous_mode_picks_up_files_as_they_land(spark, lake):
    """The processing-time trigger keeps running and ingests each new file (new files only)."""
    import time

    from reconnect.ingest.pipeline import SOURCES, start_ingest_query

    continuous = lake.model_copy(
        update={
            "streaming": StreamingSettings(trigger="processing_time", processing_time="1 second")
        }
    )
    ensure_tables(spark, continuous)
    events_dir = landing(lake) / "events"
    write_lines(events_dir / "1.jsonl", [event(event_id="c1")])
    query = start_ingest_query(spark, continuous, SOURCES["events"])
    try:

        def stored() -> set[str]:
            return {r["event_id"] for r in rows(spark, BRONZE_EVENTS, continuous)}

        deadline = time.monotonic() + 120
        while stored() != {"c1"} and time.monotonic() < deadline:
            time.sleep(1)
        write_lines(events_dir / "2.jsonl", [event(event_id="c2"), event(event_id="c1")])

        def duplicates_per_file() -> dict[str, int]:
            # The per-file counts are the batch's last write: wait for them, not the events.
            return {
                Path(r["source_file"]).name: r["duplicates"]
                for r in rows(spark, BRONZE_INGEST_FILES, continuous)
            }

        while len(duplicates_per_file()) < 2 and time.monotonic() < deadline:
            time.sleep(1)
        assert query.isActive
    finally:
        query.stop()
    assert stored() == {"c1", "c2"}
    assert duplicates_per_file() == {"1.jsonl": 0, "2.jsonl": 1}


def test_a_backfill_of_many_list_syncs_replaces_exactly_those_syncs_and_channels(spark, lake):
    # A year of daily subscriber-list syncs on two channels (DATA.md: one snapshot per channel
    # per sync; R-OPT-1 reads consent from them), 300 of the e-mail ones re-delivered: the
    # overwrite's predicate stays one IN list per channel however many syncs a batch holds, and
    # replaces exactly those snapshots.
    ensure_tables(spark, lake)
    days = [datetime(2025, 1, 1) + timedelta(days=i) for i in range(365)]

    def table(tag: str, channels: tuple[str, ...], syncs: list[datetime]):
        data = [
            (d, c, f"c{i}", f"{tag}{i}", "f.csv", i) for i, d in enumerate(syncs) for c in channels
        ]
        return spark.createDataFrame(data, BRONZE_SUBSCRIPTIONS.schema)

    table("old", ("email", "sms"), days).write.format("delta").mode("append").save(
        BRONZE_SUBSCRIPTIONS.location(lake)
    )
    replaced = [(d, "email") for d in days[:300]]
    assert syncs_predicate(replaced).count("IN (") == 1
    replace_syncs(BRONZE_SUBSCRIPTIONS, lake, table("new", ("email",), days[:300]), replaced)

    addresses = [(r["channel"], r["address"][:3]) for r in rows(spark, BRONZE_SUBSCRIPTIONS, lake)]
    assert addresses.count(("email", "new")) == 300
    assert addresses.count(("email", "old")) == 65  # the syncs not re-delivered are kept
    assert addresses.count(("sms", "old")) == 365  # the other channel is untouched
