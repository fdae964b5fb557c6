"""Attribution against an independent implementation of R-ATTR-1 in plain pandas.

Random messages, opens, clicks and purchases on an hourly grid (so that purchases land exactly
on a click's instant and exactly at the end of its window), three campaigns with windows of 1, 3
and 7 days, clicks by the recipient, by the recipient's other device (same cuid), by somebody
else and on unknown or unsent messages, all landed in three chunks out of event-time order with
a run after each. The Spark job's final rows must equal what the rules, applied to all the
events at once, give.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from tests.helpers.attribution import credit_by_rules, land, message

from reconnect.attribute.pipeline import run_attribute
from reconnect.campaigns import load_campaigns
from reconnect.lake.reads import table
from reconnect.lake.tables import GOLD_ATTRIBUTED_PURCHASES, SILVER_ENGAGEMENT_QUARANTINE
from reconnect.settings import DEFAULT_CONF_DIR

DAY0 = datetime(2026, 3, 2)
WINDOWS = {"A": timedelta(days=1), "B": timedelta(days=3), "C": timedelta(days=7)}


def campaigns_with_windows():
    """Three campaigns whose only difference that matters here is their attribution window."""
    base = load_campaigns(Path(DEFAULT_CONF_DIR) / "campaigns")[0]
    return [base.model_copy(update={"id": c, "attribution_window": w}) for c, w in WINDOWS.items()]


def shop(seed: int = 7):
    """(messages, events): a random small shop with every kind of engagement."""
    rng = random.Random(seed)
    hour = lambda h: DAY0 + timedelta(hours=h)  # noqa: E731
    users = [f"u{i}" for i in range(25)]
    cuid = {u: (f"c{i}" if i % 2 == 0 else None) for i, u in enumerate(users)}
    messages = []
    for i in range(120):
        user = rng.choice(users)
        m = message(f"m{i}", rng.choice("ABC"), user)
        m["cuid"] = cuid[user]
        m["send_at"] = hour(rng.randrange(0, 5 * 24))
        if i % 15 == 0:
            m["state"], m["reason"] = "SUPPRESSED", "NOT_OPTED_IN"
        messages.append(m)
    events = []
    for i in range(260):
        m = rng.choice(messages)
        kind = rng.random()
        if kind < 0.70:
            who, their_cuid = m["user_id"], m["cuid"]
        elif kind < 0.80:  # the recipient's other device: another user_id, the same cuid
            who, their_cuid = f"device-{m['user_id']}", m["cuid"]
        else:
            who = rng.choice(users)
            their_cuid = cuid[who]
        mid = m["message_id"] if rng.random() > 0.05 else f"unknown-{i}"
        t = m["send_at"] + timedelta(hours=rng.randrange(0, 72))
        kind_name = "message_click" if rng.random() < 0.7 else "message_open"
        events.append({"event_id": f"e{i}", "event_time": t, "user_id": who, "cuid": their_cuid,
                       "event_type": kind_name, "message_id": mid})  # fmt: skip
    for i in range(300):
        who = rng.choice(users + [f"device-{u}" for u in users[:5]])
        price = Decimal(rng.randrange(100, 5000)) / 100
        row = {"event_id": f"p{i}", "event_time": hour(rng.randrange(0, 14 * 24)),
               "user_id": who, "cuid": cuid.get(who), "event_type": "purchase",
               "order_id": f"o{i}", "revenue": None if i % 4 == 0 else price * 2,
               "items": [{"product_id": "p1", "quantity": 2, "price": price}]}  # fmt: skip
        events.append(row)
    rng.shuffle(events)  # landed out of event-time order
    return messages, events


def expected(messages, events) -> pd.DataFrame:
    """R-ATTR-1 over every event at once, by the rules (tests/helpers/attribution.py)."""
    rows = credit_by_rules(messages, events, WINDOWS.__getitem__)
    columns = ["attribution", "purchase_event_id", "campaign_id", "message_id", "click_event_id",
               "revenue"]  # fmt: skip
    return pd.DataFrame(rows)[columns].sort_values(
        ["attribution", "purchase_event_id", "campaign_id"]
    )


@pytest.mark.spark
def test_r_attr_1_spark_job_equals_an_independent_implementation_across_late_batches(spark, lake):
    messages, events = shop()
    campaigns = campaigns_with_windows()
    chunks = [events[:90], events[90:200], events[200:]]
    land(spark, lake, chunks[0], messages)
    for chunk in chunks:
        if chunk is not chunks[0]:
            land(spark, lake, chunk)
        run_attribute(spark, lake, campaigns)
    columns = ["attribution", "purchase_event_id", "campaign_id", "message_id", "click_event_id",
               "revenue"]  # fmt: skip
    got = (
        table(spark, lake, GOLD_ATTRIBUTED_PURCHASES).select(*columns).toPandas()
        .sort_values(["attribution", "purchase_event_id", "campaign_id"])
    )  # fmt: skip
    want = expected(messages, events)
    assert len(want) > 100 and set(want["attribution"]) == {"last_click", "per_campaign"}
    assert got.reset_index(drop=True).to_dict("records") == want.reset_index(drop=True).to_dict(
        "records"
    )
    reasons = {r["reason"] for r in table(spark, lake, SILVER_ENGAGEMENT_QUARANTINE).collect()}
    assert reasons == {"UNKNOWN_MESSAGE", "NOT_THE_RECIPIENT"}
