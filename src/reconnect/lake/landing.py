"""The landing-zone layout of ``spec/DATA.md`` and safe ways to write into it.

Writers (the generator, the adapters, tests) put files here; ``reconnect ingest`` picks up new
files incrementally. A file is written under a hidden temporary name and renamed when complete,
so a streaming reader never sees half a file (Spark ignores names starting with ``.`` or ``_``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

EVENTS_DIR = "events"
PRODUCT_FEED_DIR = "product_feed"
USER_FEED_DIR = "user_feed"
SUBSCRIBERS_DIR = "subscribers"

FeedName = Literal["product_feed", "user_feed"]
SubscriberChannel = Literal["email", "sms"]


def format_ts(ts: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix and whole seconds: ``2026-01-05T10:00:00Z``.

    Naive datetimes are taken to be UTC.
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def events_dir(landing: Path) -> Path:
    """Folder of clickstream JSON Lines files."""
    return landing / EVENTS_DIR


def feed_sync_dir(landing: Path, feed: FeedName, sync_time: datetime) -> Path:
    """Folder of one product- or user-feed snapshot: ``<feed>/sync_time=<ISO-8601>/``."""
    return landing / feed / f"sync_time={format_ts(sync_time)}"


def subscribers_sync_dir(landing: Path, channel: SubscriberChannel, sync_time: datetime) -> Path:
    """Folder of one subscriber-list snapshot: ``subscribers/channel=<c>/sync_time=<ISO>/``."""
    return landing / SUBSCRIBERS_DIR / f"channel={channel}" / f"sync_time={format_ts(sync_time)}"


@contextlib.contextmanager
def atomic_text_file(path: Path, buffering: int = 1 << 20) -> Iterator[IO[str]]:
    """Open ``path`` for writing text; it appears under its real name only when closed cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=buffering) as f:
        yield f
    os.replace(tmp, path)
