"""Delivery attempts, as values and DataFrames (R-SEND-3; docs/sending.md, "Exactly once").

Pure: what is final, which messages of a settled batch are still open, how rows are cut into
provider calls and how attempts become ``gold.deliveries`` rows. The writes are in
:mod:`reconnect.send.sinks`, the wiring in :mod:`reconnect.send.pipeline`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.lake.schemas import DELIVERIES
from reconnect.micros import to_micros
from reconnect.send.connect import build_provider
from reconnect.send.providers import (
    RETRY_RULE,
    Attempt,
    Outgoing,
    Provider,
)
from reconnect.send.settle import lit_ts
from reconnect.settings import ProviderSettings, Settings
from reconnect.vocabulary import CHANNELS, DELIVERED, FAILED, SENT

# --- finality: one rule, as a Python value and as a Column --------------------------------------


def is_final(status: str, http_status: int | None) -> bool:
    """Whether an attempt ends its message's deliveries (no later run hands it over again).

    Delivered, or ``FAILED`` with an answer in :data:`RETRY_RULE` ``.refused`` outside its
    retried sets. Timeouts, 5xx, an open circuit and retries run out on 401, 403, 408 or 429
    are not final: the next run delivers again under the same idempotency key.
    """
    if status == DELIVERED:
        return True
    code = http_status
    return (
        status == FAILED
        and code is not None
        and code in RETRY_RULE.refused
        and code not in RETRY_RULE.retried
    )


def final_attempt(status: Column, http_status: Column) -> Column:
    """:func:`is_final` as a Column over gold.deliveries."""
    refused = (http_status >= RETRY_RULE.refused.start) & (http_status < RETRY_RULE.refused.stop)
    permanent = refused & ~http_status.isin(*sorted(RETRY_RULE.retried))
    return (status == DELIVERED) | ((status == FAILED) & F.coalesce(permanent, F.lit(False)))


def still_open(chunk: Sequence[Outgoing], attempts: Sequence[Attempt]) -> list[str]:
    """The ids of ``chunk``'s messages that got no final attempt, in the chunk's order."""
    final = {a.message_id for a in attempts if is_final(a.status, a.http_status)}
    return [o.message_id for o in chunk if o.message_id not in final]


# --- what to deliver ------------------------------------------------------------------------------


def undelivered(messages: DataFrame, deliveries: DataFrame, batch: Mapping[str, Any]) -> DataFrame:
    """The SENT messages of send batch ``batch`` (a send-progress row) without a final attempt."""
    sent = messages.where((F.col("state") == SENT) & (F.col("send_at") < lit_ts(batch["horizon"])))
    if batch["previous_horizon"] is not None:
        sent = sent.where(F.col("send_at") >= lit_ts(batch["previous_horizon"]))
    final = deliveries.where(final_attempt(F.col("status"), F.col("http_status")))
    return sent.join(final.select("message_id"), "message_id", "left_anti").select(*OUTGOING)


def on_executors(master: str | None, settings: Settings) -> list[str]:
    """Channels whose provider runs in the executors: file providers, when Spark runs locally.

    A file drop writes to a folder of the driver's machine; only a local master's executors
    share it. Webhooks stay on the driver (one circuit and one request rate per run), and so
    does the console (the driver's terminal).
    """
    if not (master or "").startswith("local"):
        return []
    return [c for c in CHANNELS if settings.sender.provider(c).kind == "file"]


# --- rows to provider calls -----------------------------------------------------------------------

OUTGOING = ("message_id", "channel", "address", "payload")
OutgoingRow = tuple[str, str, str, str]  # message_id, channel, address, payload


def outgoing_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[OutgoingRow]:
    """The :data:`OUTGOING` columns of record batches, row by row."""
    for batch in batches:
        yield from zip(*[batch.column(name).to_pylist() for name in OUTGOING], strict=True)


def chunks(rows: Iterable[OutgoingRow], sizes: Mapping[str, int]) -> Iterator[list[Outgoing]]:
    """Rows sorted by channel, cut into provider calls: one channel each, at most its chunk size.

    Used on the driver and in the workers alike, so both cut the same calls.
    """
    chunk: list[Outgoing] = []
    for message_id, channel, address, payload in rows:
        if chunk and (chunk[0].channel != channel or len(chunk) >= sizes[channel]):
            yield chunk
            chunk = []
        chunk.append(Outgoing(message_id, channel, address, text=payload))
    if chunk:
        yield chunk


def deliver_partition(
    batches: Iterable[pa.RecordBatch],
    by_channel: Mapping[str, ProviderSettings],
    root: str,
    batch_id: int,
) -> Iterator[pa.RecordBatch]:
    """Hand one partition's messages (sorted by channel) to the providers, chunk by chunk."""
    providers: dict[str, Provider] = {}
    sizes = {c: p.chunk() for c, p in by_channel.items()}
    for chunk in chunks(outgoing_rows(batches), sizes):
        channel = chunk[0].channel
        if channel not in providers:
            providers[channel] = build_provider(by_channel[channel], channel, root)
        yield attempt_batch(providers[channel].deliver(chunk), batch_id)


# --- attempts to gold.deliveries rows -------------------------------------------------------------

# gold.deliveries with the attempt time as UTC microseconds (how the workers hand it over).
ATTEMPT_ROWS = T.StructType(
    [
        T.StructField(f.name, T.LongType(), f.nullable) if f.name == "attempted_at" else f
        for f in DELIVERIES.fields
    ]
)


def arrow_type(t: T.DataType) -> pa.DataType:
    """The Arrow type of a flat Spark type of the sending tables."""
    if isinstance(t, T.StringType):
        return pa.string()
    if isinstance(t, T.BooleanType):
        return pa.bool_()
    if isinstance(t, T.IntegerType):
        return pa.int32()
    if isinstance(t, T.LongType):
        return pa.int64()
    raise TypeError(f"no arrow type for {t}")


def attempt_batch(attempts: Sequence[Attempt], batch_id: int) -> pa.RecordBatch:
    """Attempts as a record batch of :data:`ATTEMPT_ROWS`."""
    return pa.RecordBatch.from_pydict(
        {
            "message_id": [a.message_id for a in attempts],
            "channel": [a.channel for a in attempts],
            "provider": [a.provider for a in attempts],
            "attempt": pa.array([a.attempt for a in attempts], pa.int32()),
            "status": [a.status for a in attempts],
            "http_status": pa.array([a.http_status for a in attempts], pa.int32()),
            "error": pa.array([a.error for a in attempts], pa.string()),
            "attempted_at": pa.array([to_micros(a.attempted_at) for a in attempts], pa.int64()),
            "duration_ms": pa.array([a.duration_ms for a in attempts], pa.int64()),
            "send_batch": pa.array([batch_id] * len(attempts), pa.int64()),
        },
        schema=pa.schema(
            [pa.field(f.name, arrow_type(f.dataType), f.nullable) for f in ATTEMPT_ROWS.fields]
        ),
    )


def as_deliveries(attempts: DataFrame) -> DataFrame:
    """Rows of :data:`ATTEMPT_ROWS` as gold.deliveries rows."""
    return attempts.select(
        *[
            F.timestamp_micros(F.col(f.name)).alias(f.name)
            if f.name == "attempted_at"
            else F.col(f.name)
            for f in DELIVERIES.fields
        ]
    )


def batch_outcome(deliveries: DataFrame, batch_id: int) -> tuple[int, int]:
    """``(delivered, failed)``: the attempts of send batch ``batch_id`` by status."""
    counts = deliveries.where(F.col("send_batch") == batch_id).groupBy("status").count().collect()
    by = {r["status"]: int(r["count"]) for r in counts}
    return by.get(DELIVERED, 0), by.get(FAILED, 0)
