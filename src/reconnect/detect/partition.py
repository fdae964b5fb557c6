"""The state machine in the Python workers: sorted machine inputs in, machine outputs out (Arrow).

:func:`run_machine` hands the inputs, repartitioned by key and sorted by time within each
partition, to :func:`run_partition` through ``mapInArrow``; it runs
:class:`~reconnect.detect.machine.Machine` over each key's inputs and returns one row per message,
journey and state it produced, in :data:`OUTPUT_SCHEMA` (``out``: ``m``, ``j`` or ``s``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from reconnect.detect.machine import Input, Machine
from reconnect.detect.plan import CampaignPlan
from reconnect.detect.state import UserState

_PRODUCT = T.StructType(
    [
        T.StructField("product_id", T.StringType()),
        T.StructField("old_price", T.DecimalType(18, 4)),
        T.StructField("drop_percent", T.DecimalType(9, 4)),
    ]
)
OUTPUT_SCHEMA = T.StructType(
    [
        T.StructField("out", T.StringType()),  # MESSAGE, JOURNEY or STATE
        T.StructField("key_kind", T.StringType()),
        T.StructField("user_key", T.StringType()),
        T.StructField("cuid", T.StringType()),
        T.StructField("message_id", T.StringType()),
        T.StructField("journey_id", T.StringType()),
        T.StructField("campaign_id", T.StringType()),
        T.StructField("campaign_type", T.StringType()),
        T.StructField("variation_id", T.StringType()),
        T.StructField("is_control", T.BooleanType()),
        T.StructField("step_number", T.IntegerType()),
        T.StructField("step_name", T.StringType()),
        T.StructField("steps", T.IntegerType()),
        T.StructField("trigger_time", T.LongType()),
        T.StructField("trigger_id", T.StringType()),
        T.StructField("due_at", T.LongType()),
        T.StructField("first_due_at", T.LongType()),
        T.StructField("last_due_at", T.LongType()),
        T.StructField("state", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("decided_by", T.StringType()),
        T.StructField("decided_at", T.LongType()),
        T.StructField("products", T.ArrayType(_PRODUCT)),
        T.StructField("state_json", T.StringType()),
        T.StructField("watched", T.ArrayType(T.StringType())),
        T.StructField("expires_at", T.LongType()),
    ]
)
MESSAGE, JOURNEY, STATE = "m", "j", "s"  # the kinds of output row (``out``)
_FIELDS = OUTPUT_SCHEMA.fieldNames()
_ARROW = None  # built lazily in the workers


def _arrow_schema() -> pa.Schema:
    global _ARROW
    if _ARROW is None:
        from pyspark.sql.pandas.types import to_arrow_schema

        _ARROW = to_arrow_schema(OUTPUT_SCHEMA)
    return _ARROW


def _inputs_of(batch: pa.RecordBatch) -> Iterator[tuple[str, str, Any]]:
    cols = {name: batch.column(name).to_pylist() for name in batch.schema.names}
    kk, uk, kind = cols["key_kind"], cols["user_key"], cols["kind"]
    for i in range(batch.num_rows):
        if kind[i] == "state":
            yield kk[i], uk[i], (cols["state"][i], cols["cuid"][i])
            continue
        yield (
            kk[i],
            uk[i],
            Input(
                cols["time"][i],
                cols["seq"][i],
                kind[i],
                cols["event_type"][i],
                cols["product_id"][i],
                bool(cols["new_session"][i]),
                cols["cuid"][i],
                tuple(cols["items"][i] or ()),
                tuple(cols["triggers"][i] or ()),
                tuple(cols["exits"][i] or ()),
                cols["price"][i],
            ),
        )


def run_partition(
    batches: Iterator[pa.RecordBatch], plans: Sequence[CampaignPlan], slots: int, ttl: int
) -> Iterator[pa.RecordBatch]:
    """Run the machine over one partition of inputs sorted by key, then time (mapInArrow)."""
    machine = Machine(plans, slots)
    rows: list[tuple[Any, ...]] = []
    current: tuple[str, str] | None = None
    state_json: str | None = None
    cuid: str | None = None
    pending: list[Input] = []

    def flush() -> None:
        if current is None or not pending:
            return
        state = UserState.from_json(state_json)
        state.cuid = cuid
        messages, journeys, last = machine.run(current[0], current[1], state, pending)
        rows.extend(_message_out(m) for m in messages)
        rows.extend(_journey_out(j) for j in journeys)
        rows.append(_state_out(current, state, last, ttl, machine.max_window))

    for batch in batches:
        for kk, uk, item in _inputs_of(batch):
            if (kk, uk) != current:
                flush()
                current, state_json, cuid, pending = (kk, uk), None, None, []
            if isinstance(item, Input):
                pending.append(item)
            else:
                state_json, cuid = item
        if len(rows) >= 10_000:
            yield _to_arrow(rows)
            rows = []
    flush()
    if rows:
        yield _to_arrow(rows)


def _to_arrow(rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    schema = _arrow_schema()
    arrays = [pa.array(list(c), type=schema.field(i).type) for i, c in enumerate(columns)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _none_row() -> dict[str, Any]:
    return dict.fromkeys(_FIELDS)


def _products(ps: Sequence[tuple[str, Decimal | None, Decimal | None]]) -> list[dict[str, Any]]:
    return [{"product_id": p, "old_price": o, "drop_percent": d} for p, o, d in ps]


def _message_out(m: Any) -> tuple[Any, ...]:
    r = _none_row()
    r.update(
        out=MESSAGE, key_kind=m.key_kind, user_key=m.user_key, cuid=m.cuid, message_id=m.message_id,
        journey_id=m.journey_id, campaign_id=m.campaign_id, campaign_type=m.campaign_type,
        variation_id=m.variation_id, is_control=m.control, step_number=m.step_number,
        step_name=m.step_name, trigger_time=m.trigger_time, trigger_id=m.trigger_id,
        due_at=m.due_at, state=m.state, reason=m.reason, decided_by=m.decided_by,
        decided_at=m.decided_at, products=_products(m.products),
    )  # fmt: skip
    return tuple(r[f] for f in _FIELDS)


def _journey_out(j: Any) -> tuple[Any, ...]:
    r = _none_row()
    r.update(
        out=JOURNEY, key_kind=j.key_kind, user_key=j.user_key, cuid=j.cuid, journey_id=j.journey_id,
        campaign_id=j.campaign_id, campaign_type=j.campaign_type, variation_id=j.variation_id,
        is_control=j.control, steps=j.steps, trigger_time=j.trigger_time, trigger_id=j.trigger_id,
        first_due_at=j.first_due_at, last_due_at=j.last_due_at, state=j.state, reason=j.reason,
        decided_by=j.ended_by, decided_at=j.ended_at,
    )  # fmt: skip
    return tuple(r[f] for f in _FIELDS)


def _state_out(
    key: tuple[str, str], state: UserState, last: int, ttl: int, max_window: int
) -> tuple[Any, ...]:
    r = _none_row()
    r.update(
        out=STATE,
        key_kind=key[0],
        user_key=key[1],
        state_json=None if state.is_empty() else state.to_json(),
        watched=state.watched_products(),
        expires_at=state.expires_at(last, ttl, max_window),
    )
    return tuple(r[f] for f in _FIELDS)


# --- sinks --------------------------------------------------------------------------------------


def run_machine(
    inputs: DataFrame, plans: Sequence[CampaignPlan], partitions: int, slots: int, ttl: int
) -> DataFrame:
    """The machine's outputs for ``inputs`` (:data:`reconnect.detect.inputs.INPUT_SCHEMA`).

    Inputs are repartitioned by key into ``partitions`` and sorted by (time, rank, seq) within
    each; ``slots`` is the number of product slots, ``ttl`` the state TTL in microseconds.
    """
    ordered = inputs.repartition(partitions, "key_kind", "user_key").sortWithinPartitions(
        "key_kind", "user_key", "time", "rank", "seq"
    )

    def run(batches: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
        yield from run_partition(iter(batches), plans, slots, ttl)

    return ordered.mapInArrow(run, OUTPUT_SCHEMA)
