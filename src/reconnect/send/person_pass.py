"""The per-person pass: every open message of a person decided in order, then rendered.

Pure: :func:`decide_all` takes the open messages and the pass's three other inputs as
DataFrames and returns the decided messages (send times as UTC microseconds,
:data:`PASS_SCHEMA`). Four kinds of rows meet in one shuffle by person: ``m`` the messages,
``p`` a preempted message's id, ``l`` a row of the person's consent ledger
(:func:`consent.for_pass`; its time in ``send_at``), ``h`` an earlier send in the cap window.
:func:`pass_partition` attaches them to the person's messages and runs
:func:`decide.decide_person` and the rendering.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from functools import reduce
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.lake.schemas import MESSAGES
from reconnect.send import consent as C
from reconnect.send.context import SendContext
from reconnect.send.decide import CampaignRules, Decision, decide_person
from reconnect.send.delivery import arrow_type
from reconnect.send.render import message_context, payload_json, render_payload
from reconnect.send.settle import TS_FIELDS
from reconnect.settings import SenderSettings

# The pass's output: gold.messages with the times as microseconds.
PASS_SCHEMA = T.StructType(
    [
        T.StructField(f.name, T.LongType() if f.name in TS_FIELDS else f.dataType)
        for f in MESSAGES.fields
    ]
)
MESSAGE_INPUT = (
    "message_id", "journey_id", "campaign_id", "campaign_type", "variation_id", "is_control",
    "step_number", "step_name", "person_key", "user_id", "cuid", "trigger_time", "due_at",
    "send_at", "deferred_from", "state", "reason", "decided_by", "payload", "user_attributes",
    "audience_ok",
)  # fmt: skip
# A consent row (``l``) in the pass: the columns of consent.LedgerRow, in its order.
_LEDGER = ("channel", "l_device", "send_at", "l_opted", "l_address", "l_src", "l_seq")
_AS_JSON = ("payload", "user_attributes")
_EXACT = json.JSONDecoder(parse_float=Decimal)  # prices stay Decimals, as Arrow gave them
_KEPT = (
    "message_id", "journey_id", "campaign_id", "campaign_type", "variation_id", "is_control",
    "step_number", "step_name", "person_key", "user_id", "cuid", "trigger_time", "due_at",
    "send_at", "deferred_from", "decided_by",
)  # fmt: skip


def decide_all(
    ctx: SendContext,
    messages: DataFrame,
    preempted: DataFrame,
    ledger: DataFrame,
    history: DataFrame,
) -> DataFrame:
    """Run the per-person pass (mapInArrow over persons, sorted within each)."""
    as_input = {c: F.unix_micros(F.col(c)).alias(c) for c in TS_FIELDS}
    # The nested columns cross to Python as JSON text: Spark's Arrow writer is slow on nested
    # values (the product slots, the attributes map), text is cheap (docs/benchmarks.md).
    as_input |= {c: F.to_json(c, {"ignoreNullFields": "false"}).alias(c) for c in _AS_JSON}
    m = messages.select(
        F.lit("m").alias("kind"),
        *[as_input.get(c, F.col(c)) for c in MESSAGE_INPUT],
        F.lit(None).cast("string").alias("channel"),
        F.lit(None).cast("string").alias("l_device"),
        F.lit(None).cast("boolean").alias("l_opted"),
        F.lit(None).cast("string").alias("l_address"),
        F.lit(None).cast("int").alias("l_src"),
        F.lit(None).cast("string").alias("l_seq"),
    )

    def rows(kind: str, df: DataFrame, given: dict[str, Column]) -> DataFrame:
        return df.select(
            F.lit(kind).alias("kind"),
            *[
                (given[f.name] if f.name in given else F.lit(None).cast(f.dataType)).alias(f.name)
                for f in m.schema.fields[1:]
            ],
        )

    col = F.col
    parts = [
        m,
        rows("p", preempted, {"message_id": col("message_id"), "person_key": col("person_key")}),
        rows(
            "l",
            ledger,
            {
                "person_key": col("person_key"),
                "channel": col("channel"),
                "send_at": F.unix_micros(col("time")),
                **{f"l_{c}": col(c) for c in ("device", "opted", "address", "src", "seq")},
            },
        ),
        rows(
            "h",
            history,
            {
                "person_key": col("person_key"),
                "campaign_id": col("campaign_id"),
                "channel": col("channel"),
                "send_at": F.unix_micros(col("send_at")),
            },
        ),
    ]
    every = reduce(DataFrame.unionByName, parts)
    every = every.repartition("person_key").sortWithinPartitions("person_key")
    rules = ctx.rules
    sender = ctx.settings.sender

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from pass_partition(batches, rules, sender)

    return every.mapInArrow(run, PASS_SCHEMA)


def pass_partition(
    batches: Iterable[pa.RecordBatch],
    rules: dict[str, CampaignRules],
    sender: SenderSettings,
) -> Iterator[pa.RecordBatch]:
    """Decide the persons of one partition (rows of :func:`decide_all`, sorted by person).

    The messages are those of active campaigns that the early verdict left open. Each gets its
    identifiers, consent and addresses from the person's ledger rows, for the channels it has
    content for (R-CHAN-1); a message with none has no channel to look up (every channel
    unknown, ``NO_IDENTIFIER``).
    """
    schema = pa.schema([pa.field(f.name, arrow_type(f.dataType)) for f in PASS_SCHEMA.fields])
    out: list[dict[str, Any]] = []
    person: str | None = None
    history: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    preempted: set[str] = set()
    ledger: list[C.LedgerRow] = []

    def flush() -> None:
        if person is None:
            return
        for p in pending:
            r = rules[p["campaign_id"]]
            content = r.content(p["variation_id"], p["step_number"], p["is_control"])
            p["identified"], p["consent"], p["address"] = C.flags(
                p["cuid"],
                p["user_id"],
                p["send_at"],
                [c for c in r.channels if c in content],
                ledger,
            )
            p["preempted"] = p["message_id"] in preempted
        for m, d in decide_person(history, pending, rules, sender):
            out.append(message_row(m, d, rules[m["campaign_id"]]))

    for batch in batches:
        # Column by column, and a dict only for the rows that need one: a ledger row is kept as
        # a small tuple.
        names = batch.schema.names
        at_kind, at_person, at_id = (names.index(n) for n in ("kind", "person_key", "message_id"))
        at_ledger = tuple(names.index(n) for n in _LEDGER)
        for values in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            if values[at_person] != person:
                flush()
                person, history, pending, preempted, ledger = values[at_person], [], [], set(), []
            kind = values[at_kind]
            if kind == "m":
                row = dict(zip(names, values, strict=True))
                text = row["payload"]
                row["payload"] = _EXACT.decode(text) if text else []
                text = row["user_attributes"]
                row["user_attributes"] = json.loads(text) if text else {}
                pending.append(row)
            elif kind == "l":
                ledger.append(C.LedgerRow(*(values[i] for i in at_ledger)))
            elif kind == "p":
                preempted.add(values[at_id])
            else:
                history.append(dict(zip(names, values, strict=True)))
        if len(out) >= 5000:
            yield pa.RecordBatch.from_pylist(out, schema)
            out = []
    flush()
    if out:
        yield pa.RecordBatch.from_pylist(out, schema)


def message_row(m: Mapping[str, Any], d: Decision, rules: CampaignRules) -> dict[str, Any]:
    """A decided message as a :data:`PASS_SCHEMA` row, rendered when it has a channel."""
    payload = None
    if d.channel is not None:
        products = [dict(p) for p in m["payload"] or []]
        content = rules.content(m["variation_id"], m["step_number"], m["is_control"])
        ctx = message_context(
            message_id=m["message_id"],
            campaign_id=m["campaign_id"],
            campaign_name=rules.name,
            step_name=m["step_name"],
            channel=d.channel,
            products=products,
            user=m["user_attributes"],
        )
        payload = payload_json(
            render_payload(content.get(d.channel, {}), ctx, address=d.address or "")
        )
    return {
        **{k: m[k] for k in _KEPT},
        "state": d.state,
        "reason": d.reason,
        "channel": d.channel,
        "address": d.address,
        "payload": payload,
    }
