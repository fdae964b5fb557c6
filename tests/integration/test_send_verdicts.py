"""The checks the sender settles in Spark columns agree with the per-person pass (decide.py).

``early_verdict`` (checks 1-3 and paused campaigns) runs before the pass, so the pass never
sees the messages it settles. Over every combination of the inputs it and the pass read, its
verdict must equal what :func:`reconnect.send.decide.decide` gives the same message, and a
message it leaves open must be one that only the later checks (preemption, channels, caps,
control groups) decide (R-SEND-2: one reason per message, whatever stage decides it).
"""

from __future__ import annotations

import itertools
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from helpers.scenario import campaign
from reconnect.send.context import SendContext
from reconnect.send.decide import Counters, decide
from reconnect.send.settle import early_verdict
from reconnect.settings import Settings

SMS_ONLY = {"sms": {"body": "hi"}}
CART = {"id": "cart", "type": "cart_abandonment", "wait": "3h", "channels": ["email", "sms"],
        "steps": [{"name": "r"}, {"name": "s", "wait": "1d", "templates": SMS_ONLY}]}  # fmt: skip
PING = {"id": "ping", "type": "custom", "trigger": {"event_name": "ping"}, "wait": "5m",
        "channels": ["sms", "email", "app_push"], "steps": [{"name": "p"}]}  # fmt: skip
OFF = {"id": "off", "type": "custom", "trigger": {"event_name": "off"}, "wait": "5m",
       "status": "paused", "channels": ["email"], "steps": [{"name": "o"}]}  # fmt: skip

STATES = [("PENDING", None), ("CANCELLED", "EXIT_CONDITION"),
          ("CANCELLED", "CANCELLED_BY_PRIORITY"), ("SUPERSEDED", "RETRIGGERED")]  # fmt: skip
# (identified, consent) for email, sms, web_push, app_push
REACH = [
    ([True] * 4, [True] * 4),
    ([False, True, True, True], [True] * 4),
    ([True, True, False, False], [False, True, False, False]),
    ([True, True, False, False], [False, False, False, False]),
    ([False, True, False, True], [False, False, False, True]),
    ([False, False, False, False], [True, True, True, True]),
]
EARLY_REASONS = ("CANCELLED_BY_PRIORITY", "CAMPAIGN_INACTIVE", "AUDIENCE_EXIT", "EMPTY_PAYLOAD")
ADDRESSES = ["a@example.com", "+33612345678", "web-token", "app-token"]


def test_r_send_2_column_verdicts_equal_the_per_person_pass(spark: SparkSession) -> None:
    campaigns = [campaign(r) for r in (CART, PING, OFF)]
    ctx = SendContext.of(Settings(), campaigns)
    rows: list[dict[str, Any]] = []
    combos = itertools.product(
        ("cart", "ping", "off"), STATES, (True, False, None), ([{"product_id": "P1"}], [], None),
        (False, True), (1, 2, 9), (False, True), REACH,
    )  # fmt: skip
    for i, (cid, (state, reason), aud, payload, pre, step, control, (ident, cons)) in enumerate(
        combos
    ):
        rows.append(
            {
                "message_id": f"m{i}", "campaign_id": cid, "variation_id": "default",
                "step_number": step, "is_control": control, "state": state, "reason": reason,
                "audience_ok": aud, "payload": payload, "preempted": pre,
                "identified": ident, "consent": cons,
            }
        )  # fmt: skip
    schema = (
        "message_id string, campaign_id string, variation_id string, step_number int, "
        "is_control boolean, state string, reason string, audience_ok boolean, "
        "payload array<struct<product_id: string>>, preempted boolean, "
        "identified array<boolean>, consent array<boolean>"
    )
    got = {
        r["message_id"]: (r["v"]["state"], r["v"]["reason"]) if r["v"] else None
        for r in spark.createDataFrame(rows, schema)
        .withColumn("early", early_verdict(ctx))
        .select("message_id", F.col("early").alias("v"))
        .collect()
    }
    assert len(got) == len(rows)
    left_open = 0
    opened: set[tuple[str, str | None]] = set()
    for m in rows:
        verdict = got[m["message_id"]]
        if m["campaign_id"] == "off":  # paused: detection's verdict, else CAMPAIGN_INACTIVE
            expected = {
                ("CANCELLED", "CANCELLED_BY_PRIORITY"): ("SUPPRESSED", "CANCELLED_BY_PRIORITY"),
                ("CANCELLED", "EXIT_CONDITION"): ("CANCELLED", "EXIT_CONDITION"),
                ("SUPERSEDED", "RETRIGGERED"): ("SUPERSEDED", "RETRIGGERED"),
            }.get((m["state"], m["reason"]), ("SUPPRESSED", "CAMPAIGN_INACTIVE"))
            assert verdict == expected, m
            continue
        d = decide(
            {**m, "send_at": 0, "due_at": 0, "address": ADDRESSES, "user_attributes": {}},
            ctx.rules[m["campaign_id"]],
            Counters(),
            ctx.settings.sender,
            86_400_000_000,
        )
        if verdict is None:
            left_open += 1
            assert d.reason not in EARLY_REASONS and d.state not in ("CANCELLED", "SUPERSEDED"), m
            opened.add((d.state, d.reason))
        else:
            assert verdict == (d.state, d.reason), m
    # The pass still has work, and the combinations reach each of its outcomes.
    assert left_open > 0
    assert opened == {
        ("SENT", None), ("SUPPRESSED", "CONTROL_GROUP"), ("SUPPRESSED", "PRIORITY_PREEMPTED"),
        ("SUPPRESSED", "NO_IDENTIFIER"), ("SUPPRESSED", "NOT_OPTED_IN"),
    }  # fmt: skip
