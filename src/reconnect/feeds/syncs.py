"""Which feed syncs a run diffs, and the sync filters it reads them with (pure).

Sync times are UTC epoch microseconds. A sync written since the last run (new, late, or replaced
by a late file of the same sync) is diffed again, and so is the sync after it, whose previous
sync it now is (a late sync slots in between two diffed syncs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reconnect.feeds import changes
from reconnect.lake.tables import (
    BRONZE_PRODUCT_SNAPSHOTS,
    BRONZE_USER_SNAPSHOTS,
    SILVER_PRODUCT_CHANGES,
    SILVER_USER_ATTRIBUTE_CHANGES,
    TableSpec,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Diff = Callable[[DataFrame, DataFrame], DataFrame]


@dataclass(frozen=True)
class Feed:
    """One feed: its bronze snapshots, its silver changes and the diff between two syncs."""

    name: str
    bronze: TableSpec
    silver: TableSpec
    diff: Diff


PRODUCT_FEED = Feed(
    "product_feed", BRONZE_PRODUCT_SNAPSHOTS, SILVER_PRODUCT_CHANGES, changes.product_changes
)
USER_FEED = Feed(
    "user_feed",
    BRONZE_USER_SNAPSHOTS,
    SILVER_USER_ATTRIBUTE_CHANGES,
    changes.user_attribute_changes,
)
FEEDS = (PRODUCT_FEED, USER_FEED)


@dataclass(frozen=True)
class SyncPlan:
    """What one run recomputes for a feed."""

    bronze_version: int
    previous: dict[int, int | None]
    """Each sync to (re)diff -> the feed's previous sync in bronze (None: the first sync)."""
    deleted: frozenset[int]
    """Diffed syncs that are no longer in bronze: their changes are removed."""
    recorded: frozenset[int]
    """Syncs of the feed already in silver.feed_sync_progress when the plan was made."""


def plan(
    bronze_version: int,
    done: dict[int, int],
    present: set[int],
    written: list[tuple[int, int]] | None,
) -> SyncPlan:
    """The plan from what bronze holds and what its commits since the last run wrote.

    ``done``: each diffed sync -> the bronze version it was diffed at. ``present``: the syncs
    bronze holds within ``written`` (all its syncs when ``written`` is None, meaning every sync
    counts as written). ``written``: the sync ranges the commits since the last run wrote.
    """

    def was_written(s: int) -> bool:
        return written is None or any(lo <= s <= hi for lo, hi in written)

    known = sorted({s for s in done if not was_written(s)} | present)
    deleted = frozenset(s for s in done if was_written(s) and s not in present)
    todo = set(present)
    for s in present | deleted:
        after = next((k for k in known if k > s), None)
        if after is not None:
            todo.add(after)
    previous = {s: max((k for k in known if k < s), default=None) for s in todo}
    return SyncPlan(bronze_version, previous, deleted, frozenset(done))


def within(ranges: list[tuple[int, int]]) -> Column:
    """True for rows whose ``sync_time`` falls in one of ``ranges``."""
    if not ranges:
        return F.lit(False)
    return reduce(
        Column.__or__, [F.col("sync_time").between(_ts(lo), _ts(hi)) for lo, hi in ranges]
    )


def only_syncs(frame: DataFrame, syncs: list[int]) -> DataFrame:
    """The rows of ``frame`` of the given syncs."""
    if not syncs:
        return frame.where(F.lit(False))
    return frame.where(F.expr(in_syncs(syncs)))


def in_syncs(syncs: Iterable[int]) -> str:
    """A SQL predicate on ``sync_time`` listing literal timestamps (Delta skips files by it)."""
    return "sync_time IN (" + ", ".join(f"TIMESTAMP'{_iso(s)}'" for s in syncs) + ")"


def _iso(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def _ts(micros: int) -> Column:
    # A literal (not a function of a column), so Delta can skip files by their statistics.
    return F.expr(f"TIMESTAMP'{_iso(micros)}'")
