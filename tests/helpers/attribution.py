"""Hand-made sent messages and bronze events for the attribution tests."""

from __future__ import annotations

from datetime import datetime, timedelta

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
