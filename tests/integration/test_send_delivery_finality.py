"""R-SEND-1: the Column rule of a final attempt equals the Python rule over every input.

The sender reads ``gold.deliveries`` with :func:`delivery.final_attempt` (which messages of a
settled batch are still open) and counts a driver call's open messages with
:func:`delivery.is_final`; both come from ``providers.RETRY_RULE``. Checked over every status,
every HTTP status 100..599 and none (no answer), and every attempt number up to the maximum.
"""

from __future__ import annotations

import itertools

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from reconnect.send.delivery import final_attempt, is_final
from reconnect.settings import ProviderSettings

STATUSES = ("DELIVERED", "FAILED", "SKIPPED_CIRCUIT_OPEN")
MAX_ATTEMPTS = ProviderSettings(kind="webhook", url="http://x/hook").max_attempts


def test_r_send_1_final_attempt_column_agrees_with_is_final(spark: SparkSession):
    grid = list(itertools.product(STATUSES, [None, *range(100, 600)], range(1, MAX_ATTEMPTS + 1)))
    rows = spark.createDataFrame(grid, "status string, http_status int, attempt int")
    got = {
        (r["status"], r["http_status"], r["attempt"]): r["final"]
        for r in rows.select(
            "*", final_attempt(F.col("status"), F.col("http_status")).alias("final")
        ).collect()
    }
    expected = {(s, h, a): is_final(s, h) for s, h, a in grid}
    assert got == expected
    assert {h for (s, h, _), f in expected.items() if s == "FAILED" and not f} == {
        None, 401, 403, 408, 429, *range(100, 300), *range(500, 600)
    }  # fmt: skip
