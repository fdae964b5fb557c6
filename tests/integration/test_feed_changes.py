"""Feed changes: consecutive feed syncs -> silver change tables (issue: reconnect feeds)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from tests.helpers.lake import rows
from tests.helpers.landing import write_csv, write_lines

from reconnect.feeds.changes import drop_percent
from reconnect.feeds.pipeline import plan_syncs, run_feed_changes
from reconnect.feeds.syncs import PRODUCT_FEED
from reconnect.ingest.pipeline import run_ingest
from reconnect.lake.tables import (
    SILVER_FEED_SYNC_PROGRESS,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    TableSpec,
)
from reconnect.settings import Settings

pytestmark = pytest.mark.spark

PRODUCT_HEADER = "product_id,price,stock,name"


def land_products(lake: Settings, sync: str, lines: list[str], name: str = "p.csv") -> None:
    folder = Path(lake.paths.landing) / "product_feed" / f"sync_time={sync}"
    write_csv(folder / name, PRODUCT_HEADER, lines)


def land_users(lake: Settings, sync: str, records: list[dict[str, Any]]) -> None:
    write_lines(Path(lake.paths.landing) / "user_feed" / f"sync_time={sync}" / "u.jsonl", records)


def ingest_and_diff(spark, lake: Settings) -> dict[str, int]:
    run_ingest(spark, lake, sources=["product_feed", "user_feed"])
    return run_feed_changes(spark, lake)


def price_rows(spark, lake: Settings) -> list[tuple[Any, ...]]:
    return [
        (
            r["product_id"],
            str(r["sync_time"]),
            str(r["previous_sync_time"]),
            r["old_price"],
            r["new_price"],
            r["drop_amount"],
            r["drop_percent"],
        )
        for r in rows(spark, SILVER_PRODUCT_CHANGES, lake, order_by=["product_id", "sync_time"])
        if r["attribute"] == "price"
    ]


def micros(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1_000_000)


def version(spark, table: TableSpec, lake: Settings) -> int:
    return int(DeltaTable.forPath(spark, table.location(lake)).history(1).first()["version"])


def snapshot(spark, lake: Settings) -> tuple[Any, ...]:
    tables = (SILVER_PRODUCT_CHANGES, SILVER_USER_ATTRIBUTE_CHANGES, SILVER_FEED_SYNC_PROGRESS)
    return tuple((rows(spark, t, lake), version(spark, t, lake)) for t in tables)


V11 = [
    ("2026-01-01T00:00:00Z", ["P1,100.00,,", "P2,50.00,,"]),
    ("2026-01-02T00:00:00Z", ["P1,90.01,,", "P2,50.00,,"]),
    ("2026-01-03T00:00:00Z", ["P1,90.00,,", "P2,50.00,,"]),
    ("2026-02-05T00:00:00Z", ["P1,90.00,,", "P2,40.00,,"]),
]


def test_v11_price_changes_between_consecutive_syncs_keep_exact_percentages(spark, lake):
    for sync, lines in V11:
        land_products(lake, sync, lines)
    written = ingest_and_diff(spark, lake)

    # R-TYPE-PRICE (V11): 100 -> 90.01 is a 9.99 % drop; consecutive syncs are diffed, so
    # 90.01 -> 90.00 is its own small drop. Unchanged prices (P2 until February) give no row.
    assert price_rows(spark, lake) == [
        (
            "P1",
            "2026-01-02 00:00:00",
            "2026-01-01 00:00:00",
            Decimal("100.0000"),
            Decimal("90.0100"),
            Decimal("9.9900"),
            Decimal("9.9900"),
        ),
        (
            "P1",
            "2026-01-03 00:00:00",
            "2026-01-02 00:00:00",
            Decimal("90.0100"),
            Decimal("90.0000"),
            Decimal("0.0100"),
            Decimal("0.0111"),  # 0.01 / 90.01 = 0.011109..%, floored
        ),
        (
            "P2",
            "2026-02-05 00:00:00",
            "2026-01-03 00:00:00",
            Decimal("50.0000"),
            Decimal("40.0000"),
            Decimal("10.0000"),
            Decimal("20.0000"),
        ),
    ]
    assert written == {"product_changes": 3, "user_attribute_changes": 0}
    assert all(
        r["attribute"] == "price" and r["change_kind"] == "changed" and not r["back_in_stock"]
        for r in rows(spark, SILVER_PRODUCT_CHANGES, lake)
    )


def test_drop_percent_is_floored_never_rounded_up_to_a_threshold(spark):
    # R-TYPE-PRICE ">= 10 %": against the R-TRIG-4 baseline of V11, 90.01 is 9.99 % and 90.00
    # is 10 %; 27.0001 from 30 is 9.99966.. %, which rounding would turn into 10.00.
    df = spark.createDataFrame(
        [
            ("100.00", "90.01"),
            ("100.00", "90.00"),
            ("30.00", "27.0001"),
            ("50.00", "60.00"),
            ("0", "0"),
        ],
        "old string, new string",
    ).select(money("old"), money("new"))
    got = [r.p for r in df.select(drop_percent("old", "new").alias("p")).collect()]
    assert got == [Decimal("9.9900"), Decimal("10.0000"), Decimal("9.9996"), None, None]
    assert got[2] < 10


def money(name: str):
    return F.col(name).cast("decimal(18,4)").alias(name)


def test_v12_stock_zero_to_positive_is_back_in_stock(spark, lake):
    # R-TYPE-PATTR (V12): P1 0 -> 5 at the 2nd sync, P2 0 -> 7 at the 3rd, P3 stays 0.
    land_products(lake, "2026-03-20T00:00:00Z", ["P1,10,0,", "P2,10,0,", "P3,10,0,"])
    land_products(lake, "2026-03-28T23:30:00Z", ["P1,10,5,", "P2,10,0,", "P3,10,0,"])
    land_products(lake, "2026-10-24T23:30:00Z", ["P1,10,5,", "P2,10,7,", "P3,10,00,"])
    ingest_and_diff(spark, lake)

    got = [
        (
            r["product_id"],
            str(r["sync_time"]),
            r["attribute"],
            r["old_value"],
            r["new_value"],
            r["back_in_stock"],
            r["change_kind"],
        )
        for r in rows(spark, SILVER_PRODUCT_CHANGES, lake, order_by=["product_id", "sync_time"])
    ]
    # "00" is stock 0 again: the typed stock is compared, not the text.
    assert got == [
        ("P1", "2026-03-28 23:30:00", "stock", "0", "5", True, "changed"),
        ("P2", "2026-10-24 23:30:00", "stock", "0", "7", True, "changed"),
    ]


def test_product_attributes_change_deletions_are_not_changes(spark, lake):
    land_products(lake, "2026-01-01T00:00:00Z", ["P1,10,5,Mug", "P2,10,3,Pen"])
    land_products(lake, "2026-01-02T00:00:00Z", ["P1,10,2,Big mug", "P2,10,,"])
    land_products(lake, "2026-01-03T00:00:00Z", ["P1,10,2,Big mug", "P2,10,4,"])
    ingest_and_diff(spark, lake)

    got = {
        (r["product_id"], str(r["sync_time"])[:10], r["attribute"]): (
            r["old_value"],
            r["new_value"],
            r["change_kind"],
            r["back_in_stock"],
        )
        for r in rows(spark, SILVER_PRODUCT_CHANGES, lake)
    }
    # P2's stock and name deleted on the 2nd: no rows; its stock back on the 3rd has no old value.
    assert got == {
        ("P1", "2026-01-02", "name"): ("Mug", "Big mug", "changed", False),
        ("P1", "2026-01-02", "stock"): ("5", "2", "changed", False),
        ("P2", "2026-01-03", "stock"): (None, "4", "first_appearance", False),
    }


def test_v13_user_attribute_deleted_is_not_a_change_first_appearance_is_flagged(spark, lake):
    land_users(
        lake,
        "2026-01-01T00:00:00Z",
        [
            {"cuid": "c1", "loyalty_tier": "Bronze"},
            {"cuid": "c2", "loyalty_tier": "Bronze"},
            {"cuid": "c3", "loyalty_tier": "Gold"},
        ],
    )
    land_users(
        lake,
        "2026-01-02T00:00:00Z",
        [
            {"cuid": "c1", "loyalty_tier": "Silver"},
            {"cuid": "c2"},
            {"cuid": "c3", "loyalty_tier": "Gold"},
            {"cuid": "c4", "loyalty_tier": "Silver"},
        ],
    )
    written = ingest_and_diff(spark, lake)

    got = [
        (
            r["cuid"],
            str(r["sync_time"])[:10],
            str(r["previous_sync_time"])[:10],
            r["attribute"],
            r["old_value"],
            r["new_value"],
            r["change_kind"],
        )
        for r in rows(spark, SILVER_USER_ATTRIBUTE_CHANGES, lake, order_by=["sync_time", "cuid"])
    ]
    # R-TYPE-UATTR: every user of the feed's first sync is a first appearance; on the 2nd sync
    # c1 changes, c2's deleted tier and c3's unchanged tier give nothing, c4 is new.
    assert got == [
        ("c1", "2026-01-01", "None", "loyalty_tier", None, "Bronze", "first_appearance"),
        ("c2", "2026-01-01", "None", "loyalty_tier", None, "Bronze", "first_appearance"),
        ("c3", "2026-01-01", "None", "loyalty_tier", None, "Gold", "first_appearance"),
        ("c1", "2026-01-02", "2026-01-01", "loyalty_tier", "Bronze", "Silver", "changed"),
        ("c4", "2026-01-02", "2026-01-01", "loyalty_tier", None, "Silver", "first_appearance"),
    ]
    assert written == {"product_changes": 0, "user_attribute_changes": 5}


def test_a_product_missing_from_a_sync_then_back_is_not_a_change(spark, lake):
    land_products(lake, "2026-01-01T00:00:00Z", ["P1,100,,", "P2,10,,"])
    land_products(lake, "2026-01-02T00:00:00Z", ["P2,9,,"])
    land_products(lake, "2026-01-03T00:00:00Z", ["P1,50,,", "P2,9,,"])
    ingest_and_diff(spark, lake)

    # P1 is absent on the 2nd: its absence is no change, and on the 3rd it has no baseline in the
    # previous sync, so its return at 50 is not a drop (docs/feeds.md). P2's drop is kept.
    assert [(r[0], r[1][:10]) for r in price_rows(spark, lake)] == [("P2", "2026-01-02")]


def test_incremental_run_adds_only_the_new_sync_and_a_rerun_changes_nothing(spark, lake):
    for sync, lines in V11[:2]:
        land_products(lake, sync, lines)
    first = ingest_and_diff(spark, lake)
    assert first["product_changes"] == 1
    before = rows(spark, SILVER_PRODUCT_CHANGES, lake)

    land_products(lake, *V11[2])
    run_ingest(spark, lake, sources=["product_feed"])
    # Work follows the new sync: only it is diffed, against the sync before it.
    plan = plan_syncs(spark, lake, PRODUCT_FEED)
    assert plan is not None and plan.previous == {micros(V11[2][0]): micros(V11[1][0])}
    second = ingest_and_diff(spark, lake)
    after = rows(spark, SILVER_PRODUCT_CHANGES, lake)
    assert second == {"product_changes": 1, "user_attribute_changes": 0}
    assert [r for r in after if r not in before] == [
        r for r in after if str(r["sync_time"]) == "2026-01-03 00:00:00"
    ]
    assert len(after) == 2
    progress = rows(spark, SILVER_FEED_SYNC_PROGRESS, lake, order_by=["sync_time"])
    assert [(str(r["sync_time"])[:10], r["change_rows"]) for r in progress] == [
        ("2026-01-01", 0),
        ("2026-01-02", 1),
        ("2026-01-03", 1),
    ]

    settled = snapshot(spark, lake)
    assert run_feed_changes(spark, lake) == {"product_changes": 0, "user_attribute_changes": 0}
    assert snapshot(spark, lake) == settled  # same rows, and no new Delta version


def test_a_late_older_sync_is_slotted_in_and_the_following_sync_rediffed(spark, lake):
    land_products(lake, "2026-01-01T00:00:00Z", ["P1,100,,"])
    land_products(lake, "2026-01-03T00:00:00Z", ["P1,80,,"])
    ingest_and_diff(spark, lake)
    assert [(r[1][:10], r[3], r[4]) for r in price_rows(spark, lake)] == [
        ("2026-01-03", Decimal("100.0000"), Decimal("80.0000"))
    ]

    land_products(lake, "2026-01-02T00:00:00Z", ["P1,90,,"])  # arrives late
    run_ingest(spark, lake, sources=["product_feed"])
    plan = plan_syncs(spark, lake, PRODUCT_FEED)
    assert plan is not None and plan.previous == {
        micros("2026-01-02T00:00:00Z"): micros("2026-01-01T00:00:00Z"),
        micros("2026-01-03T00:00:00Z"): micros("2026-01-02T00:00:00Z"),
    }
    ingest_and_diff(spark, lake)
    assert [(r[1][:10], r[2][:10], r[3], r[4]) for r in price_rows(spark, lake)] == [
        ("2026-01-02", "2026-01-01", Decimal("100.0000"), Decimal("90.0000")),
        ("2026-01-03", "2026-01-02", Decimal("90.0000"), Decimal("80.0000")),
    ]


def test_a_sync_replaced_by_a_late_file_is_rediffed(spark, lake):
    land_products(lake, "2026-01-01T00:00:00Z", ["P1,100,,", "P2,10,,"])
    ingest_and_diff(spark, lake)
    land_products(lake, "2026-01-02T00:00:00Z", ["P1,100,,"], name="a.csv")
    ingest_and_diff(spark, lake)
    assert price_rows(spark, lake) == []

    # A second part of the 2nd sync lands: bronze replaces the sync, so its changes are redone.
    land_products(lake, "2026-01-02T00:00:00Z", ["P2,8,,"], name="b.csv")
    run_ingest(spark, lake, sources=["product_feed"])
    plan = plan_syncs(spark, lake, PRODUCT_FEED)  # found from the bronze commit, not a rescan
    assert plan is not None and plan.previous == {
        micros("2026-01-02T00:00:00Z"): micros("2026-01-01T00:00:00Z")
    }
    written = ingest_and_diff(spark, lake)
    assert written["product_changes"] == 1
    assert [(r[0], r[1][:10], r[6]) for r in price_rows(spark, lake)] == [
        ("P2", "2026-01-02", Decimal("20.0000"))
    ]


def test_one_run_over_all_syncs_equals_one_run_per_sync(spark, lake, tmp_path):
    products = [*V11, ("2026-02-06T00:00:00Z", ["P1,95.00,3,", "P2,40.00,0,"])]
    users = [
        ("2026-01-01T00:00:00Z", [{"cuid": "c1", "tier": "A"}, {"cuid": "c2", "tier": "B"}]),
        ("2026-01-02T00:00:00Z", [{"cuid": "c1", "tier": "B", "city": "X"}, {"cuid": "c2"}]),
        ("2026-01-03T00:00:00Z", [{"cuid": "c1", "tier": "C"}, {"cuid": "c2", "tier": "B"}]),
    ]
    for sync, lines in products:
        land_products(lake, sync, lines)
    for sync, records in users:
        land_users(lake, sync, records)
    ingest_and_diff(spark, lake)

    step = lake.with_paths(tmp_path / "stepwise").model_copy(
        update={
            "catalog": lake.catalog.model_copy(
                update={f: f"{getattr(lake.catalog, f)}_s" for f in ("bronze", "silver", "gold")}
            )
        }
    )
    for i in range(max(len(products), len(users))):
        if i < len(products):
            land_products(step, *products[i])
        if i < len(users):
            land_users(step, *users[i])
        ingest_and_diff(spark, step)

    for table in (SILVER_PRODUCT_CHANGES, SILVER_USER_ATTRIBUTE_CHANGES):
        together = rows(spark, table, lake)
        assert together == rows(spark, table, step), table.name
        assert together


def test_a_sync_emptied_in_bronze_loses_its_changes_and_the_next_sync_is_rediffed(spark, lake):
    land_products(lake, "2026-01-01T00:00:00Z", ["P1,100,,"])
    land_products(lake, "2026-01-02T00:00:00Z", ["P1,90,,"], name="a.csv")
    land_products(lake, "2026-01-03T00:00:00Z", ["P1,80,,"])
    ingest_and_diff(spark, lake)
    assert [r[1][:10] for r in price_rows(spark, lake)] == ["2026-01-02", "2026-01-03"]

    # The 2nd sync is re-delivered with only a bad line: bronze replaces it with nothing.
    sync2 = Path(lake.paths.landing) / "product_feed" / "sync_time=2026-01-02T00:00:00Z"
    (sync2 / "a.csv").unlink()
    land_products(lake, "2026-01-02T00:00:00Z", ["P1,abc,,"], name="b.csv")
    progress_log = Path(SILVER_FEED_SYNC_PROGRESS.location(lake)) / "_delta_log"
    commits_before = len(list(progress_log.glob("*.json")))
    ingest_and_diff(spark, lake)

    assert [(r[1][:10], r[2][:10], r[3], r[4]) for r in price_rows(spark, lake)] == [
        ("2026-01-03", "2026-01-01", Decimal("100.0000"), Decimal("80.0000"))
    ]
    progress = rows(spark, SILVER_FEED_SYNC_PROGRESS, lake, order_by=["sync_time"])
    assert [str(r["sync_time"])[:10] for r in progress] == ["2026-01-01", "2026-01-03"]
    assert str(progress[1]["previous_sync_time"])[:10] == "2026-01-01"
    # The 3rd sync's row and the removal of the 2nd's are one commit: no crash can leave the
    # emptied sync recorded while the 3rd is recorded at the new bronze version.
    assert len(list(progress_log.glob("*.json"))) == commits_before + 1
