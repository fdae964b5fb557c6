"""Replay and invariants over a generated month (issues 3 and 4).

The same events and syncs, the events as one micro-batch and as many (shuffled within the allowed
lateness; ingest, detection and sending each run several micro-batches), give identical
journeys, step eligibility and messages (R-CAP-4: the result does not depend on how messages
fall into micro-batches). Over the month's messages, checked independently of the
sender's code: no person ever exceeds a cap in any rolling window (R-CAP-1, R-CAP-2), no send
goes to a user opted out at that time (R-OPT-1), and every settled message is in exactly one
terminal state with a reason from the closed list (R-SEND-2).

The shop is the generator's (all seven demo campaigns active, feeds with price drops, stock
changes and tier changes, consent events and subscriber lists, duplicates and malformed lines).
"""

from __future__ import annotations

import json
import os
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from helpers.lake import separate_lake
from reconnect.campaigns import load_campaigns
from reconnect.detect.pipeline import run_detect
from reconnect.feeds.pipeline import run_feed_changes
from reconnect.generate import GeneratorConfig, generate_shop
from reconnect.ingest.pipeline import run_ingest
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    BRONZE_SUBSCRIPTIONS,
    GOLD_MESSAGES,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_PROGRESS,
    SILVER_JOURNEYS,
    SILVER_SEND_PROGRESS,
)
from reconnect.send.pipeline import run_send
from reconnect.settings import DEFAULT_CONF_DIR
from reconnect.vocabulary import REASONS, TERMINAL_STATES

pytestmark = pytest.mark.spark

LATENESS = timedelta(minutes=10)
START = date(2026, 3, 10)


def _table(spark, settings, spec):
    df = spark.read.format("delta").load(spec.location(settings))
    return sorted(tuple(r) for r in df.collect())


def _run(
    spark, settings, event_files: list[list[str]], files_per_trigger: int | None = None
) -> None:
    """The pipeline over the landed feeds and ``event_files``; with ``files_per_trigger``, the
    events' ingest, detection and sending take that many event files per micro-batch.

    The feed syncs are ingested the same way in both runs (all at once): detection reads their
    changes only after the ingest, so cutting them into micro-batches would change nothing here
    but add ~20 ingest batches (~90 s). Feed ingest in many batches is replayed in test_ingest,
    feed changes run by run in test_feed_changes.
    """
    folder = Path(settings.paths.landing) / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for i, lines in enumerate(event_files):
        path = folder / f"part-{i:05d}.jsonl"
        path.write_text("".join(lines))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # arrival order = file order
    run_ingest(spark, settings, ("product_feed", "user_feed", "subscribers"))
    if files_per_trigger is not None:
        streaming = settings.streaming.model_copy(
            update={"max_files_per_trigger": files_per_trigger}
        )
        settings = settings.model_copy(update={"streaming": streaming})
    run_ingest(spark, settings, ("events",))
    run_feed_changes(spark, settings)
    campaigns = load_campaigns(DEFAULT_CONF_DIR / "campaigns")
    run_detect(spark, settings, campaigns)
    run_send(spark, settings, campaigns)


def _weekly(path: Path) -> bool:
    """Keep one feed / list sync a week of the generator's daily ones (each is a full snapshot,
    so weekly feeds are a valid shop too; a month of daily syncs would triple the test's time)."""
    part = next(p for p in path.parts if p.startswith("sync_time="))
    day = datetime.fromisoformat(part.removeprefix("sync_time=").replace("Z", "+00:00")).date()
    return (day - START).days % 7 == 0


def _event_time(line: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(json.loads(line)["event_time"].replace("Z", "+00:00"))
        return at if at.tzinfo is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a malformed line: it is quarantined whatever file it is in


def test_one_batch_and_many_shuffled_batches_give_identical_tables(spark, lake, tmp_path):
    shop = tmp_path / "shop"
    generate_shop(GeneratorConfig(events=3_000, days=30, start=START), shop)
    lines = [
        line
        for f in sorted((shop / "events").glob("*.jsonl"))
        for line in f.read_text().splitlines(keepends=True)
    ]
    one = lake
    many = separate_lake(lake, "_many")
    many = many.model_copy(
        update={"paths": many.paths.model_copy(update={"landing": str(tmp_path / "landing_many")})}
    )
    for s in (one, many):
        for feed in ("product_feed", "user_feed", "subscribers"):
            src = shop / feed
            for path in src.rglob("*"):
                if path.is_file() and _weekly(path):
                    dest = Path(s.paths.landing) / feed / path.relative_to(src)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(path.read_bytes())

    _run(spark, one, [lines])

    # Arrival order: event time plus a random delay below the allowed lateness, cut into 4
    # files, each its own ingest commit and detection micro-batch.
    rng = random.Random(7)
    at = _event_time(lines[0])
    assert at is not None
    keyed = []
    for line in lines:
        at = _event_time(line) or at  # a malformed line travels with its neighbour
        keyed.append((at + timedelta(seconds=rng.uniform(0, LATENESS.total_seconds() - 61)), line))
    keyed.sort(key=lambda x: x[0])
    arrived = [line for _, line in keyed]
    assert arrived != lines, "the arrival order really differs from event-time order"
    size = len(arrived) // 4 + 1
    chunks = [arrived[i : i + size] for i in range(0, len(arrived), size)]
    _run(spark, many, chunks, files_per_trigger=1)

    batches = spark.read.format("delta").load(SILVER_DETECT_PROGRESS.location(many)).count()
    assert batches >= 4
    late = spark.read.format("delta").load(SILVER_DETECT_PROGRESS.location(many))
    assert late.agg({"late_events": "sum"}).first()[0] == 0

    journeys = _table(spark, one, SILVER_JOURNEYS)
    assert len(journeys) > 100
    assert {r[2] for r in journeys} >= {"cart_abandonment", "product_view", "custom"}
    assert journeys == _table(spark, many, SILVER_JOURNEYS)
    assert _table(spark, one, GOLD_STEP_ELIGIBILITY) == _table(spark, many, GOLD_STEP_ELIGIBILITY)

    assert spark.read.format("delta").load(SILVER_SEND_PROGRESS.location(many)).count() >= 4
    messages = _table(spark, one, GOLD_MESSAGES)
    assert messages == _table(spark, many, GOLD_MESSAGES)
    _check_invariants(spark, one)


def _rows(spark, settings, spec):
    return [r.asDict() for r in spark.read.format("delta").load(spec.location(settings)).collect()]


def _check_invariants(spark, settings) -> None:
    messages = _rows(spark, settings, GOLD_MESSAGES)
    eligible = _rows(spark, settings, GOLD_STEP_ELIGIBILITY)
    watermark = max(r["watermark"] for r in _rows(spark, settings, SILVER_DETECT_PROGRESS))

    # R-SEND-2: every settled message exactly once, in one terminal state, one listed reason.
    ids = [m["message_id"] for m in messages]
    assert len(ids) == len(set(ids))
    settled = {e["message_id"] for e in eligible if e["due_at"] < watermark}
    assert set(ids) == settled
    for m in messages:
        assert m["state"] in TERMINAL_STATES, m
        assert (m["reason"] is None) == (m["state"] == "SENT"), m
        assert m["reason"] is None or m["reason"] in REASONS, m
    sent = [m for m in messages if m["state"] == "SENT"]
    states = {m["state"] for m in messages}
    assert len(sent) > 20 and "SUPPRESSED" in states and "CANCELLED" in states

    # R-CAP-1: at most 5 sends per person and channel in any rolling 24 h, all campaigns together.
    # (The only campaign cap of the demo campaigns, cart-reminder's, is checked the same way.)
    by_person: dict[tuple[str, str], list[datetime]] = {}
    for m in sent:
        by_person.setdefault((m["person_key"], m["channel"]), []).append(m["send_at"])
    for times in by_person.values():
        times.sort()
        for t in times:
            assert sum(1 for u in times if t - timedelta(hours=24) < u <= t) <= 5

    # R-OPT-1: recomputed here from the subscriber lists and opt events, latest wins.
    _check_consent(spark, settings, sent)


def _check_consent(spark, settings, sent) -> None:
    subs = _rows(spark, settings, BRONZE_SUBSCRIPTIONS)
    syncs: dict[str, list[datetime]] = {}
    members: dict[tuple[str, datetime], set[str]] = {}
    for s in subs:
        syncs.setdefault(s["channel"], []).append(s["sync_time"])
        members.setdefault((s["channel"], s["sync_time"]), set()).add(s["cuid"])
    events = spark.read.format("delta").load(BRONZE_EVENTS.location(settings))
    opts = [
        r.asDict()
        for r in events.where("event_type in ('opt_in', 'opt_out')").orderBy("event_time").collect()
    ]
    links = sorted(
        (r["event_time"], r["user_id"], r["cuid"])
        for r in events.where("cuid is not null").select("event_time", "user_id", "cuid").collect()
    )

    def linked(user_id, at):
        found = None
        for t, u, c in links:
            if t > at:
                break
            if u == user_id:
                found = c
        return found

    for m in sent:
        channel, at = m["channel"], m["send_at"]
        status, status_at = False, None
        if channel in ("email", "sms"):
            past = sorted(t for t in set(syncs.get(channel, [])) if t <= at)
            if past:
                status, status_at = m["cuid"] in members[(channel, past[-1])], past[-1]
        for o in opts:
            if o["event_time"] > at or o["channel"] != channel:
                continue
            if channel in ("email", "sms"):
                who = o["cuid"] or linked(o["user_id"], o["event_time"])
                if who != m["cuid"]:
                    continue
            elif o["user_id"] != m["user_id"]:
                continue
            if status_at is None or o["event_time"] >= status_at:
                status, status_at = o["event_type"] == "opt_in", o["event_time"]
        assert status, f"sent to a user not opted in at the time: {m['message_id']}"
