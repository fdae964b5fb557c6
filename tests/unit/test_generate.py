"""The synthetic shop: determinism, exact counts, the DATA.md contracts and realistic funnels.

Every check reads the written files back with the standard library only, independently of the
generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import random
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from reconnect.generate import MALFORMED_KINDS, GenerationSummary, GeneratorConfig, generate_shop
from reconnect.generate.lines import TimeFormatter, malformed_line
from reconnect.lake.landing import format_ts

SMALL = GeneratorConfig(events=5_000, events_per_file=1_200)
MEDIUM = GeneratorConfig(seed=7, events=200_000)

EVENT_TYPES = {
    "page_view", "category_view", "product_view", "add_to_cart", "remove_from_cart", "sync_cart",
    "purchase", "message_click", "message_open", "identify", "opt_in", "opt_out", "custom",
}  # fmt: skip
REQUIRED_BY_TYPE = {
    "category_view": ("category",),
    "product_view": ("product_id",),
    "add_to_cart": ("product_id",),
    "remove_from_cart": ("product_id",),
    "sync_cart": ("cart",),
    "purchase": ("order_id", "revenue", "items"),
    "message_click": ("message_id",),
    "message_open": ("message_id",),
    "opt_in": ("channel", "address"),
    "opt_out": ("channel", "address"),
    "custom": ("event_name",),
}
KNOWN_FIELDS = {
    "event_id", "event_time", "user_id", "cuid", "session_id", "event_type", "event_name",
    "product_id", "quantity", "price", "currency", "category", "cart", "order_id", "revenue",
    "items", "message_id", "channel", "address", "properties",
}  # fmt: skip
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
MONEY_RE = re.compile(r'"(price|revenue)":(-?[0-9.]+)')
ADDRESS_RE = {
    "email": re.compile(r"^[a-z0-9.]+@example\.(com|org|net)$"),
    "sms": re.compile(r"^\+[1-9]\d{7,14}$"),
    "web_push": re.compile(r"^[0-9a-f]{40}$"),
    "app_push": re.compile(r"^[0-9a-f]{40}$"),
}
PRODUCT_HEADER = "product_id,price,name,url,image_url,category,brand,currency,stock,color"
USER_HEADER = "cuid,email,phone,timezone,country,loyalty_tier"


# ------------------------------------------------------------------------------ reading back


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def classify(line: str) -> str:
    """'valid' or the malformed kind of one line, by the rules of DATA.md alone."""
    try:
        e = json.loads(line)
    except json.JSONDecodeError:
        return "not_json"
    if not isinstance(e, dict):
        return "not_json"
    if any(not e.get(k) for k in ("event_id", "event_time", "user_id", "event_type")):
        return "missing_field"
    if not isinstance(e["event_time"], str) or not TS_RE.match(e["event_time"]):
        return "bad_timestamp"
    try:
        parse_time(e["event_time"])
    except ValueError:
        return "bad_timestamp"
    if e["event_type"] not in EVENT_TYPES:
        return "unknown_event_type"
    q = e.get("quantity")
    if q is not None and (not isinstance(q, int) or isinstance(q, bool)):
        return "wrong_type"
    for key in ("price", "revenue"):
        if key in e and (not isinstance(e[key], int | float) or isinstance(e[key], bool)):
            return "wrong_type"
    for key in ("cart", "items"):
        if key in e and not isinstance(e[key], list):
            return "wrong_type"
    if q is not None and q < 0:
        return "negative_quantity"
    return "valid"


@dataclass
class Landing:
    """Everything one run wrote, parsed."""

    root: Path
    lines: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    valid: list[dict[str, Any]] = field(default_factory=list)  # first occurrences, file order
    valid_raw: list[str] = field(default_factory=list)
    duplicates: int = 0
    duplicate_distance: int = 0

    @property
    def event_files(self) -> list[Path]:
        return sorted((self.root / "events").glob("part-*.jsonl"))


def read_landing(root: Path) -> Landing:
    out = Landing(root)
    first_seen: dict[str, int] = {}
    for path in out.event_files:
        out.lines.extend(path.read_text(encoding="utf-8").splitlines(keepends=True))
    for n, line in enumerate(out.lines):
        kind = classify(line)
        if kind != "valid":
            out.kinds[kind] += 1
        elif line in first_seen:
            out.duplicates += 1
            out.duplicate_distance = max(out.duplicate_distance, n - first_seen[line])
        else:
            first_seen[line] = n
            out.valid.append(json.loads(line))
            out.valid_raw.append(line)
    return out


def syncs(root: Path, folder: str) -> list[tuple[datetime, list[dict[str, str]], list[str]]]:
    """(sync time, rows, header) of every snapshot under ``folder``, oldest first."""
    found = []
    for d in sorted((root / folder).glob("sync_time=*")):
        (path,) = list(d.glob("*.csv"))
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            found.append((parse_time(d.name.split("=", 1)[1]), list(reader), reader.fieldnames))
    return found


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, Landing]:
    root = tmp_path_factory.mktemp("small")
    summary = generate_shop(SMALL, root)
    return summary, read_landing(root)


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, Landing]:
    root = tmp_path_factory.mktemp("medium")
    summary = generate_shop(MEDIUM, root)
    return summary, read_landing(root)


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# ------------------------------------------------------------------------ determinism, counts


def test_same_config_gives_byte_identical_files(tmp_path: Path) -> None:
    config = GeneratorConfig(events=3_000, days=5, events_per_file=1_000)
    generate_shop(config, tmp_path / "a")
    generate_shop(config, tmp_path / "b")
    a, b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert len(a) == 3 + 6 * 4  # 3 events files; 6 syncs of products, users and two lists
    assert a == b
    generate_shop(dataclasses.replace(config, seed=43), tmp_path / "c")
    assert all_files(tmp_path / "c")["events/part-00000.jsonl"] != a["events/part-00000.jsonl"]


def test_exact_line_count_split_into_files(small: tuple[GenerationSummary, Landing]) -> None:
    summary, landing = small
    assert len(landing.lines) == SMALL.events == summary.lines
    sizes = [len(p.read_text(encoding="utf-8").splitlines()) for p in landing.event_files]
    assert sizes == [1_200, 1_200, 1_200, 1_200, 200]
    assert summary.event_files == 5
    assert not list((landing.root / "events").glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize("events", [1, 7, 999])
def test_tiny_targets_are_met_exactly(tmp_path: Path, events: int) -> None:
    summary = generate_shop(GeneratorConfig(events=events, days=2), tmp_path)
    written = (tmp_path / "events" / "part-00000.jsonl").read_text(encoding="utf-8")
    assert len(written.splitlines()) == events == summary.lines


def test_summary_agrees_with_an_independent_count(small: tuple[GenerationSummary, Landing]) -> None:
    summary, landing = small
    assert set(summary.malformed) == set(MALFORMED_KINDS)
    assert summary.lines == summary.valid_events + summary.duplicates + sum(
        summary.malformed.values()
    )
    assert summary.valid_events == len(landing.valid)
    assert summary.duplicates == landing.duplicates
    assert dict(landing.kinds) == {k: v for k, v in summary.malformed.items() if v}
    assert (summary.users, summary.products) == (SMALL.user_count, SMALL.product_count)


def test_every_malformed_kind_occurs(small: tuple[GenerationSummary, Landing]) -> None:
    summary, landing = small
    assert all(landing.kinds[k] > 0 for k in MALFORMED_KINDS), landing.kinds
    assert all(summary.malformed[k] > 0 for k in MALFORMED_KINDS)


def test_duplicates_repeat_a_recent_line(small: tuple[GenerationSummary, Landing]) -> None:
    _, landing = small
    assert landing.duplicates > 0
    assert landing.duplicate_distance <= 2_000


def test_event_ids_are_unique_except_for_duplicate_lines(
    small: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = small
    seen_lines: set[str] = set()
    ids: list[str] = []
    for line in landing.lines:
        if line in seen_lines:
            continue
        seen_lines.add(line)
        found = re.search(r'"event_id":"([^"]+)"', line)
        if found:
            ids.append(found.group(1))
    assert len(ids) > 0.99 * len(landing.valid)
    assert len(ids) == len(set(ids))


def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    config = GeneratorConfig(events=250_000, users=2_000, days=3)
    generate_shop(config, tmp_path, lambda done, target: calls.append((done, target)))
    assert [(done // 1_000, target) for done, target in calls] == [
        (100, 250_000),
        (200, 250_000),
        (250, 250_000),
    ]
    assert calls[-1] == (250_000, 250_000)


# ----------------------------------------------------------------------------- event contract


def test_valid_events_are_in_event_time_order(small: tuple[GenerationSummary, Landing]) -> None:
    _, landing = small
    times = [parse_time(e["event_time"]) for e in landing.valid]
    assert all(a <= b for a, b in pairwise(times))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert times[0] >= start
    assert times[-1] > start + timedelta(days=SMALL.days - 2)  # the whole period is used


def check_contract(e: dict[str, Any], raw: str) -> None:
    assert set(e) <= KNOWN_FIELDS, set(e) - KNOWN_FIELDS
    for key in ("event_id", "user_id", "event_type", "event_time"):
        assert isinstance(e[key], str) and e[key]
    assert e["event_time"].endswith("Z") and TS_RE.match(e["event_time"])
    for key in REQUIRED_BY_TYPE.get(e["event_type"], ()):
        assert key in e, (key, raw)
    for key in ("cuid", "session_id", "event_name", "product_id", "category", "order_id",
                "message_id", "currency"):  # fmt: skip
        assert key not in e or (isinstance(e[key], str) and e[key])
    if "cuid" in e:
        assert re.fullmatch(r"[0-9a-f]{64}", e["cuid"])
    if "currency" in e:
        assert e["currency"] == "EUR"
    if "quantity" in e:
        assert isinstance(e["quantity"], int) and e["quantity"] >= 1
    for _, amount in MONEY_RE.findall(raw):
        assert re.fullmatch(r"\d+\.\d{2}", amount), raw
    if "cart" in e:
        for item in e["cart"]:
            assert set(item) == {"product_id", "quantity"} and item["quantity"] >= 1
    if e["event_type"] == "purchase":
        assert e["items"]
        total = sum(round(i["price"] * 100) * i["quantity"] for i in e["items"])
        assert round(e["revenue"] * 100) == total
        for item in e["items"]:
            assert set(item) == {"product_id", "quantity", "price"}
    if e["event_type"] in ("opt_in", "opt_out"):
        assert ADDRESS_RE[e["channel"]].match(e["address"]), raw
    if "properties" in e:
        assert e["properties"] and all(
            isinstance(k, str) and isinstance(v, str) for k, v in e["properties"].items()
        )


def test_every_valid_line_meets_the_data_contract(
    small: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = small
    for e, raw in zip(landing.valid, landing.valid_raw, strict=True):
        check_contract(e, raw)
    types = Counter(e["event_type"] for e in landing.valid)
    assert set(types) == EVENT_TYPES, EVENT_TYPES - set(types)


def test_offline_store_visits_and_custom_properties(
    medium: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = medium
    custom = [e for e in landing.valid if e["event_type"] == "custom"]
    names = Counter(e["event_name"] for e in custom)
    assert {"wishlist_add", "store_visit", "search"} <= set(names)
    visits = [e for e in custom if e["event_name"] == "store_visit"]
    assert all(e["properties"]["channel"] == "offline" and e["properties"]["store"]
               for e in visits)  # fmt: skip
    assert all("session_id" not in e and "cuid" in e for e in visits)
    assert any("properties" not in e for e in custom)


def test_cuid_appears_from_identify_on(medium: tuple[GenerationSummary, Landing]) -> None:
    _, landing = medium
    cuid_of: dict[str, str] = {}
    identified = 0
    for e in landing.valid:
        user = e["user_id"]
        if e["event_type"] == "identify":
            assert user not in cuid_of and "cuid" in e
            cuid_of[user] = e["cuid"]
            identified += 1
        else:
            assert e.get("cuid") == cuid_of.get(user), e
    assert identified > 100
    users = {row["cuid"]: row for _, rows, _ in syncs(landing.root, "user_feed") for row in rows}
    for cuid in cuid_of.values():
        if cuid in users:
            assert hashlib.sha256(users[cuid]["email"].encode()).hexdigest() == cuid


def test_sessions_end_after_30_minutes_of_inactivity(
    medium: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = medium
    last: dict[str, tuple[datetime, str | None]] = {}
    for e in landing.valid:
        t, sid = parse_time(e["event_time"]), e.get("session_id")
        if e["user_id"] in last:
            prev_t, prev_sid = last[e["user_id"]]
            gap = (t - prev_t).total_seconds()
            if sid is not None and sid == prev_sid:
                assert gap <= 1_800, e
            else:
                assert gap > 1_800, e
        last[e["user_id"]] = (t, sid)


# ------------------------------------------------------------------------------- funnel ratios


def test_funnel_ratios_follow_the_config(medium: tuple[GenerationSummary, Landing]) -> None:
    summary, landing = medium
    c = MEDIUM
    by_session: dict[str, Counter[str]] = defaultdict(Counter)
    first_type: dict[str, str] = {}
    for e in landing.valid:
        if "session_id" in e:
            by_session[e["session_id"]][e["event_type"]] += 1
            first_type.setdefault(e["session_id"], e["event_type"])
    sessions = list(by_session.values())
    carting = [s for s in sessions if s["add_to_cart"]]
    assert len(sessions) > 20_000

    def share(part: list[Counter[str]], whole: list[Counter[str]]) -> float:
        return len(part) / len(whole)

    assert share(carting, sessions) == pytest.approx(c.cart_session_ratio, abs=0.01)
    purchase = share([s for s in carting if s["purchase"]], carting)
    assert purchase == pytest.approx(c.purchase_given_cart, abs=0.04)
    remove = share([s for s in carting if s["remove_from_cart"]], carting)
    assert remove == pytest.approx(c.remove_given_cart, abs=0.04)
    sync = share([s for s in carting if s["sync_cart"]], carting)
    assert sync == pytest.approx(c.sync_cart_ratio, abs=0.04)
    bounce = share([s for s in sessions if not s["product_view"]], sessions)
    assert bounce == pytest.approx(c.bounce_ratio, abs=0.02)
    clicked = sum(t in ("message_click", "message_open") for t in first_type.values())
    assert clicked / len(sessions) == pytest.approx(c.message_click_ratio, abs=0.01)
    browsing = [s for s in sessions if s["product_view"] and not s["add_to_cart"]]
    views = sum(s["product_view"] for s in browsing) / len(browsing)
    assert views == pytest.approx(c.views_per_session_mean, rel=0.08)
    all_types = Counter(e["event_type"] for e in landing.valid)
    per_view = all_types["category_view"] / all_types["product_view"]
    assert per_view == pytest.approx(c.category_view_ratio, abs=0.03)
    users = {e["user_id"] for e in landing.valid}
    identified = {e["user_id"] for e in landing.valid if e["event_type"] == "identify"}
    assert len(identified) / len(users) == pytest.approx(c.identify_ratio, abs=0.03)
    assert summary.duplicates / summary.lines == pytest.approx(c.duplicate_ratio, abs=0.002)
    malformed = sum(summary.malformed.values()) / summary.lines
    assert malformed == pytest.approx(c.malformed_ratio, abs=0.003)


def test_busy_hours_get_more_traffic(medium: tuple[GenerationSummary, Landing]) -> None:
    _, landing = medium
    hours = Counter(int(e["event_time"][11:13]) for e in landing.valid)
    assert hours[20] > 5 * hours[4]


# ---------------------------------------------------------------------------------- the feeds


def test_one_snapshot_per_day_boundary_with_the_contract_headers(
    small: tuple[GenerationSummary, Landing],
) -> None:
    summary, landing = small
    expected = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(31)]
    products = syncs(landing.root, "product_feed")
    users = syncs(landing.root, "user_feed")
    assert [t for t, _, _ in products] == expected == [t for t, _, _ in users]
    assert summary.product_syncs == summary.user_syncs == 31
    assert all(",".join(h) == PRODUCT_HEADER for _, _, h in products)
    assert all(",".join(h) == USER_HEADER for _, _, h in users)
    assert all(len(rows) == SMALL.product_count for _, rows, _ in products)
    for channel in ("email", "sms"):
        lists = syncs(landing.root, f"subscribers/channel={channel}")
        assert [t for t, _, _ in lists] == expected
        assert all(h == ["cuid", "address"] for _, _, h in lists)
    assert summary.subscriber_syncs == 62


def test_product_feed_has_markdowns_restocks_and_renames(
    medium: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = medium
    feed = syncs(landing.root, "product_feed")
    snapshots = [{r["product_id"]: r for r in rows} for _, rows, _ in feed]
    drops = Counter[str]()
    for before, after in pairwise(snapshots):
        for pid, old in before.items():
            new = after[pid]
            change = (float(new["price"]) - float(old["price"])) / float(old["price"])
            if change <= -0.10:
                drops["big"] += 1
            elif change < 0:
                drops["small"] += 1
            elif change > 0:
                drops["rise"] += 1
            if old["stock"] == "0" and int(new["stock"]) > 0:
                drops["back_in_stock"] += 1
            if old["stock"] != "0" and new["stock"] == "0":
                drops["sold_out"] += 1
            if old["name"] != new["name"]:
                drops["renamed"] += 1
            if old["color"] != new["color"]:
                drops["recolored"] += 1
    assert all(drops[k] > 0 for k in ("big", "small", "rise", "back_in_stock", "sold_out",
                                      "renamed", "recolored")), drops  # fmt: skip
    assert all(re.fullmatch(r"\d+\.\d{2}", r["price"]) for r in snapshots[-1].values())


def test_user_feed_and_lists_change_between_syncs(
    medium: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = medium
    feeds = [{r["cuid"]: r for r in rows} for _, rows, _ in syncs(landing.root, "user_feed")]
    assert not feeds[0] and len(feeds[-1]) > 500  # users appear once they identify
    changes = Counter[str]()
    for before, after in pairwise(feeds):
        assert set(before) <= set(after)
        for cuid, old in before.items():
            new = after[cuid]
            if old["loyalty_tier"] and new["loyalty_tier"] != old["loyalty_tier"]:
                changes["deleted" if not new["loyalty_tier"] else "changed"] += 1
    assert changes["changed"] > 0 and changes["deleted"] > 0
    tiers = Counter(r["loyalty_tier"] for r in feeds[-1].values())
    assert {"Bronze", "Silver", "Gold", "Platinum"} <= set(tiers)
    assert all(r["phone"] == "" or ADDRESS_RE["sms"].match(r["phone"]) for r in feeds[-1].values())

    for channel in ("email", "sms"):
        snapshots = syncs(landing.root, f"subscribers/channel={channel}")
        lists = [{r["cuid"]: r["address"] for r in rows} for _, rows, _ in snapshots]
        joined = sum(len(set(b) - set(a)) for a, b in pairwise(lists))
        left = sum(len(set(a) - set(b)) for a, b in pairwise(lists))
        assert joined > 0 and left > 0, channel
        assert all(ADDRESS_RE[channel].match(a) for a in lists[-1].values())
        assert set(lists[-1]) <= set(feeds[-1])


def test_event_prices_are_the_feed_price_in_force(
    medium: tuple[GenerationSummary, Landing],
) -> None:
    _, landing = medium
    feed = syncs(landing.root, "product_feed")
    times = [t for t, _, _ in feed]
    prices = [{r["product_id"]: r["price"] for r in rows} for _, rows, _ in feed]
    checked = 0
    for e, raw in zip(landing.valid, landing.valid_raw, strict=True):
        if "product_id" not in e and "items" not in e:
            continue
        in_force = prices[bisect_right(times, parse_time(e["event_time"])) - 1]
        if "price" in e:
            assert re.search(rf'"price":{re.escape(in_force[e["product_id"]])}[,}}]', raw), raw
            checked += 1
        for item in e.get("items", []):
            assert f"{item['price']:.2f}" == in_force[item["product_id"]]
            checked += 1
    assert checked > 50_000


# ------------------------------------------------------------------------------ config, parts


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("events", 0),
        ("events", "10"),
        ("users", 0),
        ("products", 3),
        ("days", 0),
        ("start", datetime(2026, 1, 1)),
        ("start", "2026-01-01"),
        ("seed", 1.5),
        ("events_per_file", 0),
        ("cart_session_ratio", 1.5),
        ("malformed_ratio", -0.1),
        ("identify_ratio", True),
        ("views_per_session_mean", 0.5),
        ("adds_per_cart_session_mean", 9),
        ("bounce_ratio", 0.95),  # with the default cart share the two exceed 1
        ("duplicate_ratio", 0.6),
    ],
)
def test_bad_config_values_name_the_field(field_name: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"GeneratorConfig\.\w+: expected") as err:
        GeneratorConfig(**{field_name: value})
    named = str(err.value).split(":")[0].removeprefix("GeneratorConfig.")
    assert named == field_name or (field_name == "duplicate_ratio" and named == "malformed_ratio")


def test_defaults_derive_population_from_the_event_target() -> None:
    assert GeneratorConfig().user_count == 25_000
    assert GeneratorConfig().product_count == 1_250
    assert GeneratorConfig(events=100).user_count == 50
    assert GeneratorConfig(events=100).product_count == 50
    assert GeneratorConfig(users=10_000, products=77).product_count == 77
    assert GeneratorConfig().start == date(2026, 1, 1)


def test_fast_timestamps_match_landing_format_ts() -> None:
    fmt = TimeFormatter(date(2026, 3, 28))
    rng = random.Random(1)
    for t in [fmt.origin, fmt.origin + 86_399, *(fmt.origin + rng.randrange(40 * 86_400)
                                                 for _ in range(500))]:  # fmt: skip
        assert fmt(t) == format_ts(datetime.fromtimestamp(t, UTC))


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_builder_makes_its_kind(kind: str) -> None:
    rng = random.Random(kind)
    for i in range(200):
        line = malformed_line(kind, rng, f"x-e{i}", "2026-01-05T10:00:00Z", "u1", "p000001",
                              "19.99", "books.fiction")  # fmt: skip
        assert line.endswith("\n") and "\n" not in line[:-1]
        assert classify(line) == kind, line
