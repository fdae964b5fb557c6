"""Every worked example of spec/vectors.yaml, end to end through ingest, feeds and detect.

Detection decides journeys, due times, payloads, CANCELLED (with the cancelling event) and
SUPERSEDED (with the re-trigger). What a vector expects as SENT or SUPPRESSED is decided by the
sender (issue 4); here such a message must exist, be PENDING and be settled (its due time behind
the watermark, its payload resolved).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from helpers.scenario import Scenario, messages, run_scenario, ts, vectors

pytestmark = pytest.mark.spark

DETECTION_STATES = ("CANCELLED", "SUPERSEDED")


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: v["id"])
def test_vector_up_to_detection(spark, lake, vector):
    # Rules: see each vector's `rules` (R-TYPE-*, R-STEP-1, R-EXIT-1, R-REL-1/2, R-TRIG-3/4...).
    run_scenario(spark, lake, Scenario.of_vector(vector))
    got = {
        (m["campaign_id"], m["user_key"], m["step_number"], m["due_at"]): m
        for m in messages(spark, lake)
    }
    want = {(e["campaign"], e["user"], e["step"], ts(e["due_at"])): e for e in vector["expected"]}
    assert sorted(got) == sorted(want), "exactly the expected messages exist"
    for key, e in want.items():
        m = got[key]
        if e["state"] in DETECTION_STATES:
            assert (m["state"], m["decided_by"]) == (e["state"], e["by"]), key
        else:
            assert m["state"] == "PENDING", key
            assert m["payload_as_of"] == m["due_at"], "settled: payload resolved at due time"
        if "payload_products" in e:
            assert [p["product_id"] for p in m["payload"]] == e["payload_products"], key
        if "drop_percent" in e:
            p = m["payload"][0]
            assert p["old_price"] == Decimal(str(e["old_price"])).quantize(Decimal("0.0001"))
            assert p["price"] == Decimal(str(e["new_price"])).quantize(Decimal("0.0001"))
            assert p["drop_percent"] == Decimal(str(e["drop_percent"])).quantize(Decimal("0.0001"))
