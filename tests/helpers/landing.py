"""Builders for landing files: defaults plus only what a test is about."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_counter = {"n": 0}


def event(
    event_type: str = "page_view",
    event_time: str = "2026-01-05T10:00:00Z",
    user_id: str = "u1",
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One valid DATA.md event (the fields a test names override the defaults)."""
    if event_id is None:
        _counter["n"] += 1
        event_id = f"ev{_counter['n']}"
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_time": event_time,
        "user_id": user_id,
        "event_type": event_type,
    }
    row.update(fields)
    return row


def write_lines(path: Path, rows: list[dict[str, Any] | str], mtime: float | None = None) -> Path:
    """Write JSON Lines (dicts are dumped, strings written verbatim) with an optional mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_csv(path: Path, header: str, rows: list[str], mtime: float | None = None) -> Path:
    """Write a CSV file with a header line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
