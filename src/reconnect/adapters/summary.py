"""The summary every adapter returns, and the bookkeeping the adapters share to fill it.

Accounting rule: every data row read is either *used* (what "used" means is stated per adapter)
or counted under exactly one skip reason, so ``rows_read == rows_used + sum(skipped)``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Enough examples to diagnose a bad file without letting a broken multi-GB input flood memory.
MAX_ERROR_EXAMPLES = 20
PROGRESS_EVERY = 50_000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportSummary:
    """What one adapter run read, wrote and skipped, with examples of malformed rows."""

    source: str
    rows_read: int
    rows_used: int
    events_written: int
    event_types: dict[str, int]
    skipped: dict[str, int]
    files_written: list[Path]
    product_syncs: int = 0
    products: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rows_skipped(self) -> int:
        """Return the total of all skip reasons."""
        return sum(self.skipped.values())

    @property
    def reconciles(self) -> bool:
        """Tell whether every row read is either used or counted under a skip reason."""
        return self.rows_read == self.rows_used + self.rows_skipped

    def describe(self) -> str:
        """Return a short human-readable report of the run (for the CLI)."""
        lines = [
            f"{self.source}: {self.rows_read:,} rows read, {self.rows_used:,} used, "
            f"{self.rows_skipped:,} skipped; {self.events_written:,} events written "
            f"to {len(self.files_written):,} files",
        ]
        lines += [f"  event {k}: {v:,}" for k, v in self.event_types.items()]
        lines += [f"  skipped {k}: {v:,}" for k, v in self.skipped.items()]
        if self.product_syncs:
            lines.append(
                f"  product feed: {self.product_syncs:,} snapshots, {self.products:,} products"
            )
        lines += [f"  skipped, not imported: {e}" for e in self.errors]
        if self.rows_skipped > len(self.errors):
            lines.append(f"  ({len(self.errors)} of the {self.rows_skipped:,} skipped rows shown)")
        return "\n".join(lines)


class SkipLog:
    """Counts skipped rows per reason and keeps the first few malformed-row messages."""

    def __init__(self) -> None:
        """Start with no skips."""
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []

    def skip(self, reason: str, where: str | None = None, detail: str | None = None) -> None:
        """Count one skipped row; with ``where``/``detail`` also keep it as an error example."""
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if detail is not None and len(self.errors) < MAX_ERROR_EXAMPLES:
            self.errors.append(f"{where}: {detail}")

    def sorted_counts(self) -> dict[str, int]:
        """Return the counts keyed in name order, so summaries compare and print stably."""
        return dict(sorted(self.counts.items()))


class ProgressTicker:
    """Calls ``progress(rows_read)`` every ``PROGRESS_EVERY`` rows and once at the end."""

    def __init__(self, progress: Progress | None) -> None:
        """Wrap an optional callback."""
        self._progress = progress
        self._last = 0

    def tick(self, rows_read: int) -> None:
        """Report when another ``PROGRESS_EVERY`` rows have been read."""
        if self._progress is not None and rows_read % PROGRESS_EVERY == 0:
            self._last = rows_read
            self._progress(rows_read)

    def done(self, rows_read: int) -> None:
        """Report the final count unless it was just reported."""
        if self._progress is not None and rows_read != self._last:
            self._last = rows_read
            self._progress(rows_read)


class CsvInput:
    """A CSV file whose header has been checked, read row by row with line numbers."""

    def __init__(self, path: Path, expected: tuple[str, ...], what: str) -> None:
        """Open ``path`` and check its header names every column of ``expected``.

        Raises ValueError naming the file and the expected header when the file is missing,
        empty or lacks a column. Extra columns are allowed (and ignored); order does not matter.
        """
        header_text = ",".join(expected)
        if not path.is_file():
            raise ValueError(
                f"{path}: no such file; expected a {what} CSV with header {header_text}"
            )
        self.path = path
        # utf-8-sig: a byte-order mark (common in spreadsheet exports) must not rename column 1.
        self._file: IO[str] = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
        self._reader = csv.reader(self._file)
        header = next(self._reader, None)
        if header is None:
            self.close()
            raise ValueError(f"{path}: the file is empty; expected a {what} header {header_text}")
        names = [h.strip() for h in header]
        missing = [c for c in expected if c not in names]
        if missing:
            self.close()
            raise ValueError(
                f"{path}: wrong header {','.join(names)!r}; expected a {what} header "
                f"{header_text} (missing {', '.join(missing)})"
            )
        self.width = len(names)
        self.index = {c: names.index(c) for c in expected}

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Each data row with the line number it starts on (the header is line 1).

        Blank lines carry no data and are not rows.
        """
        reader = self._reader
        end = reader.line_num
        for row in reader:
            start = end + 1
            end = reader.line_num
            if row:
                yield start, row

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> CsvInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
