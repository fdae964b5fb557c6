"""The example line of every event type in docs/input.md passes ingest's checks (DATA.md)."""

from __future__ import annotations

import re

import pytest
from pyspark.sql import functions as F
from tests.helpers.paths import REPO_ROOT

from reconnect.ingest.events import parse_event_lines
from reconnect.vocabulary import EVENT_TYPES

pytestmark = pytest.mark.spark


def example_lines() -> list[str]:
    text = (REPO_ROOT / "docs" / "input.md").read_text()
    (block,) = re.findall(r"```jsonl\n(.*?)```", text, flags=re.S)
    return block.strip().splitlines()


def test_the_documented_example_of_every_event_type_is_accepted(spark):
    lines = example_lines()
    df = spark.createDataFrame(
        [(raw, "docs/input.md", i + 1) for i, raw in enumerate(lines)],
        "raw string, source_file string, source_line long",
    )
    parsed = parse_event_lines(df)
    rejected = parsed.where(F.col("error").isNotNull()).select("source_line", "error").collect()
    assert rejected == []
    types = [r["event_type"] for r in parsed.orderBy("source_line").collect()]
    assert sorted(types) == sorted(EVENT_TYPES)
