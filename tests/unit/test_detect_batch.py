"""A detection micro-batch's plain steps (reconnect.detect.batch): watermark, syncs, slots."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from reconnect.campaigns import parse_campaign
from reconnect.detect.batch import (
    RERUN,
    SyncsToApply,
    next_watermark,
    schedule_slots,
    syncs_to_apply,
)
from reconnect.detect.context import DetectContext
from reconnect.lake.feed_state import Feeds
from reconnect.settings import load_settings

LATENESS = timedelta(minutes=10)


def test_r_exit_2_the_watermark_is_the_latest_event_minus_the_allowed_lateness():
    assert next_watermark(None, datetime(2026, 1, 5, 12), LATENESS) == datetime(2026, 1, 5, 11, 50)


def test_r_exit_2_the_watermark_never_moves_back():
    w_prev = datetime(2026, 1, 5, 12)
    assert next_watermark(w_prev, datetime(2026, 1, 5, 11), LATENESS) == w_prev


def test_no_event_yet_no_watermark():
    assert next_watermark(None, None, LATENESS) is None


def test_syncs_to_apply_splits_the_feeds_marks_late_ones_and_a_rerun():
    p1, u1, p2 = datetime(2026, 1, 5), datetime(2026, 1, 6), datetime(2026, 1, 7)
    rows = [
        {"feed": "product_feed", "sync_time": p1},
        {"feed": "user_feed", "sync_time": u1},
        {"feed": "product_feed", "sync_time": p2},
        {"feed": RERUN, "sync_time": u1},  # an earlier attempt of this batch id recorded u1
    ]
    assert syncs_to_apply(rows, w_prev=datetime(2026, 1, 6, 12)) == SyncsToApply(
        product=[p1, p2], user=[u1], late=[p1, u1], rerun=True
    )
    assert syncs_to_apply(rows[:1], w_prev=None) == SyncsToApply([p1], [], [], False)


def context(campaigns: list[dict], tmp_path: Path) -> DetectContext:
    settings = load_settings(env="local", base=tmp_path)
    return DetectContext.of(settings, [parse_campaign(c) for c in campaigns])


def feeds(user_syncs: tuple[datetime, ...]) -> Feeds:
    return Feeds(products=None, users=None, product_syncs=(), user_syncs=user_syncs)  # type: ignore[arg-type]


def test_r_trig_3_schedule_slots_behind_the_watermark_start_at_the_first_user_sync(tmp_path):
    weekly = {"id": "weekly", "name": "weekly", "type": "scheduled", "channels": ["email"],
              "steps": [{"name": "only"}], "timezone": "Europe/Berlin",
              "trigger": {"every": {"days": ["monday"], "hour": 9}}}  # fmt: skip
    ctx = context([weekly], tmp_path)
    first_sync = datetime(2026, 1, 4)  # a Sunday
    # Mondays 09:00 Berlin (08:00 UTC) in [first sync, 2026-01-19 08:00): the 19th is not behind.
    assert schedule_slots(ctx, feeds((first_sync,)), None, datetime(2026, 1, 19, 8)) == [
        (0, "weekly", datetime(2026, 1, 5, 8)),
        (0, "weekly", datetime(2026, 1, 12, 8)),
    ]
    assert schedule_slots(ctx, feeds(()), None, datetime(2026, 1, 19, 8)) == []  # no user sync


def test_r_trig_3_a_one_off_slot_without_offset_is_in_the_campaigns_time_zone(tmp_path):
    once = {"id": "once", "name": "once", "type": "scheduled", "channels": ["email"],
            "steps": [{"name": "only"}], "timezone": "Europe/Berlin",
            "trigger": {"at": "2026-01-10T09:00:00"}}  # fmt: skip
    ctx = context([once], tmp_path)
    syncs = feeds((datetime(2026, 1, 4),))
    w_prev = datetime(2026, 1, 9)
    assert schedule_slots(ctx, syncs, w_prev, datetime(2026, 1, 10, 8)) == []  # not behind yet
    assert schedule_slots(ctx, syncs, w_prev, datetime(2026, 1, 10, 8, 0, 1)) == [
        (0, "once", datetime(2026, 1, 10, 8))
    ]
