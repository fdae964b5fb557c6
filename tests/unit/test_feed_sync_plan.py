"""Which syncs a ``reconnect feeds`` run diffs (docs/feeds.md: new, late and replaced syncs).

Sync times are plain integers here (epoch microseconds in the product).
"""

from __future__ import annotations

from reconnect.feeds.syncs import SyncPlan, plan
from reconnect.lake.delta_log import merge_ranges


def test_first_run_diffs_every_sync_against_its_previous_one():
    assert plan(3, {}, {10, 20, 30}, None) == SyncPlan(
        3, {10: None, 20: 10, 30: 20}, frozenset(), frozenset()
    )


def test_a_new_sync_is_diffed_against_the_last_diffed_one():
    done = {10: 1, 20: 2}
    assert plan(3, done, {30}, [(30, 30)]).previous == {30: 20}


def test_a_late_older_sync_is_slotted_in_and_the_sync_after_it_rediffed():
    done = {10: 1, 30: 2}
    assert plan(3, done, {20}, [(20, 20)]).previous == {20: 10, 30: 20}


def test_a_sync_gone_from_bronze_is_deleted_and_the_sync_after_it_rediffed():
    done = {10: 1, 20: 2, 30: 3}
    got = plan(4, done, set(), [(20, 20)])
    assert (got.previous, got.deleted) == ({30: 10}, frozenset({20}))


def test_unknown_written_ranges_count_every_sync_as_written():
    done = {10: 1, 20: 2}
    got = plan(3, done, {10}, None)
    assert (got.previous, got.deleted, got.recorded) == ({10: None}, {20}, {10, 20})


def test_written_ranges_are_merged_where_they_overlap():
    assert merge_ranges([(5, 9), (1, 3), (2, 4), (9, 12)]) == [(1, 4), (5, 12)]
