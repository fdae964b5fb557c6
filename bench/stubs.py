"""Runs of detection and of the sender with their per-person decisions taken out (benchmarks only).

What the Spark part of a job costs, on the same lake and in the same process as the real run:
every read, join, shuffle, Arrow transfer and write the job makes stays, and only the Python
pass that decides is replaced by one that does no work per row.

- Detection (:func:`detection_without_machine`): the machine's partitions are read in full and
  nothing comes out, so no message, journey or machine state is written (the batch still writes
  its users' clocks, the buffer, the feed syncs and its progress row).
- Sender (:func:`sender_without_pass`): every message handed to the pass comes back
  ``SUPPRESSED NO_IDENTIFIER`` with no channel and no payload, using only Arrow compute, so the
  outbox MERGE still writes every due message and nothing is delivered.

The stub replaces a module function for the length of a ``with`` block. Spark pickles the
closure that the job hands to ``mapInArrow`` when the job runs, with the function it then finds
in the module, so the Python workers run the stub; this module is pickled by value, since the
workers cannot import it (``bench/`` is not installed).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import cloudpickle
from pyspark.sql.pandas.types import to_arrow_schema

from reconnect.detect import partition as detect_partition
from reconnect.send import person_pass

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _no_machine(batches: Iterable[pa.RecordBatch], *_: Any) -> Iterator[pa.RecordBatch]:
    for _batch in batches:  # every input crosses to Python, as for the real machine
        pass
    return iter(())


@contextmanager
def _replaced(module: Any, name: str, stub: Any) -> Iterator[None]:
    """``module.name`` is ``stub`` within the block (an unknown name raises, never a no-op)."""
    real = getattr(module, name)
    setattr(module, name, stub)
    try:
        yield
    finally:
        setattr(module, name, real)


def detection_without_machine() -> AbstractContextManager[None]:
    """Within the block, detection's per-user machine reads its inputs and outputs nothing."""
    return _replaced(detect_partition, "run_partition", _no_machine)


_SUPPRESSED = {"state": "SUPPRESSED", "reason": "NO_IDENTIFIER"}
_EMPTY = ("decided_by", "channel", "address", "payload")


def _suppress_all(batches: Iterable[pa.RecordBatch], *_: Any) -> Iterator[pa.RecordBatch]:
    schema = to_arrow_schema(person_pass.PASS_SCHEMA)
    for batch in batches:
        m = batch.filter(pc.equal(batch.column("kind"), "m"))
        if m.num_rows == 0:
            continue
        columns = []
        for f in schema:
            if f.name in _SUPPRESSED:
                columns.append(pa.array([_SUPPRESSED[f.name]] * m.num_rows, f.type))
            elif f.name in _EMPTY or f.name not in m.schema.names:
                columns.append(pa.nulls(m.num_rows, f.type))
            else:
                columns.append(m.column(f.name).cast(f.type))
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


def sender_without_pass() -> AbstractContextManager[None]:
    """Within the block, the sender's per-person pass suppresses every message it is handed."""
    return _replaced(person_pass, "pass_partition", _suppress_all)
