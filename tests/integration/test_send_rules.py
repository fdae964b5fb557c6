"""Sender rules on small hand-made data, end to end (ingest -> feeds -> detect -> send).

Consent at send time (R-OPT-1) from subscriber lists and opt events, identifiers (R-OPT-2), push
tokens, quiet hours with deferral (R-QUIET-1), audience at send time, campaign cap with channel
fallback (R-CAP-2, R-CHAN-1), late cancels (R-EXIT-3), and a re-run that sends nothing twice
(R-SEND-1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.scenario import Scenario, campaign, run_pipeline, run_scenario, sent_messages, ts
from reconnect.lake.landing import subscribers_sync_dir
from reconnect.lake.tables import (
    GOLD_DELIVERIES,
    GOLD_LATE_CANCELS,
    SILVER_LATE_EVENTS,
    SILVER_SEND_PROGRESS,
)
from reconnect.send.pipeline import summarize
from reconnect.settings import QuietHours

pytestmark = pytest.mark.spark

CART = {"id": "cart", "type": "cart_abandonment", "wait": "3h", "dont_send_if": ["purchase"],
        "channels": ["email", "sms"], "steps": [{"name": "reminder"}]}  # fmt: skip


def _by_user(rows):
    return {(m["campaign_id"], m["user_id"] or m["cuid"]): m for m in rows}


def _kept_rdds(spark) -> list[str]:
    """The persisted RDDs other than Delta's cache of table snapshots."""
    names = [r.name() or f"#{r.id()}" for r in spark.sparkContext._jsc.getPersistentRDDs().values()]
    return sorted(n for n in names if not n.startswith("Delta Table State"))


def _outbox_lines(settings) -> list[dict]:
    root = Path(settings.paths.lakehouse) / "outbox"
    return [
        json.loads(line)
        for f in sorted(root.rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def test_r_opt_1_consent_at_send_time_and_r_quiet_1_deferral(spark, lake):
    browse = {"id": "browse", "type": "product_view", "wait": "1h", "dont_send_if": [],
              "channels": ["web_push"], "steps": [{"name": "look"}]}  # fmt: skip
    s = Scenario(
        [campaign(CART), campaign(browse)],
        events=[
            ["2026-01-05T10:00:00Z", "u1", "add_to_cart", {"product_id": "P1", "cuid": "c1"}],
            ["2026-01-05T10:00:00Z", "u2", "add_to_cart", {"product_id": "P1", "cuid": "c2"}],
            ["2026-01-05T10:00:00Z", "u3", "add_to_cart", {"product_id": "P1", "cuid": "c3"}],
            ["2026-01-05T10:00:00Z", "u4", "add_to_cart", {"product_id": "P1", "cuid": "c4"}],
            ["2026-01-05T10:00:00Z", "u6", "add_to_cart", {"product_id": "P1", "cuid": "c6"}],
            [
                "2026-01-05T12:30:00Z",
                "u6",
                "opt_in",
                {"channel": "email", "address": "new6@example.com"},
            ],
            # an opt-out one second before, at, and one second after the due time (13:00)
            ["2026-01-05T12:59:59Z", "u1", "opt_out", {"channel": "email"}],
            ["2026-01-05T13:00:00Z", "u2", "opt_out", {"channel": "email"}],
            ["2026-01-05T13:00:01Z", "u3", "opt_out", {"channel": "email"}],
            # a device that never identified, with a web push token, browsing in the evening
            ["2026-01-05T20:00:00Z", "u5", "opt_in", {"channel": "web_push", "address": "tok5"}],
            ["2026-01-05T20:30:00Z", "u5", "product_view", {"product_id": "P1"}],
            ["2026-01-06T09:00:00Z", "tick", "page_view", {}],
        ],
        product_feed=[
            {
                "sync_time": "2026-01-05T00:00:00Z",
                "rows": [{"product_id": "P1", "price": 20.0, "name": "Mug"}],
            }
        ],
        subscribers={"email": [[c, f"{c}@example.com"] for c in ("c1", "c2", "c3", "c4", "c6")]},
    )
    # A second e-mail list at noon without c4 and c6: both opted out from then on (DATA.md);
    # c6 opts in again by an event at 12:30 with a new address.
    folder = subscribers_sync_dir(Path(lake.paths.landing), "email", ts("2026-01-05T12:00:00Z"))
    folder.mkdir(parents=True)
    (folder / "list.csv").write_text(
        "cuid,address\n" + "".join(f"{c},{c}@example.com\n" for c in ("c1", "c2", "c3"))
    )
    quiet = {"web_push": QuietHours(start="21:00", end="08:00")}
    settings = lake.model_copy(
        update={"sender": lake.sender.model_copy(update={"quiet_hours": quiet})}
    )
    kept = _kept_rdds(spark)
    run_scenario(spark, settings, s)
    # What the jobs materialized for a batch (the sender's local checkpoint) is freed after it.
    assert _kept_rdds(spark) == kept

    got = _by_user(sent_messages(spark, settings))
    outcome = {k: (m["state"], m["reason"], m["channel"]) for k, m in got.items()}
    assert outcome == {
        ("cart", "u1"): ("SUPPRESSED", "NOT_OPTED_IN", None),  # 1 s before due: opt-out wins
        ("cart", "u2"): ("SUPPRESSED", "NOT_OPTED_IN", None),  # at the due time: wins too
        ("cart", "u3"): ("SENT", None, "email"),  # 1 s after: too late to matter
        ("cart", "u4"): ("SUPPRESSED", "NOT_OPTED_IN", None),  # missing from the later list
        ("cart", "u6"): ("SENT", None, "email"),  # opted in again by event, latest wins
        ("browse", "u5"): ("SENT", None, "web_push"),
    }
    assert got[("cart", "u6")]["address"] == "new6@example.com"
    assert got[("cart", "u3")]["address"] == "c3@example.com"
    # R-QUIET-1: due 21:30 UTC in quiet hours (campaign time zone UTC) -> sent at 08:00.
    push = got[("browse", "u5")]
    assert (push["deferred_from"], push["send_at"]) == (
        ts("2026-01-05T21:30:00Z"),
        ts("2026-01-06T08:00:00Z"),
    )
    assert push["address"] == "tok5"
    # R-SEND-3: the file provider received exactly the SENT messages, rendered.
    lines = _outbox_lines(settings)
    assert sorted(x["message_id"] for x in lines) == sorted(
        m["message_id"] for m in got.values() if m["state"] == "SENT"
    )
    email = next(x for x in lines if x["to"] == "c3@example.com")
    assert "Mug" in email["content"]["body"] and email["products"][0]["price"] == "20.00"


def test_r_exit_3_late_cancel_audience_cap_fallback_and_rerun(spark, lake):
    capped = {**CART, "caps": {"email": {"count": 1, "window": "24h"}}}
    vip = {"id": "vip", "type": "custom", "trigger": {"event_name": "vip"}, "wait": "1h",
           "audience": {"field": "attributes.loyalty_tier", "op": "eq", "value": "Gold"},
           "dont_send_if": [], "channels": ["email"], "steps": [{"name": "vip"}]}  # fmt: skip
    both = [["c1", "u1@example.com"], ["c2", "u2@example.com"]]
    s = Scenario(
        [campaign(capped), campaign(vip)],
        events=[
            ["2026-01-05T10:00:00Z", "u1", "add_to_cart", {"product_id": "P1", "cuid": "c1"}],
            ["2026-01-05T14:00:00Z", "u1", "add_to_cart", {"product_id": "P2"}],
            ["2026-01-05T10:00:00Z", "u2", "custom", {"event_name": "vip", "cuid": "c2"}],
            ["2026-01-05T18:00:00Z", "tick", "page_view", {}],
        ],
        product_feed=[
            {
                "sync_time": "2026-01-05T00:00:00Z",
                "rows": [{"product_id": "P1", "price": 20.0}, {"product_id": "P2", "price": 5.0}],
            }
        ],
        user_feed=[
            {"sync_time": "2026-01-05T00:00:00Z", "rows": [{"cuid": "c2", "loyalty_tier": "Gold"}]},
            {
                "sync_time": "2026-01-05T10:30:00Z",
                "rows": [{"cuid": "c2", "loyalty_tier": "Silver"}],
            },
        ],
        subscribers={"email": both, "sms": [["c1", "+4915112345678"]]},
    )
    run_scenario(spark, lake, s)
    got = sent_messages(spark, lake)
    outcome = sorted((m["campaign_id"], str(m["due_at"]), m["state"], m["reason"], m["channel"])
                     for m in got)  # fmt: skip
    assert outcome == [
        ("cart", "2026-01-05 13:00:00", "SENT", None, "email"),
        # R-CAP-2 + R-CHAN-1: the campaign's e-mail cap (1 per 24 h) is used, SMS takes it
        ("cart", "2026-01-05 17:00:00", "SENT", None, "sms"),
        # R-TRIG-5 at send time: Gold at the trigger, Silver by the due time
        ("vip", "2026-01-05 11:00:00", "SUPPRESSED", "AUDIENCE_EXIT", None),
    ]
    deliveries = spark.read.format("delta").load(GOLD_DELIVERIES.location(lake))
    assert deliveries.where("status = 'DELIVERED'").count() == 2

    # R-EXIT-3: a purchase at 16:59 reaches us after the watermark passed 17:00 (and the send).
    s.write_events(
        Path(lake.paths.landing),
        [{"event_id": "late1", "event_time": "2026-01-05T16:59:00Z", "user_id": "u1",
          "event_type": "purchase", "order_id": "o1",
          "items": [{"product_id": "P2", "quantity": 1}]}],
        "late.jsonl",
    )  # fmt: skip
    run_pipeline(spark, lake, s.campaigns)
    assert spark.read.format("delta").load(SILVER_LATE_EVENTS.location(lake)).count() == 1
    late = [r.asDict() for r in spark.read.format("delta").load(
        GOLD_LATE_CANCELS.location(lake)).collect()]  # fmt: skip
    assert [(r["event_id"], str(r["due_at"])) for r in late] == [("late1", "2026-01-05 17:00:00")]

    # R-SEND-1: the re-run decided nothing new and delivered nothing twice.
    assert sent_messages(spark, lake) == got
    assert deliveries.count() == 2
    assert len(_outbox_lines(lake)) == 2

    # The run's summary (what `reconnect send` prints), read back as one query.
    summary = summarize(spark, lake)
    progress = spark.read.format("delta").load(SILVER_SEND_PROGRESS.location(lake))
    assert summary.batches == progress.count() >= 2
    assert summary.horizon == progress.agg({"horizon": "max"}).first()[0]
    assert summary.sends_by_channel == {"email": 1, "sms": 1}
    assert summary.by_state_reason == {("SENT", ""): 2, ("SUPPRESSED", "AUDIENCE_EXIT"): 1}
    assert summary.deliveries_by_status == {"DELIVERED": 2}
    assert summary.late_cancels == 1
