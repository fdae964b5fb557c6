"""Every worked example of spec/vectors.yaml, end to end: ingest, feeds, detect and send.

All vectors run together in one lake and one pipeline run (a run costs ~30 s, whatever its
size): each vector's campaigns, users, cuids, products, event names and event ids get the prefix
``vNN-``, so no vector can touch another's journeys, caps or consent (cart and view campaigns,
which any user's add or view would trigger, also require the vector's own product category).
Feed syncs are merged into full snapshots: at every sync time each vector's products are its
own latest sync, so a vector sees exactly its own changes. The one watermark (the latest
``tick``) is behind every vector's messages.

Detection decides journeys, due times, payloads, CANCELLED (with the cancelling event) and
SUPERSEDED (with the re-trigger); step eligibility is checked for those. The sender then settles
every message: gold.messages must hold exactly the expected messages with their terminal state,
reason and channel (R-SEND-2).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpers.scenario import (
    Scenario,
    campaign,
    messages,
    run_pipeline,
    sent_messages,
    ts,
    vectors,
)

pytestmark = pytest.mark.spark

DETECTION_STATES = ("CANCELLED", "SUPERSEDED")
VECTORS = vectors()


def _ns(i: int) -> str:
    return f"v{i:02d}-"


def _namespaced(i: int, v: dict[str, Any]) -> dict[str, Any]:
    """The vector with every identifier prefixed (see the module note)."""
    p = _ns(i)
    campaigns = []
    for c in v["campaigns"]:
        c = {**c, "id": p + c["id"], "name": c["id"]}
        if "trigger" in c and "event_name" in c["trigger"]:
            c["trigger"] = {**c["trigger"], "event_name": p + c["trigger"]["event_name"]}
        if c["type"] in ("cart_abandonment", "product_view"):  # any user's add / view triggers
            c["product"] = {"field": "category", "op": "eq", "value": p}
        campaigns.append(c)
    events = []
    for n, (t, user, etype, fields) in enumerate(v.get("events", []), start=1):
        f = dict(fields or {})
        for key in ("cuid", "product_id", "event_name", "order_id"):
            if key in f:
                f[key] = p + f[key]
        if "product_id" in f:
            f["category"] = p
        if "items" in f:
            f["items"] = [{**x, "product_id": p + x["product_id"]} for x in f["items"]]
        events.append({"event_id": f"{p}e{n}", "event_time": t, "user_id": p + user,
                       "event_type": etype, **f})  # fmt: skip
    products = [
        {**s, "rows": [{**r, "product_id": p + r["product_id"]} for r in s["rows"]]}
        for s in v.get("product_feed", [])
    ]
    users = [
        {**s, "rows": [{**r, "cuid": p + r["cuid"]} for r in s["rows"]]}
        for s in v.get("user_feed", [])
    ]
    subscribers = {
        ch: [[p + c, a] for c, a in rows] for ch, rows in v.get("subscribers", {}).items()
    }
    expected = [
        {**e, "campaign": p + e["campaign"], "user": p + e["user"],
         **({"by": p + e["by"]} if "by" in e else {}),
         **({"payload_products": [p + x for x in e["payload_products"]]}
            if "payload_products" in e else {})}
        for e in v["expected"]
    ]  # fmt: skip
    return {"campaigns": campaigns, "events": events, "product_feed": products,
            "user_feed": users, "subscribers": subscribers, "expected": expected}  # fmt: skip


def _full_snapshots(per_vector: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One sync per distinct time, holding each vector's latest rows at that time."""
    times = sorted({s["sync_time"] for syncs in per_vector for s in syncs})
    out = []
    for t in times:
        rows: list[dict[str, Any]] = []
        for syncs in per_vector:
            past = [s for s in syncs if s["sync_time"] <= t]
            if past:
                rows += max(past, key=lambda s: s["sync_time"])["rows"]
        out.append({"sync_time": t, "rows": rows})
    return out


@pytest.fixture(scope="module")
def outcome(spark, spark_settings, tmp_path_factory, lakehouse_template):
    root = tmp_path_factory.mktemp("vectors")
    names = {layer: f"{layer}_vectors" for layer in ("bronze", "silver", "gold")}
    lake = spark_settings.with_paths(root).model_copy(
        update={"catalog": spark_settings.catalog.model_copy(update=names)}
    )
    shutil.copytree(lakehouse_template, lake.paths.lakehouse)  # empty tables (tests/conftest.py)
    vs = [_namespaced(i, v) for i, v in enumerate(VECTORS, start=1)]
    channels = {ch for v in vs for ch in v["subscribers"]}
    s = Scenario(
        [campaign(c) for v in vs for c in v["campaigns"]],
        product_feed=_full_snapshots([v["product_feed"] for v in vs]),
        user_feed=_full_snapshots([v["user_feed"] for v in vs]),
        subscribers={ch: [r for v in vs for r in v["subscribers"].get(ch, [])] for ch in channels},
        events=[[e["event_time"], e["user_id"], e["event_type"], {}]
                for v in vs for e in v["events"]],
    )  # fmt: skip
    landing = Path(lake.paths.landing)
    s.write_feeds(landing)
    s.write_events(landing, [e for v in vs for e in v["events"]], "events.jsonl")
    run_pipeline(spark, lake, s.campaigns)
    return vs, messages(spark, lake), sent_messages(spark, lake)


@pytest.mark.parametrize("index", range(len(VECTORS)), ids=[v["id"] for v in VECTORS])
def test_vector_end_to_end(outcome, index):
    # Rules: see each vector's `rules` (R-TYPE-*, R-STEP-1, R-EXIT-1/2, R-REL-1/2, R-CAP-1..4,
    # R-PRIO-1/2, R-CHAN-1, R-OPT-1/2, R-AB-2, R-TRIG-3/4, R-SEND-2).
    vs, eligible, sent = outcome
    v = vs[index]
    mine = {c["id"] for c in v["campaigns"]}
    want = {(e["campaign"], e["user"], e["step"], ts(e["due_at"])): e for e in v["expected"]}

    # Detection: step eligibility.
    got = {
        (m["campaign_id"], m["user_key"], m["step_number"], m["due_at"]): m
        for m in eligible
        if m["campaign_id"] in mine
    }
    assert sorted(got) == sorted(want), "exactly the expected messages exist"
    for key, e in want.items():
        m = got[key]
        if e["state"] in DETECTION_STATES:
            assert (m["state"], m["decided_by"]) == (e["state"], e["by"]), key
        else:
            assert m["state"] == "PENDING", key
            assert m["payload_as_of"] == m["due_at"], "settled: payload resolved at due time"
        if "payload_products" in e:
            assert [p["product_id"] for p in m["payload"]] == e["payload_products"], key
        if "drop_percent" in e:
            p = m["payload"][0]
            assert p["old_price"] == Decimal(str(e["old_price"])).quantize(Decimal("0.0001"))
            assert p["price"] == Decimal(str(e["new_price"])).quantize(Decimal("0.0001"))
            assert p["drop_percent"] == Decimal(str(e["drop_percent"])).quantize(Decimal("0.0001"))

    # Sender: every message in exactly one terminal state, with its reason and channel.
    rows = [m for m in sent if m["campaign_id"] in mine]
    by_key = {
        (m["campaign_id"], m["user_id"] or m["cuid"], m["step_number"], m["due_at"]): m
        for m in rows
    }
    assert len(by_key) == len(rows) == len(want)
    assert sorted(by_key) == sorted(want)
    for key, e in want.items():
        m = by_key[key]
        assert m["state"] == e["state"], (key, m["state"], m["reason"])
        if "reason" in e:
            assert m["reason"] == e["reason"], key
        if e["state"] == "SENT":
            assert m["channel"] == e.get("channel", "email"), key
            payload = json.loads(m["payload"])
            assert payload["message_id"] == m["message_id"]
            if "payload_products" in e:
                assert [p["product_id"] for p in payload["products"]] == e["payload_products"]
        elif m["reason"] != "CONTROL_GROUP":  # a control message keeps the send it would have had
            assert m["payload"] is None, key
