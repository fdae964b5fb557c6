"""UCI "Online Retail" split by day -> daily product-feed snapshots and purchase events.

Input: a folder of ``YYYY-MM-DD.csv`` files, one per trading day, processed in date order. For
each day D the adapter writes

* ``product_feed/sync_time=<D>T00:00:00Z/products.csv``: a cumulative snapshot of every stock
  code priced so far, at its last known modal price and modal description;
* ``events/uci-retail-<D>.jsonl``: one ``purchase`` event per invoice with a customer.

A row is *used* when it became an item of a purchase event (the rows of one invoice collapse
into one event), so ``rows_used`` equals the number of items written; every other row is
counted under one skip reason. The product feed is a second, independent view of the same rows:
a sale line priced above 0 feeds it whether or not it became an item (see docs/adapters.md).
Memory is bounded by one day's invoices plus one entry per stock code.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from reconnect.lake.landing import atomic_text_file, events_dir, feed_sync_dir, format_ts

from .summary import (
    CsvInput,
    ImportSummary,
    Progress,
    ProgressTicker,
    SkipLog,
)

COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
FEED_COLUMNS = ("product_id", "price", "name", "currency")
# The retailer is UK-based and invoices in pounds sterling (UCI dataset description).
CURRENCY = "GBP"
_DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}\.csv")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_CENT = Decimal("0.01")


class RowError(ValueError):
    """A malformed row; ``reason`` is its skip-count key."""

    def __init__(self, reason: str, detail: str) -> None:
        """Keep the skip reason next to the human message."""
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Line:
    """One well-formed invoice line."""

    invoice: str
    stock_code: str
    description: str
    quantity: int
    invoice_time: datetime
    price_text: str
    price: float
    customer: int | None
    country: str


@dataclass
class Invoice:
    """A purchase being assembled from the usable lines of one invoice."""

    invoice: str
    customer: int
    country: str
    last_time: datetime
    items: list[dict[str, Any]] = field(default_factory=list)
    revenue: Decimal = Decimal(0)


def parse_line(row: list[str], idx: dict[str, int]) -> Line:
    """Parse one CSV row into a typed line; raise RowError naming the first bad field."""
    invoice = row[idx["InvoiceNo"]].strip()
    if not invoice:
        raise RowError("missing_invoice_no", "InvoiceNo is empty")
    stock_code = row[idx["StockCode"]].strip()
    if not stock_code:
        raise RowError("missing_stock_code", "StockCode is empty")
    q_text = row[idx["Quantity"]].strip()
    try:
        quantity = int(q_text)
    except ValueError:
        raise RowError("bad_quantity", f"Quantity {q_text!r} is not an integer") from None
    t_text = row[idx["InvoiceDate"]].strip()
    try:
        if not _TIME.fullmatch(t_text):
            raise ValueError
        invoice_time = datetime.fromisoformat(t_text)
    except ValueError:
        raise RowError(
            "bad_invoice_date", f"InvoiceDate {t_text!r} is not 'YYYY-MM-DD HH:MM:SS'"
        ) from None
    p_text = row[idx["UnitPrice"]].strip()
    try:
        price = float(p_text)
    except ValueError:
        price = math.nan
    if not math.isfinite(price):
        raise RowError("bad_unit_price", f"UnitPrice {p_text!r} is not a number")
    c_text = row[idx["CustomerID"]].strip()
    customer: int | None = None
    if c_text:
        # The source stores ids as floats ("17850.0"); anything but a whole number is an error.
        try:
            c_value = float(c_text)
        except ValueError:
            c_value = math.nan
        if not (math.isfinite(c_value) and c_value.is_integer() and c_value > 0):
            raise RowError("bad_customer_id", f"CustomerID {c_text!r} is not a whole number")
        customer = int(c_value)
    return Line(
        invoice=invoice,
        stock_code=stock_code,
        # Stripped: a trailing space is not a different product name.
        description=" ".join(row[idx["Description"]].split()),
        quantity=quantity,
        invoice_time=invoice_time,
        price_text=p_text,
        price=price,
        customer=customer,
        country=row[idx["Country"]].strip(),
    )


def modal_price(counts: Counter[float]) -> float:
    """Return the most frequent price; on a tie, the lower one."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def modal_name(counts: Counter[str]) -> str:
    """Return the most frequent description; on a tie, the lexicographically first."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def format_price(price: float) -> str:
    """Format a price as plain decimal text (``2.1``, ``0.001``), never in exponent form."""
    text = repr(price)
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def event_skip_reason(line: Line) -> str | None:
    """Why a well-formed line does not become a purchase item, or None when it does."""
    if line.invoice.startswith("C"):
        return "cancellation"
    if not line.invoice[0].isdigit():
        # "A" invoices are bad-debt adjustments: book-keeping, not a sale.
        return "adjustment"
    if line.customer is None:
        return "no_customer"
    if line.quantity <= 0:
        return "non_positive_quantity"
    if line.price <= 0:
        return "non_positive_price"
    return None


def feeds_price(line: Line) -> bool:
    """Whether the line is a sale whose price belongs in the product feed, customer or not."""
    return line.invoice[0].isdigit() and line.price > 0


def purchase_event(inv: Invoice) -> dict[str, Any]:
    """Build the DATA.md purchase event of one assembled invoice."""
    event: dict[str, Any] = {
        "event_id": f"uci-{inv.invoice}",
        # An invoice keyed across a minute boundary is complete at its last line.
        "event_time": format_ts(inv.last_time),
        "user_id": f"uci-{inv.customer}",
        "event_type": "purchase",
        "order_id": inv.invoice,
        "revenue": float(inv.revenue.quantize(_CENT, rounding=ROUND_HALF_UP)),
        "currency": CURRENCY,
        "items": inv.items,
    }
    if inv.country:
        event["properties"] = {"country": inv.country}
    return event


def day_files(data_dir: Path) -> list[tuple[date, Path]]:
    """List the ``YYYY-MM-DD.csv`` files of ``data_dir`` in date order; ValueError if none."""
    if not data_dir.is_dir():
        raise ValueError(
            f"{data_dir}: no such folder; expected a folder of YYYY-MM-DD.csv files "
            "(UCI Online Retail split by day)"
        )
    days: list[tuple[date, Path]] = []
    for path in data_dir.glob("*.csv"):
        try:
            if not _DAY_FILE.fullmatch(path.name):
                raise ValueError
            day = date.fromisoformat(path.stem)
        except ValueError:
            raise ValueError(
                f"{path}: unexpected file name; expected YYYY-MM-DD.csv (one file per day)"
            ) from None
        days.append((day, path))
    if not days:
        raise ValueError(f"{data_dir}: no YYYY-MM-DD.csv files found")
    return sorted(days)


def feed_line(product_id: str, price: float, name: str) -> str:
    """Format one product-feed CSV record: RFC 4180 quoting, one line, newline-terminated."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow((product_id, format_price(price), name, CURRENCY))
    return buf.getvalue()


def write_snapshot(path: Path, catalogue: dict[str, str]) -> None:
    """Write the cumulative product snapshot CSV, sorted by product id for stable bytes."""
    with atomic_text_file(path) as f:
        f.write(",".join(FEED_COLUMNS) + "\n")
        f.writelines(catalogue[product_id] for product_id in sorted(catalogue))


def import_uci_retail(
    data_dir: Path, landing: Path, progress: Progress | None = None
) -> ImportSummary:
    """Write daily product-feed snapshots and purchase events from UCI Online Retail day files."""
    data_dir, landing = Path(data_dir), Path(landing)
    days = day_files(data_dir)
    # The feed is cumulative: product id -> its last known name, and its CSV record carrying the
    # last known modal price and name (formatted once per change, not once per snapshot).
    names_now: dict[str, str] = {}
    catalogue: dict[str, str] = {}
    skips = SkipLog()
    ticker = ProgressTicker(progress)
    files: list[Path] = []
    rows_read = rows_used = events = 0

    for day, path in days:
        prices: defaultdict[str, Counter[float]] = defaultdict(Counter)
        names: defaultdict[str, Counter[str]] = defaultdict(Counter)
        invoices: dict[str, Invoice] = {}  # insertion order = order of first appearance
        with CsvInput(path, COLUMNS, "UCI Online Retail") as src:
            idx, width = src.index, src.width
            for line_no, row in src.rows():
                rows_read += 1
                ticker.tick(rows_read)
                if len(row) != width:
                    skips.skip(
                        "wrong_column_count",
                        f"{path.name} line {line_no}",
                        f"{len(row)} columns, expected {width}",
                    )
                    continue
                try:
                    line = parse_line(row, idx)
                except RowError as e:
                    skips.skip(e.reason, f"{path.name} line {line_no}", str(e))
                    continue

                if feeds_price(line):
                    prices[line.stock_code][line.price] += 1
                    # Names from sale lines only: zero-price stock adjustments carry notes
                    # such as "damaged" or "check" in the description column.
                    if line.description:
                        names[line.stock_code][line.description] += 1

                reason = event_skip_reason(line)
                if reason is not None:
                    skips.skip(reason)
                    continue
                assert line.customer is not None  # event_skip_reason guarantees it
                inv = invoices.get(line.invoice)
                if inv is None:
                    inv = invoices[line.invoice] = Invoice(
                        line.invoice, line.customer, line.country, line.invoice_time
                    )
                inv.last_time = max(inv.last_time, line.invoice_time)
                inv.items.append(
                    {"product_id": line.stock_code, "quantity": line.quantity, "price": line.price}
                )
                inv.revenue += Decimal(line.price_text) * line.quantity
                rows_used += 1

        for code, counts in prices.items():
            # A day without a usable description keeps the last known name.
            if code in names:
                names_now[code] = modal_name(names[code])
            catalogue[code] = feed_line(code, modal_price(counts), names_now.get(code, ""))
        # Stamped at the start of D: the day's prices are the ones shoppers paid during D, so
        # the snapshot must already hold when D's purchases happen.
        sync_time = datetime(day.year, day.month, day.day, tzinfo=UTC)
        snapshot = feed_sync_dir(landing, "product_feed", sync_time) / "products.csv"
        write_snapshot(snapshot, catalogue)
        files.append(snapshot)

        out = events_dir(landing) / f"uci-retail-{day.isoformat()}.jsonl"
        with atomic_text_file(out) as sink:
            for inv in invoices.values():
                sink.write(
                    json.dumps(purchase_event(inv), ensure_ascii=False, separators=(",", ":"))
                )
                sink.write("\n")
        events += len(invoices)
        files.append(out)

    ticker.done(rows_read)
    return ImportSummary(
        source=f"uci-retail:{data_dir.name}",
        rows_read=rows_read,
        rows_used=rows_used,
        events_written=events,
        event_types={"purchase": events} if events else {},
        skipped=skips.sorted_counts(),
        files_written=files,
        product_syncs=len(days),
        products=len(catalogue),
        errors=skips.errors,
    )
