"""Text of event lines: fast timestamps, the events files, and the six kinds of malformed line."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO

from reconnect.generate.config import MALFORMED_KINDS
from reconnect.lake.landing import atomic_text_file, events_dir

_HMS: list[str] = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]


def epoch_seconds(day: date) -> int:
    """Seconds since the Unix epoch of UTC midnight of ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


class TimeFormatter:
    """Formats epoch seconds like ``landing.format_ts`` at a fraction of its cost."""

    def __init__(self, start: date) -> None:
        self.start = start
        self.origin = epoch_seconds(start)
        self._days: list[str] = []

    def _day(self, d: int) -> str:
        while len(self._days) <= d:
            self._days.append((self.start + timedelta(days=len(self._days))).isoformat())
        return self._days[d]

    def __call__(self, t: int) -> str:
        """``t`` (epoch seconds, at or after the start) as ``2026-01-05T10:00:00Z``."""
        d, s = divmod(t - self.origin, 86_400)
        days = self._days
        day = days[d] if d < len(days) else self._day(d)
        return f"{day}T{_HMS[s]}Z"


class EventFiles(AbstractContextManager["EventFiles"]):
    """Writes lines to ``events/part-NNNNN.jsonl``, starting a new file every ``per_file`` lines.

    Each file appears under its name only when complete (``landing.atomic_text_file``); on an
    error the open file is left under its hidden temporary name.
    """

    def __init__(self, landing: Path, per_file: int) -> None:
        self.folder = events_dir(landing)
        self.per_file = per_file
        self.files = 0
        self._left = 0  # lines the open file still takes
        self._cm: AbstractContextManager[IO[str]] | None = None
        self._f: IO[str] | None = None

    def _next_file(self) -> IO[str]:
        self._close(None, None, None)
        self._cm = atomic_text_file(self.folder / f"part-{self.files:05d}.jsonl")
        self._f = self._cm.__enter__()
        self.files += 1
        self._left = self.per_file
        return self._f

    def write(self, line: str) -> None:
        """Append one line (ending in a newline)."""
        f = self._f if self._left else self._next_file()
        assert f is not None
        f.write(line)
        self._left -= 1

    def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._cm is not None:
            cm, self._cm, self._f = self._cm, None, None
            cm.__exit__(exc_type, exc, tb)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(exc_type, exc, tb)


_BAD_TIMES = ("2026-13-45 25:00", "yesterday", "31/01/2026 10:00")


def malformed_line(
    kind: str,
    rng: random.Random,
    event_id: str,
    ts: str,
    user: str,
    product: str,
    price: str,
    category: str,
) -> str:
    """Return a line of the malformed ``kind``, otherwise a plausible product event."""
    fields = [
        f'"event_id":"{event_id}"',
        f'"event_time":"{ts}"',
        f'"user_id":"{user}"',
        '"event_type":"product_view"',
        f'"product_id":"{product}"',
        f'"category":"{category}"',
        f'"price":{price}',
        '"currency":"EUR"',
    ]
    if kind == "not_json":
        text = "{" + ",".join(fields) + "}"
        if rng.random() < 0.5:
            return text[: rng.randint(1, len(text) - 2)] + "\n"  # a torn write
        return text.replace('"', "'") + "\n"  # a Python dict printed instead of JSON
    if kind == "missing_field":
        del fields[rng.randrange(4)]
    elif kind == "bad_timestamp":
        choices = (*_BAD_TIMES, ts[:-1], f"{ts[:10]} {ts[11:19]}")  # ... or no offset at all
        fields[1] = f'"event_time":"{rng.choice(choices)}"'
    elif kind == "unknown_event_type":
        fields[3] = '"event_type":"teleport"'
    elif kind == "wrong_type":
        variant = rng.randrange(3)
        if variant == 0:
            fields[3] = '"event_type":"add_to_cart"'
            fields.append('"quantity":"two"')
        elif variant == 1:
            fields[6] = '"price":"abc"'
        else:
            fields[3:] = ['"event_type":"sync_cart"', f'"cart":"{product}"']
    elif kind == "negative_quantity":
        fields[3] = '"event_type":"add_to_cart"'
        fields.append('"quantity":-1')
    else:
        raise ValueError(f"unknown malformed kind {kind!r}; expected one of {MALFORMED_KINDS}")
    return "{" + ",".join(fields) + "}\n"
