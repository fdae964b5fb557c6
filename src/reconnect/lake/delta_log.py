"""What a Delta table's commits wrote, read from its transaction log (no stage logic).

Used to process only what changed since a recorded table version: the latest commit, and the
ranges of a column's values that the data files added or removed by later commits held.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import unquote

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

log = logging.getLogger(__name__)

# Delta keeps timestamp statistics at millisecond precision (truncated): each file's [min, max]
# is widened by 1 ms so a value with microseconds is never missed.
_STATS_SLACK_MICROS = 1_000
_COMMIT = T.StructType(
    [
        T.StructField(
            action,
            T.StructType(
                [
                    T.StructField("path", T.StringType()),
                    T.StructField("dataChange", T.BooleanType()),
                    T.StructField("stats", T.StringType()),
                ]
            ),
        )
        for action in ("add", "remove")
    ]
)


def latest_commit(spark: SparkSession, location: str) -> tuple[int, str]:
    """The table's latest version and the operation that wrote it."""
    latest = DeltaTable.forPath(spark, location).history(1).select("version", "operation").first()
    assert latest is not None
    return int(latest["version"]), str(latest["operation"])


def written_ranges(
    spark: SparkSession, location: str, after: int, upto: int, column: str
) -> list[tuple[int, int]] | None:
    """Ranges of the timestamp ``column`` written by commits ``after+1..upto``, epoch micros.

    Added files give their ``[min, max]`` statistics; removed files (replaced or deleted data)
    the values they held. None when a commit or removed file is gone (log clean-up or VACUUM
    after a long pause): the caller then treats everything as written, which is correct, only
    slower.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    files = [f"{location.rstrip('/')}/_delta_log/{v:020d}.json" for v in range(after + 1, upto + 1)]
    for f in files:
        hpath = jvm.org.apache.hadoop.fs.Path(f)
        if not hpath.getFileSystem(conf).exists(hpath):
            log.warning("%s is gone; treating every value of %s as written", f, location)
            return None
    commits = spark.read.schema(_COMMIT).json(files)  # the commit files are small: one query
    stats = F.from_json(
        "add.stats",
        f"struct<minValues: struct<{column}: timestamp>, maxValues: struct<{column}: timestamp>>",
    )
    actions = (
        commits.where(
            (F.col("add").isNotNull() & F.col("add.dataChange"))
            | (F.col("remove").isNotNull() & F.col("remove.dataChange"))
        )
        .select(
            F.col("add").isNotNull().alias("added"),
            F.unix_micros(stats["minValues"][column]).alias("lo"),
            F.unix_micros(stats["maxValues"][column]).alias("hi"),
            F.col("remove.path").alias("removed"),
        )
        .collect()
    )
    added = [(r.lo, r.hi) for r in actions if r.added]
    if any(lo is None or hi is None for lo, hi in added):
        # A file without statistics could hold any value (Delta writes statistics for the
        # first 32 columns).
        return None
    ranges = [(lo, hi + _STATS_SLACK_MICROS) for lo, hi in added]
    removed = [r.removed for r in actions if not r.added]
    if removed:
        # Remove actions carry no statistics: read the column of the removed files themselves
        # (still on disk until VACUUM; they hold only replaced or deleted data).
        try:
            gone = (
                spark.read.parquet(*[_data_file(location, p) for p in removed])
                .select(F.unix_micros(column).alias("s"))
                .distinct()
                .collect()
            )
        except Exception:  # a vacuumed file: everything counts as written
            log.warning("removed files of %s are gone; treating every value as written", location)
            return None
        ranges += [(r.s, r.s) for r in gone]
    return merge_ranges(ranges)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping ``(lo, hi)`` ranges joined, sorted."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _data_file(location: str, path: str) -> str:
    # Log paths are relative to the table and URL-encoded, or absolute URIs.
    return (
        path if "://" in path or path.startswith("/") else f"{location.rstrip('/')}/{unquote(path)}"
    )
