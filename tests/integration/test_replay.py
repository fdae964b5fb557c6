"""Replay (issue 3): the same events and syncs as one micro-batch and as many, in order and shuffled
within the allowed lateness, give identical journeys and step-eligibility tables.

The shop is the generator's (all seven demo campaigns active, feeds with price drops, stock
changes and tier changes, duplicates and malformed lines included).
"""

from __future__ import annotations

import json
import os
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from helpers.lake import separate_lake
from reconnect.campaigns.loader import load_campaigns
from reconnect.detect.job import run_detect
from reconnect.feeds.jobs import run_feed_changes
from reconnect.generate import GeneratorConfig, generate_shop
from reconnect.ingest.streams import run_ingest
from reconnect.settings import PROJECT_ROOT
from reconnect.tables import GOLD_STEP_ELIGIBILITY, SILVER_DETECT_PROGRESS, SILVER_JOURNEYS

pytestmark = pytest.mark.spark

LATENESS = timedelta(minutes=10)


def _table(spark, settings, spec):
    df = spark.read.format("delta").load(spec.location(settings))
    return sorted(tuple(r) for r in df.collect())


def _run(spark, settings, event_files: list[list[str]]) -> None:
    folder = Path(settings.paths.landing) / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for i, lines in enumerate(event_files):
        path = folder / f"part-{i:05d}.jsonl"
        path.write_text("".join(lines))
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # arrival order = file order
    run_ingest(spark, settings)
    run_feed_changes(spark, settings)
    run_detect(spark, settings, load_campaigns(PROJECT_ROOT / "conf" / "campaigns"))


def _event_time(line: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(json.loads(line)["event_time"].replace("Z", "+00:00"))
        return at if at.tzinfo is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a malformed line: it is quarantined whatever file it is in


def test_one_batch_and_many_shuffled_batches_give_identical_tables(spark, lake, tmp_path):
    shop = tmp_path / "shop"
    generate_shop(GeneratorConfig(events=4_000, days=4, start=date(2026, 3, 26)), shop)
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
                if path.is_file():
                    dest = Path(s.paths.landing) / feed / path.relative_to(src)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(path.read_bytes())

    _run(spark, one, [lines])

    # Arrival order: event time plus a random delay below the allowed lateness, cut into 12
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
    size = len(arrived) // 6 + 1
    chunks = [arrived[i : i + size] for i in range(0, len(arrived), size)]
    streaming = many.streaming.model_copy(update={"max_files_per_trigger": 1})
    _run(spark, many.model_copy(update={"streaming": streaming}), chunks)

    batches = spark.read.format("delta").load(SILVER_DETECT_PROGRESS.location(many)).count()
    assert batches >= 6
    late = spark.read.format("delta").load(SILVER_DETECT_PROGRESS.location(many))
    assert late.agg({"late_events": "sum"}).first()[0] == 0

    journeys = _table(spark, one, SILVER_JOURNEYS)
    assert len(journeys) > 100
    assert {r[2] for r in journeys} >= {"cart_abandonment", "product_view", "custom"}
    assert journeys == _table(spark, many, SILVER_JOURNEYS)
    assert _table(spark, one, GOLD_STEP_ELIGIBILITY) == _table(spark, many, GOLD_STEP_ELIGIBILITY)
