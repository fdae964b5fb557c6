"""R-TYPE-CART on the real REES46 clickstream: journeys for carting users, cancelled for buyers.

Counted independently with plain pandas (sessions R-TRIG-6, supersede R-REL-1, exit R-EXIT-1).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.scenario import campaign, messages
from reconnect.adapters import import_rees46
from reconnect.detect.pipeline import run_detect
from reconnect.ingest.pipeline import run_ingest
from reconnect.lake.tables import SILVER_DETECT_PROGRESS

pytestmark = pytest.mark.spark

WAIT = pd.Timedelta(hours=3)
GAP = pd.Timedelta(minutes=30)


def expected_states(csv: Path, watermark: pd.Timestamp) -> pd.Series:
    """Each add to cart's journey state, straight from the CSV (independent of the product).

    Only events behind the watermark are applied (R-EXIT-2); events at the same instant are in
    event-id order (``rees46-<stem>-<line>``, compared as text).
    """
    raw = pd.read_csv(csv, on_bad_lines="skip")
    raw = raw.dropna(subset=["event_time", "user_id", "event_type"])
    raw = raw[raw["event_type"].isin(["view", "cart", "remove_from_cart", "purchase"])].copy()
    raw["t"] = pd.to_datetime(
        raw["event_time"].str.replace(" UTC", "", regex=False), utc=True, errors="coerce"
    )
    raw = raw.dropna(subset=["t"])
    raw = raw[raw["t"] < watermark]
    raw["event_id"] = [f"rees46-{csv.stem}-{i + 2}" for i in raw.index]
    raw = raw.sort_values(["user_id", "t", "event_id"])
    states = []
    for _, g in raw.groupby("user_id", sort=False):
        times, kinds = list(g["t"]), list(g["event_type"])
        new_session = [True] + [times[i] - times[i - 1] >= GAP for i in range(1, len(times))]
        for i, kind in enumerate(kinds):
            if kind != "cart":
                continue
            due, state = times[i] + WAIT, "PENDING"
            for j in range(i + 1, len(kinds)):
                if times[j] > due:
                    break
                if kinds[j] == "cart":
                    state = "SUPERSEDED"
                    break
                if times[j] > times[i] and (kinds[j] == "purchase" or new_session[j]):
                    state = "CANCELLED"
                    break
            states.append(state)
    return pd.Series(states).value_counts()


def test_r_type_cart_on_rees46_matches_an_independent_pandas_count(spark, lake, shared_data):
    csv = shared_data / "rees46_oct_head" / "2019-Oct_head17k.csv"
    import_rees46(csv, Path(lake.paths.landing))
    cart = campaign({"id": "cart", "type": "cart_abandonment", "wait": "3h", "channels": ["email"],
                     "steps": [{"name": "reminder"}]})  # fmt: skip
    run_ingest(spark, lake)
    run_detect(spark, lake, [cart])

    got = pd.Series([m["state"] for m in messages(spark, lake)]).value_counts()
    progress = spark.read.format("delta").load(SILVER_DETECT_PROGRESS.location(lake))
    watermark = pd.Timestamp(progress.agg({"watermark": "max"}).first()[0], tz="UTC")
    want = expected_states(csv, watermark)
    assert want.sum() > 100  # of the file's 165 carts, those behind the watermark
    assert want.get("CANCELLED", 0) > 0 and want.get("PENDING", 0) > 0
    assert got.to_dict() == want.to_dict()
