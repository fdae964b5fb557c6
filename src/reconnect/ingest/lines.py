"""Split landed files into numbered lines, so every rejection can name its file and line."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
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
