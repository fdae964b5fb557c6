"""REES46 "eCommerce behavior data from multi category store" CSV -> clickstream JSON Lines.

One input row becomes one event, in input order (the files are time-ordered). A row is *used*
when it became an event, so ``rows_used == events_written``; every other row is counted under a
skip reason. The file is streamed: memory does not grow with its size.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from reconnect.lake.landing import atomic_text_file, events_dir

from .summary import (
    CsvInput,
    ImportSummary,
    Progress,
    ProgressTicker,
    SkipLog,
)

COLUMNS = (
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
)
EVENT_TYPES = {
    "view": "product_view",
    "cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "purchase": "purchase",
}
# The dataset is priced in US dollars (Kaggle description); the CSV does not say so per row.
CURRENCY = "USD"
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


class RowError(ValueError):
    """A row that cannot become an event; ``reason`` is its skip-count key."""

    def __init__(self, reason: str, detail: str) -> None:
        """Keep the skip reason next to the human message."""
        super().__init__(detail)
        self.reason = reason


def iso_event_time(text: str) -> str:
    """Turn REES46's ``2019-10-01 00:00:00 UTC`` into ``2019-10-01T00:00:00Z``."""
    if not _TIME.fullmatch(text):
        raise RowError("bad_event_time", f"event_time {text!r} is not 'YYYY-MM-DD HH:MM:SS UTC'")
    try:
        # The regex checks the shape; fromisoformat rejects impossible dates such as 2019-02-30.
        datetime.fromisoformat(text[:19])
    except ValueError:
        raise RowError("bad_event_time", f"event_time {text!r} is not a valid date") from None
    return f"{text[:10]}T{text[11:19]}Z"


def parse_price(text: str) -> float:
    """Parse a price to a float rounded to cents; RowError unless a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise RowError("bad_price", f"price {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RowError("bad_price", f"price {text!r} is not a number")
    if value < 0:
        raise RowError("bad_price", f"price {text!r} is negative")
    return round(value, 2)


def order_id(session: str, product_id: str, event_time: str) -> str:
    """Derive a stable order id for a purchase row (the data has none; one row = one item)."""
    digest = hashlib.sha256(f"{session}|{product_id}|{event_time}".encode()).hexdigest()
    return f"rees46-{digest[:20]}"


def row_to_event(row: list[str], idx: dict[str, int], event_id: str) -> dict[str, Any]:
    """Build the DATA.md event of one REES46 row; raise RowError when it cannot be one."""
    raw_type = row[idx["event_type"]].strip()
    event_type = EVENT_TYPES.get(raw_type)
    if event_type is None:
        raise RowError(
            "unknown_event_type", f"event_type {raw_type!r} is not one of {', '.join(EVENT_TYPES)}"
        )
    event_time = iso_event_time(row[idx["event_time"]].strip())
    user_id = row[idx["user_id"]].strip()
    if not user_id:
        raise RowError("missing_user_id", "user_id is empty")
    product_id = row[idx["product_id"]].strip()
    if not product_id:
        raise RowError("missing_product_id", "product_id is empty")
    price = parse_price(row[idx["price"]].strip())
    session = row[idx["user_session"]].strip()
    category_id = row[idx["category_id"]].strip()
    category = row[idx["category_code"]].strip() or category_id
    brand = row[idx["brand"]].strip()

    event: dict[str, Any] = {
        "event_id": event_id,
        "event_time": event_time,
        "user_id": user_id,
    }
    # An empty session (it happens in the full dataset) is left out so sessions get derived.
    if session:
        event["session_id"] = session
    event["event_type"] = event_type
    event["product_id"] = product_id
    # REES46 writes 0.00 when it has no price for a product: that is "unknown", not "free", and
    # a 0 would look like a price drop to anything comparing prices seen.
    if price > 0:
        event["price"] = price
    event["currency"] = CURRENCY
    if category:
        event["category"] = category
    if event_type == "purchase":
        event["order_id"] = order_id(session, product_id, event_time)
        event["revenue"] = price
        event["items"] = [{"product_id": product_id, "quantity": 1, "price": price}]
    properties = {k: v for k, v in (("brand", brand), ("category_id", category_id)) if v}
    if properties:
        event["properties"] = properties
    return event


def import_rees46(csv_path: Path, landing: Path, progress: Progress | None = None) -> ImportSummary:
    """Write ``events/rees46-<csv stem>.jsonl`` under ``landing`` from one REES46 CSV file."""
    csv_path = Path(csv_path)
    stem = csv_path.stem
    out = events_dir(Path(landing)) / f"rees46-{stem}.jsonl"
    skips = SkipLog()
    ticker = ProgressTicker(progress)
    counts: dict[str, int] = {}
    rows_read = rows_used = 0
    with CsvInput(csv_path, COLUMNS, "REES46") as src, atomic_text_file(out) as sink:
        idx, width = src.index, src.width
        for line, row in src.rows():
            rows_read += 1
            ticker.tick(rows_read)
            if len(row) != width:
                skips.skip(
                    "wrong_column_count",
                    f"{csv_path.name} line {line}",
                    f"{len(row)} columns, expected {width}",
                )
                continue
            try:
                # The line number makes the id unique in the file and stable across re-imports,
                # so ingest's de-duplication makes a re-import a no-op.
                event = row_to_event(row, idx, f"rees46-{stem}-{line}")
            except RowError as e:
                skips.skip(e.reason, f"{csv_path.name} line {line}", str(e))
                continue
            sink.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            sink.write("\n")
            rows_used += 1
            counts[event["event_type"]] = counts.get(event["event_type"], 0) + 1
    ticker.done(rows_read)
    return ImportSummary(
        source=f"rees46:{csv_path.name}",
        rows_read=rows_read,
        rows_used=rows_used,
        events_written=rows_used,
        event_types=dict(sorted(counts.items())),
        skipped=skips.sorted_counts(),
        files_written=[out],
        errors=skips.errors,
    )
