"""Hand-made sent messages and bronze events for the attribution tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from reconnect.lake.tables import BRONZE_EVENTS, GOLD_MESSAGES
from reconnect.lake.writes import append

DAY0 = datetime(2026, 3, 2)


def message(mid: str, campaign: str, user: str = "u1") -> dict:
    """A SENT e-mail of ``campaign`` to ``user`` (a row of gold.messages), sent the day before."""
    return {
        "message_id": mid, "journey_id": f"j-{mid}", "campaign_id": campaign,
        "campaign_type": "custom", "variation_id": "v1", "is_control": False, "step_number": 1,
        "step_name": "first", "person_key": f"u:{user}", "user_id": user, "cuid": None,
        "trigger_time": DAY0 - timedelta(days=1), "due_at": DAY0 - timedelta(days=1),
        "send_at": DAY0 - timedelta(days=1), "deferred_from": None, "state": "SENT",
        "reason": None, "decided_by": None, "channel": "email", "address": "a@x", "payload": "{}",
    }  # fmt: skip


def land(spark, lake, events: list[dict], messages: list[dict] = ()) -> None:
    """Append ``messages`` to gold.messages and ``events`` (partial rows) to bronze.events."""
    if messages:
        append(lake, GOLD_MESSAGES, spark.createDataFrame(messages, GOLD_MESSAGES.schema))
    rows = [
        {f.name: None for f in BRONZE_EVENTS.schema.fields}
        | {"source_file": "events/test.jsonl", "source_line": n, "event_date": e["event_time"]}
        | e
        for n, e in enumerate(events, 1)
    ]
    for r in rows:
        r["event_date"] = r["event_time"].date()
    append(lake, BRONZE_EVENTS, spark.createDataFrame(rows, BRONZE_EVENTS.schema))


def _latest(clicks: list[dict]) -> dict:
    """The latest click (ties: the larger click event id)."""
    return max(clicks, key=lambda c: (c["t"], c["click"]))


def credit_by_rules(
    messages: list[dict], events: list[dict], window_of: Callable[[str], timedelta]
) -> list[dict]:
    """R-ATTR-1 over ``events`` at once, written from the rules and not from the job.

    A click counts when it names a SENT message and is the recipient's (same user_id, or same
    cuid); its person is its user_id and its cuid, else the message's. A purchase is credited
    to the latest click of the same person strictly before it and at most its campaign's
    window before it (last click), and to each campaign's latest such click (per campaign).
    Revenue: the purchase's, else the sum of its items' price x quantity.
    """
    sent = {m["message_id"]: m for m in messages if m["state"] == "SENT"}
    clicks = []
    for e in events:
        m = sent.get(e.get("message_id"))
        if e["event_type"] != "message_click" or m is None:
            continue
        if e["user_id"] == m["user_id"] or (e.get("cuid") is not None and e["cuid"] == m["cuid"]):
            clicks.append({"click": e["event_id"], "t": e["event_time"], "user": e["user_id"],
                           "cuid": e.get("cuid") or m["cuid"], "message": m})  # fmt: skip
    rows = []
    for p in (e for e in events if e["event_type"] == "purchase"):
        revenue = p.get("revenue")
        if revenue is None:
            revenue = sum((i["price"] * (i["quantity"] or 1) for i in p.get("items") or []),
                          Decimal(0))  # fmt: skip
        qualifying = [
            c for c in clicks
            if (c["user"] == p["user_id"] or (p.get("cuid") is not None and c["cuid"] == p["cuid"]))
            and c["t"] < p["event_time"] <= c["t"] + window_of(c["message"]["campaign_id"])
        ]  # fmt: skip
        chosen = [("last_click", _latest(qualifying))] if qualifying else []
        for campaign in sorted({c["message"]["campaign_id"] for c in qualifying}):
            mine = [c for c in qualifying if c["message"]["campaign_id"] == campaign]
            chosen.append(("per_campaign", _latest(mine)))
        rows += [{"attribution": view, "purchase_event_id": p["event_id"],
                  "campaign_id": c["message"]["campaign_id"],
                  "variation_id": c["message"]["variation_id"],
                  "step_name": c["message"]["step_name"], "message_id": c["message"]["message_id"],
                  "click_event_id": c["click"], "revenue": Decimal(revenue)}
                 for view, c in chosen]  # fmt: skip
    return rows
