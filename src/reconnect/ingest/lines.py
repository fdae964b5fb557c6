"""Split landed files into numbered lines, so every rejection can name its file and line."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F


def split_lines(files: DataFrame) -> DataFrame:
    r"""One row per non-blank line of each file: ``source_file, source_line (1-based), raw``.

    ``files`` has Spark's binaryFile columns ``path`` and ``content``. Lines end at ``\n``; a
    trailing ``\r`` is dropped (CRLF files); bytes that are not UTF-8 become U+FFFD. Blank
    lines carry no record and are skipped (they are not counted as input lines), as JSON Lines
    readers commonly do.
    """
    # Invalid UTF-8 becomes U+FFFD rather than failing the batch: such a line then fails its
    # parse and lands in quarantine with the rest of its text.
    text = F.make_valid_utf8(F.col("content").cast("string"))
    exploded = files.select(
        F.col("path").alias("source_file"),
        F.posexplode(F.split(text, "\n")).alias("pos", "raw"),
    )
    return exploded.select(
        "source_file",
        (F.col("pos") + 1).cast("long").alias("source_line"),
        F.rtrim("raw", F.lit("\r")).alias("raw"),
    ).where(F.trim(F.col("raw")) != "")


def positioned_lines(text: DataFrame) -> DataFrame:
    """Lines of Spark's text source with where they sit: ``source_file, block_start, pos, raw``.

    ``text`` has ``value``, ``source_file`` and ``block_start`` (``_metadata.file_path`` and
    ``_metadata.file_block_start``). The text source reads a file in blocks, each block whole
    inside one partition and in file order, so the row's position within its partition
    (``monotonically_increasing_id``) and the block's start give the exact line number once the
    blocks' line counts are known (:func:`number_lines`). Blank lines are kept (they count for
    the numbering) and flagged.
    """
    return text.select(
        "source_file",
        "block_start",
        F.monotonically_increasing_id().alias("pos"),
        (F.trim(F.col("value")) == "").alias("blank"),
        F.col("value").alias("raw"),
    )


def block_summaries(positioned: DataFrame, *measures: Column) -> list[Row]:
    """Per file block: ``source_file, block_start, first_pos, all_lines`` plus ``measures``.

    One pass over the lines gives both the numbering (:func:`block_offsets`) and whatever
    per-block counts the caller adds (aggregate expressions with aliases).
    """
    return (
        positioned.groupBy("source_file", "block_start")
        .agg(
            F.min("pos").alias("first_pos"),
            F.count(F.lit(1)).alias("all_lines"),
            *measures,
        )
        .collect()
    )


def block_offsets(spark: SparkSession, blocks: list[Row]) -> DataFrame:
    """Per file block: the first row id and how many lines precede the block in its file."""
    rows = []
    seen: dict[str, int] = {}
    for b in sorted(blocks, key=lambda r: (r.source_file, r.block_start)):
        before = seen.get(b.source_file, 0)
        rows.append((b.source_file, b.block_start, b.first_pos, before))
        seen[b.source_file] = before + b.all_lines
    return spark.createDataFrame(
        rows, "source_file string, block_start long, first_pos long, lines_before long"
    )


def number_lines(positioned: DataFrame, offsets: DataFrame) -> DataFrame:
    """``positioned`` rows with their 1-based ``source_line``, blank lines dropped."""
    numbered = positioned.join(F.broadcast(offsets), ["source_file", "block_start"])
    line = F.col("lines_before") + F.col("pos") - F.col("first_pos") + 1
    return (
        numbered.where(~F.col("blank"))
        .withColumn("source_line", line)
        .drop("block_start", "pos", "blank", "first_pos", "lines_before")
    )


def first_failure(*checks: Column) -> Column:
    """The first non-null check result (checks are ``when(bad, struct(reason, field, detail))``)."""
    return F.coalesce(*checks)


def failure(bad: Column, reason: str, field: str | None, detail: Column | str) -> Column:
    """A check: when ``bad`` holds, a struct naming the reason, the field and what was expected."""
    detail_col = F.lit(detail) if isinstance(detail, str) else detail
    return F.when(
        bad,
        F.struct(
            F.lit(reason).alias("reason"),
            F.lit(field).cast("string").alias("field"),
            detail_col.alias("detail"),
        ),
    )


def shown(value: Column, width: int = 80) -> Column:
    """A value quoted for an error message, cut to ``width`` characters."""
    return F.concat(F.lit("'"), F.substring(F.coalesce(value, F.lit("null")), 1, width), F.lit("'"))


def sum_blocks_per_file(blocks: list[Row]) -> list[Row]:
    """Block summaries (:func:`block_summaries`) added up per file, sorted by file."""
    by_file: dict[str, list[Row]] = defaultdict(list)
    for b in blocks:
        by_file[b.source_file].append(b)
    return [
        Row(
            source_file=f,
            lines=sum(b.lines for b in bs),
            quarantined=sum(b.quarantined for b in bs),
            lo=min((b.lo for b in bs if b.lo is not None), default=None),
            hi=max((b.hi for b in bs if b.hi is not None), default=None),
        )
        for f, bs in sorted(by_file.items())
    ]


def file_counts(
    source_file: str,
    sync_time: datetime | None,
    lines: int,
    quarantined: int,
    accepted: int,
    source: str = "events",
) -> Row:
    """One ``bronze.ingest_files`` row; duplicates are the lines neither kept nor quarantined."""
    return Row(
        source=source,
        source_file=source_file,
        sync_time=sync_time,
        lines=lines,
        accepted=accepted,
        quarantined=quarantined,
        duplicates=lines - quarantined - accepted,
    )
