"""Adapters from the real public datasets to the landing contracts (no Spark).

Expected numbers are recomputed here with plain Python over the raw files, independently of the
adapters' code, and compared with both the adapters' output and ../shared/data/README.md.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from reconnect.adapters import ImportSummary, import_rees46, import_uci_retail

# ---------------------------------------------------------------------------------------------
# The DATA.md event contract, checked field by field
# ---------------------------------------------------------------------------------------------

EVENT_TYPES = {
    "page_view", "category_view", "product_view", "add_to_cart", "remove_from_cart",
    "sync_cart", "purchase", "message_click", "message_open", "identify", "opt_in", "opt_out",
    "custom",
}  # fmt: skip
DATA_MD_FIELDS = {
    "event_id", "event_time", "user_id", "cuid", "session_id", "event_type", "event_name",
    "product_id", "quantity", "price", "currency", "category", "cart", "order_id", "revenue",
    "items", "message_id", "channel", "address", "properties",
}  # fmt: skip
REQUIRED_BY_TYPE = {
    "product_view": ("product_id",),
    "add_to_cart": ("product_id",),
    "remove_from_cart": ("product_id",),
    "purchase": ("order_id", "revenue", "items"),
}
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def assert_valid_event(e: dict[str, Any]) -> None:
    """Fail unless ``e`` satisfies spec/DATA.md for the event types the adapters produce."""
    assert set(e) <= DATA_MD_FIELDS, f"fields outside DATA.md: {set(e) - DATA_MD_FIELDS}"
    for f in ("event_id", "event_time", "user_id", "event_type"):
        assert isinstance(e.get(f), str) and e[f].strip(), f"{f} missing in {e}"
    assert ISO_Z.fullmatch(e["event_time"]), e["event_time"]
    assert datetime.fromisoformat(e["event_time"]).tzinfo is not None
    assert e["event_type"] in EVENT_TYPES
    for f in REQUIRED_BY_TYPE.get(e["event_type"], ()):
        assert e.get(f) not in (None, "", []), f"{f} required for {e['event_type']}: {e}"
    for f in ("session_id", "product_id", "category", "order_id"):
        if f in e:
            assert isinstance(e[f], str) and e[f], (f, e)
    if "price" in e:
        assert is_number(e["price"]) and e["price"] >= 0
    if "revenue" in e:
        assert is_number(e["revenue"])
    if "quantity" in e:
        assert isinstance(e["quantity"], int) and e["quantity"] >= 1
    if "currency" in e:
        assert re.fullmatch(r"[A-Z]{3}", e["currency"])
    if "properties" in e:
        assert isinstance(e["properties"], dict) and e["properties"]
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in e["properties"].items())
    if "items" in e:
        assert isinstance(e["items"], list) and e["items"]
        for item in e["items"]:
            assert set(item) == {"product_id", "quantity", "price"}, item
            assert isinstance(item["product_id"], str) and item["product_id"]
            assert isinstance(item["quantity"], int) and item["quantity"] >= 1
            assert is_number(item["price"]) and item["price"] >= 0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def check_reconciles(s: ImportSummary) -> None:
    assert s.rows_read == s.rows_used + sum(s.skipped.values()), s.describe()
    assert s.reconciles


# ---------------------------------------------------------------------------------------------
# REES46
# ---------------------------------------------------------------------------------------------

REES46_HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)


@dataclass
class Rees46Run:
    summary: ImportSummary
    path: Path
    events: list[dict[str, Any]]
    seconds: float
    progress: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def rees46_csv(shared_data: Path) -> Path:
    return shared_data / "rees46_oct_head" / "2019-Oct_head17k.csv"


@pytest.fixture(scope="module")
def rees46(rees46_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Rees46Run:
    landing = tmp_path_factory.mktemp("rees46_landing")
    calls: list[int] = []
    t0 = time.perf_counter()
    summary = import_rees46(rees46_csv, landing, calls.append)
    seconds = time.perf_counter() - t0
    path = landing / "events" / "rees46-2019-Oct_head17k.jsonl"
    return Rees46Run(summary, path, read_jsonl(path), seconds, calls)


def test_rees46_counts_per_type_and_the_truncated_last_row(rees46: Rees46Run) -> None:
    s = rees46.summary
    assert s.source == "rees46:2019-Oct_head17k.csv"
    assert s.rows_read == 17_435
    # README: 17,056 views. The file is cut mid-row: its last line has 8 of 9 columns (the
    # user id is truncated and the session missing), so that view is skipped, not invented.
    assert s.event_types == {"add_to_cart": 165, "product_view": 17_055, "purchase": 214}
    assert s.skipped == {"wrong_column_count": 1}
    assert s.errors == ["2019-Oct_head17k.csv line 17436: 8 columns, expected 9"]
    assert s.events_written == s.rows_used == len(rees46.events) == 17_434
    check_reconciles(s)
    assert s.files_written == [rees46.path]
    assert (s.product_syncs, s.products) == (0, 0)
    assert Counter(e["event_type"] for e in rees46.events) == s.event_types
    assert rees46.progress == [17_435]
    assert rees46.seconds < 10


def test_rees46_users_sessions_products_match_readme(rees46: Rees46Run, rees46_csv: Path) -> None:
    users = {e["user_id"] for e in rees46.events}
    sessions = {e["session_id"] for e in rees46.events}
    assert len(users) == 4_504
    assert len(sessions) == 5_066
    assert len({e["product_id"] for e in rees46.events}) == 6_493
    # README's 4,505 users / 5,067 sessions / 17,056 views count the truncated last row as it
    # reads with csv.DictReader: user "52040330" (a cut-off "520403304") and a missing session.
    with open(rees46_csv, newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))
    assert len(raw) == 17_435
    assert len({r["user_id"] for r in raw}) == 4_505
    assert len({r["user_session"] for r in raw}) == 5_067
    assert Counter(r["event_type"] for r in raw) == {"view": 17_056, "cart": 165, "purchase": 214}
    last = raw[-1]
    assert last["user_session"] is None and last["user_id"] == "52040330"
    assert users | {last["user_id"]} == {r["user_id"] for r in raw}


def test_rees46_every_line_satisfies_data_md(rees46: Rees46Run) -> None:
    for e in rees46.events:
        assert_valid_event(e)
        assert e["currency"] == "USD"
        assert e["user_id"].isdigit()
    purchases = [e for e in rees46.events if e["event_type"] == "purchase"]
    assert len(purchases) == 214
    for p in purchases:
        assert p["items"] == [{"product_id": p["product_id"], "quantity": 1, "price": p["price"]}]
        assert p["revenue"] == p["price"]
        assert p["order_id"].startswith("rees46-")
    assert len({p["order_id"] for p in purchases}) == 214


def test_rees46_ids_unique_stable_and_input_order_kept(rees46: Rees46Run) -> None:
    ids = [e["event_id"] for e in rees46.events]
    assert len(set(ids)) == len(ids)
    # Line numbers 2..17435 (line 17436 is the truncated row): the id is file + line.
    assert ids == [f"rees46-2019-Oct_head17k-{n}" for n in range(2, 17_436)]
    times = [e["event_time"] for e in rees46.events]
    assert times == sorted(times)
    assert times[0] == "2019-10-01T00:00:00Z" and times[-1].startswith("2019-10-01T02:5")


def test_rees46_first_row_mapped_field_by_field(rees46: Rees46Run) -> None:
    # Line 2: 2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,
    #         541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c  (empty category_code)
    assert rees46.events[0] == {
        "event_id": "rees46-2019-Oct_head17k-2",
        "event_time": "2019-10-01T00:00:00Z",
        "user_id": "541312140",
        "session_id": "72d76fde-8bb3-4e00-8c23-a032dfed738c",
        "event_type": "product_view",
        "product_id": "44600062",
        "price": 35.79,
        "currency": "USD",
        "category": "2103807459595387724",
        "properties": {"brand": "shiseido", "category_id": "2103807459595387724"},
    }
    # Line 4 has a category code and no brand: the code is the category, brand is omitted.
    third = rees46.events[2]
    assert third["category"] == "furniture.living_room.sofa"
    assert third["properties"] == {"category_id": "2053013559792632471"}


def test_rees46_zero_price_means_unknown_and_is_omitted(
    rees46: Rees46Run, rees46_csv: Path
) -> None:
    with open(rees46_csv, newline="", encoding="utf-8") as f:
        zero_lines = {
            n for n, r in enumerate(csv.reader(f), start=1) if len(r) == 9 and r[6] == "0.00"
        }
    assert len(zero_lines) == 19
    no_price = {int(e["event_id"].rsplit("-", 1)[1]) for e in rees46.events if "price" not in e}
    assert no_price == zero_lines


def test_rees46_reimport_gives_identical_bytes(
    rees46: Rees46Run, rees46_csv: Path, tmp_path: Path
) -> None:
    again = import_rees46(rees46_csv, tmp_path)
    assert again.files_written[0].read_bytes() == rees46.path.read_bytes()
    assert again == dataclasses.replace(
        rees46.summary, files_written=[tmp_path / "events" / "rees46-2019-Oct_head17k.jsonl"]
    )


def test_rees46_malformed_rows_are_counted_named_and_skipped(tmp_path: Path) -> None:
    src = tmp_path / "mini.csv"
    src.write_text(
        REES46_HEADER + "\n"
        "2019-10-01 00:00:00 UTC,view,1,10,a.b,acme,1.50,7,s1\n"  # line 2: fine
        "2019-10-01 00:00:01 UTC,view,1,10,a.b,acme,abc,7,s1\n"  # line 3: bad price
        "2019-10-01 00:00:02 UTC,view,1,10,a.b,acme,1.50,7\n"  # line 4: 8 columns
        "2019-10-01 00:00:03 UTC,wishlist,1,10,a.b,acme,1.50,7,s1\n"  # line 5: unknown type
        "\n"  # line 6: blank, not a row
        "2019-13-01 00:00:04 UTC,cart,1,10,a.b,acme,1.50,7,s1\n"  # line 7: month 13
        "2019-10-01 00:00:05 UTC,cart,1,10,,,1.50,7,s1\n"  # line 8: fine, no code/brand
        "2019-10-01 00:00:06 UTC,remove_from_cart,1,10,a.b,,1.50,7,\n"  # line 9: no session
        "2019-10-01 00:00:07 UTC,purchase,1,10,a.b,acme,-2,7,s1\n"  # line 10: negative price
        "2019-10-01 00:00:08 UTC,purchase,1,10,a.b,acme,1.5,,s1\n"  # line 11: no user
        "2019-10-01 00:00:09 UTC,purchase,1,10,a.b,acme,1.499,7,s1\n",  # line 12: fine
        encoding="utf-8",
    )
    s = import_rees46(src, tmp_path / "landing")
    assert s.rows_read == 10
    assert s.skipped == {
        "bad_event_time": 1,
        "bad_price": 2,
        "missing_user_id": 1,
        "unknown_event_type": 1,
        "wrong_column_count": 1,
    }
    assert s.event_types == {
        "add_to_cart": 1, "product_view": 1, "purchase": 1, "remove_from_cart": 1
    }  # fmt: skip
    check_reconciles(s)
    assert s.errors == [
        "mini.csv line 3: price 'abc' is not a number",
        "mini.csv line 4: 8 columns, expected 9",
        "mini.csv line 5: event_type 'wishlist' is not one of view, cart, remove_from_cart, "
        "purchase",
        "mini.csv line 7: event_time '2019-13-01 00:00:04 UTC' is not a valid date",
        "mini.csv line 10: price '-2' is negative",
        "mini.csv line 11: user_id is empty",
    ]
    events = read_jsonl(s.files_written[0])
    for e in events:
        assert_valid_event(e)
    assert [e["event_id"] for e in events] == [f"rees46-mini-{n}" for n in (2, 8, 9, 12)]
    cart, removal, purchase = events[1], events[2], events[3]
    assert cart["category"] == "10" and cart["properties"] == {"category_id": "10"}
    assert removal["event_type"] == "remove_from_cart" and "session_id" not in removal
    assert purchase["price"] == purchase["revenue"] == 1.5  # rounded to 2 decimals
    assert purchase["items"] == [{"product_id": "1", "quantity": 1, "price": 1.5}]


def test_rees46_bad_header_missing_or_empty_file_raise(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("time,type,product\n2019-10-01 00:00:00 UTC,view,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"wrong\.csv.*expected a REES46 header event_time,"):
        import_rees46(wrong, tmp_path / "landing")
    with pytest.raises(ValueError, match=r"nope\.csv: no such file"):
        import_rees46(tmp_path / "nope.csv", tmp_path / "landing")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        import_rees46(empty, tmp_path / "landing")
    assert not (tmp_path / "landing" / "events").exists()


def test_rees46_accepts_bom_and_reordered_columns(tmp_path: Path) -> None:
    src = tmp_path / "reordered.csv"
    cols = REES46_HEADER.split(",")[::-1]
    row = "2019-10-01 00:00:00 UTC,view,1,10,a.b,acme,1.50,7,s1"
    values = row.split(",")[::-1]
    src.write_text("\ufeff" + ",".join(cols) + "\n" + ",".join(values) + "\n", encoding="utf-8")
    s = import_rees46(src, tmp_path)
    assert s.event_types == {"product_view": 1}
    (e,) = read_jsonl(s.files_written[0])
    assert (e["user_id"], e["session_id"], e["price"]) == ("7", "s1", 1.5)


# ---------------------------------------------------------------------------------------------
# UCI Online Retail
# ---------------------------------------------------------------------------------------------

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@dataclass
class UciRun:
    summary: ImportSummary
    landing: Path
    seconds: float
    progress: list[int]


@dataclass
class UciRaw:
    """Facts recomputed from the raw day files with plain Python, independent of the adapter."""

    rows: int = 0
    invoices: set[str] = field(default_factory=set)
    cancellations: set[str] = field(default_factory=set)
    cancellation_rows: int = 0
    rows_without_customer: int = 0
    stock_codes: set[str] = field(default_factory=set)
    descriptions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # stock code -> [(day, modal price, modal name)] over the days it sold at a price > 0
    daily: dict[str, list[tuple[str, float, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    purchase_invoices: set[str] = field(default_factory=set)
    item_rows: int = 0


def top(counts: Counter[Any]) -> Any:
    """Most frequent key; ties broken by the smallest key (the documented rule)."""
    ranked = sorted(counts.items(), key=lambda kv: kv[0])
    ranked.sort(key=lambda kv: kv[1], reverse=True)  # stable: equal counts keep key order
    return ranked[0][0]


@pytest.fixture(scope="module")
def uci_dir(shared_data: Path) -> Path:
    return shared_data / "uci_online_retail_by_day"


@pytest.fixture(scope="module")
def uci_raw(uci_dir: Path) -> UciRaw:
    raw = UciRaw()
    for path in sorted(uci_dir.glob("*.csv")):
        prices: dict[str, Counter[float]] = defaultdict(Counter)
        names: dict[str, Counter[str]] = defaultdict(Counter)
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                raw.rows += 1
                inv, code, price = r["InvoiceNo"], r["StockCode"], float(r["UnitPrice"])
                raw.invoices.add(inv)
                raw.stock_codes.add(code)
                if r["Description"]:
                    raw.descriptions[code].add(r["Description"])
                if not r["CustomerID"]:
                    raw.rows_without_customer += 1
                if inv.startswith("C"):
                    raw.cancellations.add(inv)
                    raw.cancellation_rows += 1
                    continue
                if inv.startswith("A"):  # bad-debt adjustments, not sales
                    continue
                if price > 0:
                    prices[code][price] += 1
                    if r["Description"].strip():
                        names[code][" ".join(r["Description"].split())] += 1
                if r["CustomerID"] and int(r["Quantity"]) > 0 and price > 0:
                    raw.purchase_invoices.add(inv)
                    raw.item_rows += 1
        for code, c in prices.items():
            last_name = raw.daily[code][-1][2] if raw.daily[code] else ""
            raw.daily[code].append(
                (path.stem, top(c), top(names[code]) if names[code] else last_name)
            )
    return raw


@pytest.fixture(scope="module")
def uci(uci_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> UciRun:
    landing = tmp_path_factory.mktemp("uci_landing")
    calls: list[int] = []
    t0 = time.perf_counter()
    summary = import_uci_retail(uci_dir, landing, calls.append)
    return UciRun(summary, landing, time.perf_counter() - t0, calls)


def read_snapshot(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["product_id"]: r for r in csv.DictReader(f)}


def snapshot_path(landing: Path, day: str) -> Path:
    return landing / "product_feed" / f"sync_time={day}T00:00:00Z" / "products.csv"


@pytest.fixture(scope="module")
def snapshots(uci: UciRun) -> dict[str, dict[str, dict[str, str]]]:
    """Day -> product id -> snapshot row, read back from the adapter's output."""
    out = {}
    for p in sorted((uci.landing / "product_feed").iterdir()):
        day = p.name.removeprefix("sync_time=")[:10]
        out[day] = read_snapshot(p / "products.csv")
    return out


def test_uci_readme_row_invoice_customer_and_code_counts(uci_raw: UciRaw) -> None:
    # The independent recomputation agrees with ../shared/data/README.md.
    assert uci_raw.rows == 541_909
    assert len(uci_raw.invoices) == 25_900
    assert len(uci_raw.cancellations) == 3_836
    assert uci_raw.rows_without_customer == 135_080
    assert len(uci_raw.stock_codes) == 4_070


def test_uci_summary_counts_and_reconciliation(uci: UciRun, uci_raw: UciRaw) -> None:
    s = uci.summary
    assert s.rows_read == uci_raw.rows == 541_909
    check_reconciles(s)
    assert s.rows_used == uci_raw.item_rows == 397_884
    assert s.skipped["cancellation"] == uci_raw.cancellation_rows == 9_288
    # Rows without a customer: 135,080 in all, of which 383 are in cancellations and 3 are
    # the "A" bad-debt adjustments; each row is counted once, under the first reason.
    assert s.skipped == {
        "adjustment": 3,
        "cancellation": 9_288,
        "no_customer": 135_080 - 383 - 3,
        "non_positive_price": 40,
    }
    assert s.errors == []
    assert s.event_types == {"purchase": s.events_written}
    assert s.events_written == len(uci_raw.purchase_invoices) == 18_532
    # Every invoice is a purchase event, a cancellation, or has nothing a purchase can use.
    assert len(uci_raw.invoices - uci_raw.cancellations - uci_raw.purchase_invoices) == 3_532
    assert s.product_syncs == 305
    assert len(s.files_written) == 610 and all(p.is_file() for p in s.files_written)
    assert uci.progress == [*range(50_000, 541_909, 50_000), 541_909]
    assert uci.seconds < 60, f"the full UCI import took {uci.seconds:.1f}s"


def test_uci_products_are_the_stock_codes_with_a_sale_price(
    uci: UciRun, uci_raw: UciRaw, snapshots: dict[str, dict[str, dict[str, str]]]
) -> None:
    final = snapshots["2011-12-09"]
    assert uci.summary.products == len(final) == len(uci_raw.daily) == 3_921
    # README's 4,070 stock codes minus those never sold above 0 (148 appear only in
    # cancellations or at price 0; "B" only in the bad-debt adjustments): no price to publish.
    never_priced = uci_raw.stock_codes - set(final)
    assert len(never_priced) == 4_070 - 3_921 == 149
    assert "B" in never_priced and "85123A" not in never_priced


def test_uci_snapshots_are_daily_cumulative_and_well_formed(
    uci: UciRun, uci_dir: Path, snapshots: dict[str, dict[str, dict[str, str]]]
) -> None:
    days = sorted(p.stem for p in uci_dir.glob("*.csv"))
    assert sorted(snapshots) == days and len(days) == 305
    first = snapshot_path(uci.landing, "2010-12-01")
    assert first.read_text(encoding="utf-8").splitlines()[0] == "product_id,price,name,currency"
    previous: set[str] = set()
    for day in days:
        rows = snapshots[day]
        assert set(rows) >= previous, f"{day} lost products"
        previous = set(rows)
        ids = list(rows)
        assert ids == sorted(ids)
        for r in rows.values():
            assert r["currency"] == "GBP"
            assert float(r["price"]) > 0 and re.fullmatch(r"\d+(\.\d+)?", r["price"])


def test_uci_price_is_the_days_modal_price(
    uci_dir: Path, snapshots: dict[str, dict[str, dict[str, str]]]
) -> None:
    def day_prices(day: str, code: str) -> Counter[float]:
        with open(uci_dir / f"{day}.csv", newline="", encoding="utf-8") as f:
            return Counter(
                float(r["UnitPrice"])
                for r in csv.DictReader(f)
                if r["StockCode"] == code
                and not r["InvoiceNo"].startswith("C")
                and float(r["UnitPrice"]) > 0
            )

    c = day_prices("2010-12-01", "85123A")
    assert c == {2.55: 9, 2.95: 6, 5.91: 2}  # a real choice: three prices that day
    assert snapshots["2010-12-01"]["85123A"]["price"] == "2.55"
    assert snapshots["2010-12-01"]["85123A"]["name"] == "WHITE HANGING HEART T-LIGHT HOLDER"
    # Ties go to the lower price, whichever was seen first.
    c = day_prices("2010-12-03", "79321")
    assert c[4.95] == c[4.25] == max(c.values())
    assert snapshots["2010-12-03"]["79321"]["price"] == "4.25"
    c = day_prices("2010-12-01", "85099B")
    assert c[1.65] == c[1.95] == max(c.values())
    assert snapshots["2010-12-01"]["85099B"]["price"] == "1.65"


def test_uci_snapshots_equal_independent_daily_modes_carried_forward(
    uci_raw: UciRaw, snapshots: dict[str, dict[str, dict[str, str]]]
) -> None:
    days = sorted(snapshots)
    expected: dict[str, tuple[float, str]] = {}
    by_day: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
    for code, series in uci_raw.daily.items():
        for day, price, name in series:
            by_day[day].append((code, price, name))
    carried = 0
    for day in days:
        for code, price, name in by_day[day]:
            expected[code] = (price, name)
        got = {k: (float(r["price"]), r["name"]) for k, r in snapshots[day].items()}
        assert got == expected, day
        carried += len(expected) - len(by_day[day])
    assert carried > 500_000  # most rows of a snapshot are carried forward, not traded that day


def test_uci_price_decreases_match_readme(
    uci_raw: UciRaw, snapshots: dict[str, dict[str, dict[str, str]]]
) -> None:
    independent = {
        code
        for code, series in uci_raw.daily.items()
        if any(b[1] < a[1] for a, b in pairwise(series))
    }
    assert len(independent) == 3_310  # README
    days = sorted(snapshots)
    from_feed: set[str] = set()
    for d0, d1 in pairwise(days):
        before, after = snapshots[d0], snapshots[d1]
        from_feed |= {
            k for k, r in after.items() if k in before
            and float(r["price"]) < float(before[k]["price"])
        }  # fmt: skip
    assert from_feed == independent


def test_uci_name_changes_vs_readme(
    uci_raw: UciRaw, snapshots: dict[str, dict[str, dict[str, str]]]
) -> None:
    # README's 650 counts stock codes with more than one distinct description over ALL rows,
    # including warehouse notes ("damaged", "check", "?") on zero-price adjustment lines.
    assert sum(1 for d in uci_raw.descriptions.values() if len(d) > 1) == 650
    notes = {d for ds in uci_raw.descriptions.values() for d in ds}
    assert {"damaged", "check", "?"} <= notes
    # The feed names products from sale lines only, so it changes far less often.
    days = sorted(snapshots)
    changed: set[str] = set()
    for d0, d1 in pairwise(days):
        before, after = snapshots[d0], snapshots[d1]
        changed |= {k for k, r in after.items() if k in before and r["name"] != before[k]["name"]}
    independent = {
        code
        for code, series in uci_raw.daily.items()
        if any(b[2] != a[2] for a, b in pairwise(series))
    }
    assert changed == independent
    assert len(changed) == 186  # vs README's 650
    assert not any(r["name"] in {"damaged", "check", "?"} for r in snapshots["2011-12-09"].values())


def test_uci_purchase_events_satisfy_data_md(uci: UciRun, uci_dir: Path) -> None:
    ids: set[str] = set()
    items = 0
    for path in sorted((uci.landing / "events").glob("uci-retail-*.jsonl")):
        day = path.stem.removeprefix("uci-retail-")
        assert (uci_dir / f"{day}.csv").is_file()
        for e in read_jsonl(path):
            assert_valid_event(e)
            assert e["event_type"] == "purchase" and e["currency"] == "GBP"
            assert re.fullmatch(r"uci-[1-9]\d*", e["user_id"])
            assert e["event_id"] == f"uci-{e['order_id']}" and e["order_id"].isdigit()
            # event time is on the file's day, after the day's snapshot (stamped at 00:00Z)
            assert e["event_time"].startswith(f"{day}T") and e["event_time"] > f"{day}T00:00:00Z"
            total = sum(i["quantity"] * i["price"] for i in e["items"])
            assert e["revenue"] == round(total, 2)
            assert set(e["properties"]) == {"country"}
            ids.add(e["event_id"])
            items += len(e["items"])
    assert len(ids) == uci.summary.events_written
    assert items == uci.summary.rows_used


def test_uci_known_invoice_mapped_field_by_field(uci: UciRun) -> None:
    first = read_jsonl(uci.landing / "events" / "uci-retail-2010-12-01.jsonl")[0]
    assert first == {
        "event_id": "uci-536365",
        "event_time": "2010-12-01T08:26:00Z",
        "user_id": "uci-17850",
        "event_type": "purchase",
        "order_id": "536365",
        "revenue": 139.12,
        "currency": "GBP",
        "items": [
            {"product_id": "85123A", "quantity": 6, "price": 2.55},
            {"product_id": "71053", "quantity": 6, "price": 3.39},
            {"product_id": "84406B", "quantity": 8, "price": 2.75},
            {"product_id": "84029G", "quantity": 6, "price": 3.39},
            {"product_id": "84029E", "quantity": 6, "price": 3.39},
            {"product_id": "22752", "quantity": 2, "price": 7.65},
            {"product_id": "21730", "quantity": 6, "price": 4.25},
        ],
        "properties": {"country": "United Kingdom"},
    }
    # 536591 was keyed across 16:57 and 16:58: the purchase is stamped at its last line.
    events = read_jsonl(uci.landing / "events" / "uci-retail-2010-12-01.jsonl")
    (late,) = [e for e in events if e["order_id"] == "536591"]
    assert late["event_time"] == "2010-12-01T16:58:00Z"


# --- hand-made UCI folders ------------------------------------------------------------------


def write_day(folder: Path, day: str, *rows: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{day}.csv").write_text("\n".join([UCI_HEADER, *rows]) + "\n", encoding="utf-8")


def test_uci_ties_cancellations_and_carry_forward_on_small_input(tmp_path: Path) -> None:
    data = tmp_path / "days"
    write_day(
        data, "2011-01-02",
        "100,X,beta,1,2011-01-02 10:00:00,2.0,1.0,UK",
        "100,X,alpha,1,2011-01-02 10:00:00,1.0,1.0,UK",
        "101,X,beta,1,2011-01-02 11:00:00,1.0,,UK",  # no customer: still feeds the price
        "101,X,alpha ,1,2011-01-02 11:00:00,2.0,,UK",  # trailing space: same name as alpha
        "102,Y,why,0,2011-01-02 12:00:00,0,2.0,UK",  # nothing usable
    )  # fmt: skip
    write_day(
        data, "2011-01-01",  # written second, processed first (date order)
        "90,X,old,3,2011-01-01 09:00:00,5.0,3.0,France",
        "90,Z,zed,1,2011-01-01 09:00:00,0.5,3.0,France",
    )  # fmt: skip
    write_day(
        data, "2011-01-03",
        "C200,X,alpha,-1,2011-01-03 09:00:00,0.1,1.0,UK",  # cancellation: no price effect
        "201,Z,zed,2,2011-01-03 09:00:00,0.4,1.0,UK",
    )  # fmt: skip
    s = import_uci_retail(data, tmp_path / "landing")
    check_reconciles(s)
    assert s.rows_read == 9 and s.rows_used == 5
    assert s.skipped == {"cancellation": 1, "no_customer": 2, "non_positive_quantity": 1}
    assert (s.product_syncs, s.products, s.events_written) == (3, 2, 3)
    snap = [read_snapshot(snapshot_path(tmp_path / "landing", f"2011-01-0{d}")) for d in (1, 2, 3)]
    assert {k: (r["price"], r["name"]) for k, r in snap[0].items()} == {
        "X": ("5.0", "old"), "Z": ("0.5", "zed")
    }  # fmt: skip
    # 2 x 1.0 vs 2 x 2.0 -> the lower; "alpha" x2 vs "beta" x2 -> the first alphabetically.
    assert snap[1]["X"]["price"] == "1.0" and snap[1]["X"]["name"] == "alpha"
    assert snap[1]["Z"]["price"] == "0.5"  # not traded on the 2nd: carried forward
    assert snap[2]["X"]["price"] == "1.0" and snap[2]["Z"]["price"] == "0.4"
    assert "Y" not in snap[2]  # never sold above 0: nothing to publish
    (e,) = read_jsonl(tmp_path / "landing" / "events" / "uci-retail-2011-01-02.jsonl")
    assert e["user_id"] == "uci-1" and e["revenue"] == 3.0 and len(e["items"]) == 2


def test_uci_malformed_rows_are_counted_named_and_skipped(tmp_path: Path) -> None:
    data = tmp_path / "days"
    write_day(
        data, "2011-02-01",
        "300,X,good,2,2011-02-01 10:00:00,1.25,5.0,UK",  # line 2
        "300,X,good,two,2011-02-01 10:00:00,1.25,5.0,UK",  # line 3: quantity
        "300,X,good,2,2011-02-01 25:00:00,1.25,5.0,UK",  # line 4: hour 25
        "300,X,good,2,2011-02-01 10:00:00,1.2.5,5.0,UK",  # line 5: price
        "300,X,good,2,2011-02-01 10:00:00,1.25,5.0",  # line 6: 7 columns
        "300,X,good,2,2011-02-01 10:00:00,1.25,5.5,UK",  # line 7: customer id
        "300,X,good,2,2011-02-01 10:00:00,nan,5.0,UK",  # line 8: price nan
        ",X,good,2,2011-02-01 10:00:00,1.25,5.0,UK",  # line 9: no invoice
        "301,X,good,1,2011-02-01 11:00:00,1.25,6.0,UK",  # line 10
    )  # fmt: skip
    s = import_uci_retail(data, tmp_path / "landing")
    check_reconciles(s)
    assert s.rows_read == 9 and s.rows_used == 2 and s.events_written == 2
    assert s.skipped == {
        "bad_customer_id": 1,
        "bad_invoice_date": 1,
        "bad_quantity": 1,
        "bad_unit_price": 2,
        "missing_invoice_no": 1,
        "wrong_column_count": 1,
    }
    assert s.errors == [
        "2011-02-01.csv line 3: Quantity 'two' is not an integer",
        "2011-02-01.csv line 4: InvoiceDate '2011-02-01 25:00:00' is not 'YYYY-MM-DD HH:MM:SS'",
        "2011-02-01.csv line 5: UnitPrice '1.2.5' is not a number",
        "2011-02-01.csv line 6: 7 columns, expected 8",
        "2011-02-01.csv line 7: CustomerID '5.5' is not a whole number",
        "2011-02-01.csv line 8: UnitPrice 'nan' is not a number",
        "2011-02-01.csv line 9: InvoiceNo is empty",
    ]
    assert read_snapshot(snapshot_path(tmp_path / "landing", "2011-02-01"))["X"]["price"] == "1.25"


def test_uci_bad_folder_name_or_header_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing: no such folder"):
        import_uci_retail(tmp_path / "missing", tmp_path / "landing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"empty: no YYYY-MM-DD\.csv files"):
        import_uci_retail(empty, tmp_path / "landing")
    odd = tmp_path / "odd"
    write_day(odd, "2011-01-01", "1,X,a,1,2011-01-01 10:00:00,1.0,1.0,UK")
    (odd / "notes.csv").write_text(UCI_HEADER + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"notes\.csv: unexpected file name; expected YYYY-MM-DD"):
        import_uci_retail(odd, tmp_path / "landing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "2011-01-01.csv").write_text("Invoice,Stock\n1,X\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"2011-01-01\.csv: wrong header.*InvoiceNo,StockCode"):
        import_uci_retail(bad, tmp_path / "landing")


def test_uci_reimport_gives_identical_bytes(uci_dir: Path, tmp_path: Path) -> None:
    days = tmp_path / "days"
    days.mkdir()
    for name in ("2010-12-01.csv", "2010-12-02.csv", "2011-12-09.csv"):
        (days / name).symlink_to(uci_dir / name)
    a = import_uci_retail(days, tmp_path / "a")
    b = import_uci_retail(days, tmp_path / "a")
    c = import_uci_retail(days, tmp_path / "c")
    assert a == b
    assert len(c.files_written) == 6
    for pa, pc in zip(a.files_written, c.files_written, strict=True):
        assert pa.relative_to(tmp_path / "a") == pc.relative_to(tmp_path / "c")
        assert pa.read_bytes() == pc.read_bytes()
    # no temporary files left behind
    assert not [p for p in (tmp_path / "a").rglob(".*")]
