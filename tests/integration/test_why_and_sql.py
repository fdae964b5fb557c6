"""`reconnect why` and `reconnect sql`: answers read from the tables.

`explain` is checked on hand-made rows; the console script runs `sql` in a session of its own
over a lake this test wrote, by the tables' catalog names.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from reconnect.explain import explain
from reconnect.lake.schemas import JOURNEYS, MESSAGES, QUARANTINE, STEP_ELIGIBILITY
from reconnect.lake.tables import BRONZE_QUARANTINE

pytestmark = pytest.mark.spark
RECONNECT = str(Path(sys.executable).parent / "reconnect")
T0 = datetime(2026, 3, 2, 9, 0)


def rows(spark, schema, dicts):
    return spark.createDataFrame(
        [tuple(d.get(f) for f in schema.fieldNames()) for d in dicts], schema
    )


def journey(**kw):
    base = {"journey_id": "j1", "campaign_id": "cart", "campaign_type": "cart_abandonment",
            "variation_id": "default", "is_control": False, "key_kind": "user", "user_key": "d1",
            "user_id": "d1", "cuid": "c1", "trigger_time": T0, "trigger_id": "e4", "steps": 2,
            "first_due_at": T0, "last_due_at": T0, "state": "ACTIVE"}  # fmt: skip
    return {**base, **kw}


def step(n, name, **kw):
    base = {"message_id": f"m{n}", "journey_id": "j1", "campaign_id": "cart",
            "campaign_type": "cart_abandonment", "variation_id": "default", "is_control": False,
            "step_number": n, "step_name": name, "key_kind": "user", "user_key": "d1",
            "user_id": "d1", "cuid": "c1", "trigger_time": T0, "trigger_id": "e4",
            "due_at": datetime(2026, 3, 2 + n // 2, 12 * (n % 2)), "state": "PENDING",
            "payload": []}  # fmt: skip
    return {**base, **kw}


def test_why_names_the_trigger_and_each_steps_outcome_with_its_reason(spark):
    journeys = rows(spark, JOURNEYS, [journey()])
    eligibility = rows(spark, STEP_ELIGIBILITY, [step(1, "reminder"), step(2, "nudge")])
    sent = {**step(1, "reminder"), "person_key": "c:c1", "send_at": datetime(2026, 3, 2, 12),
            "state": "SUPPRESSED", "reason": "NOT_OPTED_IN"}  # fmt: skip
    messages = rows(spark, MESSAGES, [sent])
    quarantine = rows(spark, QUARANTINE, [
        {"source": "events", "source_file": "events/a.jsonl", "source_line": 7,
         "reason": "BAD_TIMESTAMP", "field": "event_time", "detail": "expected ISO-8601",
         "raw": '{"event_id":"e9","user_id":"d1","event_time":"yesterday"}'},
    ])  # fmt: skip
    assert explain("d1", None, journeys, eligibility, messages, quarantine) == [
        "cart (cart_abandonment, variation default): triggered at 2026-03-02 09:00:00Z by e4; "
        "journey ACTIVE",
        "  step 1 reminder: SUPPRESSED NOT_OPTED_IN; send time 2026-03-02 12:00:00Z",
        "  step 2 nudge: PENDING (not yet settled by the sender); due 2026-03-03 00:00:00Z",
        "quarantined, never applied: events/a.jsonl line 7: BAD_TIMESTAMP event_time: "
        "expected ISO-8601",
    ]
    empty = journeys.limit(0)
    assert explain("c1", "other", empty, eligibility, messages, quarantine.limit(0)) == [
        "no journey of campaign other names c1 (as user_id or cuid)"
    ]


def test_sql_reads_the_tables_by_their_catalog_names_from_a_fresh_process(spark, lake, tmp_path):
    quarantined = rows(spark, QUARANTINE, [
        {"source": "events", "source_file": "a.jsonl", "source_line": i, "reason": reason,
         "detail": "-"}
        for i, reason in enumerate(["NOT_JSON", "NOT_JSON", "MISSING_FIELD"])
    ])  # fmt: skip
    quarantined.write.format("delta").mode("append").save(BRONZE_QUARANTINE.location(lake))
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump({"paths": {"lakehouse": lake.paths.lakehouse}}))
    query = "SELECT reason, count(*) AS n FROM bronze.quarantine GROUP BY reason ORDER BY n DESC"
    done = subprocess.run([RECONNECT, "sql", query, "--conf", str(conf)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "reason         n",
        "NOT_JSON       2",
        "MISSING_FIELD  1",
        "(2 rows)",
    ]
