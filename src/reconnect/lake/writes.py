"""Shared Delta writes: idempotent MERGEs, sync-replacing overwrites, appends, concurrent writes.

No stage logic: each stage's ``sinks.py`` decides what to write and calls these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.lake.landing import format_ts
from reconnect.lake.tables import TableSpec
from reconnect.settings import Settings

log = logging.getLogger(__name__)


def append(settings: Settings, table: TableSpec, rows: DataFrame) -> None:
    """Append ``rows`` to ``table`` (callers know the keys are new)."""
    rows.write.format("delta").mode("append").save(table.location(settings))


def overwrite(settings: Settings, table: TableSpec, rows: DataFrame) -> None:
    """Replace the whole content of ``table`` with ``rows``."""
    rows.write.format("delta").mode("overwrite").save(table.location(settings))


def write_concurrently(label: str, writes: Sequence[tuple[str, Callable[[], None]]]) -> None:
    """Run independent writes (each to its own table) at once; return when every one has ended.

    Spark runs jobs from several threads side by side, so one write's driver work (planning, the
    Delta commit) and its stages of few tasks overlap another's tasks. Every write is waited for
    before the first error, if any, is raised: a failed micro-batch leaves no write still running
    when it is retried. Each write's time is logged as ``label:   name``.
    """
    if len(writes) <= 1:
        for name, write in writes:
            _timed(label, name, write)
        return
    with ThreadPoolExecutor(max_workers=len(writes), thread_name_prefix=label) as pool:
        futures = [pool.submit(_timed, label, name, write) for name, write in writes]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


def _timed(label: str, name: str, write: Callable[[], None]) -> None:
    started = time.monotonic()
    write()
    log.info("%s:   %s %.1fs", label, name, time.monotonic() - started)


def _merge_condition(keys: Sequence[str]) -> str:
    return " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)


def merge_by_key(
    spark: SparkSession,
    table: TableSpec,
    settings: Settings,
    rows: DataFrame,
    keys: Sequence[str],
    update_matched: bool,
) -> None:
    """MERGE ``rows`` on ``keys``: new keys are inserted, matched rows replaced or kept.

    ``update_matched=False`` is an insert-only MERGE: a replayed batch adds nothing.
    """
    merge = (
        DeltaTable.forPath(spark, table.location(settings))
        .alias("t")
        .merge(rows.dropDuplicates(list(keys)).alias("s"), _merge_condition(keys))
    )
    if update_matched:
        merge = merge.whenMatchedUpdateAll()
    merge.whenNotMatchedInsertAll().execute()


def replace_syncs(
    table: TableSpec, settings: Settings, rows: DataFrame, syncs: list[tuple[datetime, str | None]]
) -> None:
    """Overwrite exactly the given syncs (and channels) with ``rows``: idempotent by sync time."""
    (
        rows.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", syncs_predicate(syncs))
        .save(table.location(settings))
    )


def syncs_predicate(syncs: list[tuple[datetime, str | None]]) -> str:
    """``syncs`` as a SQL predicate: one ``sync_time IN (...)`` list per channel.

    Not one ``sync_time = ... AND channel = ...`` term per sync: Delta turns each term into
    file-statistics checks, and a backfill of a few dozen syncs made a filter whose generated
    code passed the JVM's 64 KB method limit (an ERROR with a long stack trace, then the slower
    interpreted path).
    """
    by_channel: dict[str | None, list[str]] = {}
    for ts, channel in syncs:
        by_channel.setdefault(channel, []).append(f"timestamp'{format_ts(ts)}'")
    parts = []
    for channel, times in sorted(by_channel.items(), key=lambda kv: kv[0] or ""):
        cond = f"sync_time IN ({', '.join(times)})"
        if channel is not None:
            cond = f"channel = '{channel}' AND {cond}"
        parts.append(f"({cond})")
    return " OR ".join(parts)


def replace_groups(
    spark: SparkSession,
    table: TableSpec,
    settings: Settings,
    rows: DataFrame,
    groups: DataFrame,
    group_keys: Sequence[str],
    row_keys: Sequence[str],
) -> None:
    """Make the table's rows of each group in ``groups`` exactly ``rows``, in one commit.

    ``rows`` hold the new rows of those groups (a group may have none); a stored row of such a
    group whose ``row_keys`` are not in ``rows`` is deleted, one that is is replaced, and the
    others are inserted. Rows of other groups are untouched. Idempotent: the same ``rows`` and
    ``groups`` leave the same table.
    """
    target = DeltaTable.forPath(spark, table.location(settings))
    stored = target.toDF().join(groups.select(*group_keys).distinct(), list(group_keys), "semi")
    gone = stored.join(rows.select(*row_keys), list(row_keys), "anti")
    source = rows.withColumn("_delete", F.lit(False)).unionByName(
        gone.select(*rows.columns).withColumn("_delete", F.lit(True))
    )
    columns: dict[str, str | Column] = {c: f"s.`{c}`" for c in rows.columns}
    (
        target.alias("t")
        .merge(source.alias("s"), _merge_condition(row_keys))
        .whenMatchedDelete("s._delete")
        .whenMatchedUpdate(set=columns)
        .whenNotMatchedInsert(condition="NOT s._delete", values=columns)
        .execute()
    )
