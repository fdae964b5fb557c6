"""Attribution throughput for a generated month against a floor measured in the same run.

Set-up (not timed): the synthetic shop's month (``--events`` lines, 30 days) is ingested; one
message in ``--messages`` is written SENT to ``gold.messages`` for a random shopper at a random
time of the month, and delivered (``gold.deliveries``); the engagement simulator
(``reconnect generate engagement``'s rates, with every e-mail opened twice as often) lands the
opens, clicks and purchases after clicks, which are ingested too.

Floor: the same clicks joined with their messages and with the purchases after them inside a
7-day window, the latest click per purchase picked, written to Delta: one bare batch query, no
recipient check, no quarantine, no per-campaign view, no progress, no idempotence. Measured:
``run_attribute`` (availableNow) into empty attribution tables, over every bronze event. Best of
``--repeat`` rounds, alternating with the floor.

    python bench/bench_attribute.py --events 1000000 --messages 200000 --work /tmp/bench-attr
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from reconnect.attribute.pipeline import run_attribute
from reconnect.campaigns import load_campaigns
from reconnect.generate import GeneratorConfig, generate_shop
from reconnect.generate.engagement import Delivered, EngagementConfig, Rates
from reconnect.generate.shop import write_engagement
from reconnect.ingest.pipeline import run_ingest
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import table
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    GOLD_ATTRIBUTED_PURCHASES,
    GOLD_MESSAGE_ENGAGEMENT,
    GOLD_MESSAGES,
    SILVER_ATTRIBUTE_PROGRESS,
    SILVER_ENGAGEMENT_QUARANTINE,
)
from reconnect.lake.writes import append
from reconnect.runtime import build_spark_session
from reconnect.settings import DEFAULT_CONF_DIR, Settings, SparkSettings

START = datetime(2026, 1, 1)
WEEK_US = 7 * 86_400 * 1_000_000


def sent_messages(spark, settings: Settings, n: int, seed: int) -> list[dict]:
    """``n`` SENT messages of the default campaigns to random users of the shop's month."""
    users = [
        r[0] for r in table(spark, settings, BRONZE_EVENTS).select("user_id").distinct().collect()
    ]
    rng = random.Random(seed)
    campaigns = [("cart-reminder", "plain"), ("cart-reminder", "urgency"),
                 ("price-drop", "default"), ("browse-sneakers", "default")]  # fmt: skip
    rows = []
    for i in range(n):
        campaign, variation = rng.choice(campaigns)
        at = START + timedelta(seconds=rng.randrange(30 * 86_400))
        user = rng.choice(users)
        rows.append({
            "message_id": f"bm{i}", "journey_id": f"bj{i}", "campaign_id": campaign,
            "campaign_type": "custom", "variation_id": variation, "is_control": False,
            "step_number": 1, "step_name": "first", "person_key": f"u:{user}", "user_id": user,
            "cuid": None, "trigger_time": at, "due_at": at, "send_at": at, "deferred_from": None,
            "state": "SENT", "reason": None, "decided_by": None,
            "channel": rng.choice(["email", "email", "sms", "app_push"]), "address": "x",
            "payload": "{}",
        })  # fmt: skip
    return rows


def floor_query(spark, settings: Settings, out: Path) -> None:
    """The bare query: clicks x messages x purchases in a 7-day window, latest click wins."""
    events = spark.read.format("delta").load(BRONZE_EVENTS.location(settings))
    messages = spark.read.format("delta").load(GOLD_MESSAGES.location(settings))
    clicks = events.where("event_type = 'message_click'").select(
        F.col("event_id").alias("click_id"), F.col("event_time").alias("click_time"),
        F.col("user_id").alias("c_user"), "message_id")  # fmt: skip
    clicks = clicks.join(messages.select("message_id", "campaign_id"), "message_id")
    purchases = events.where("event_type = 'purchase'").select(
        "event_id", "event_time", "user_id", "revenue")  # fmt: skip
    pairs = purchases.join(
        clicks,
        (F.col("user_id") == F.col("c_user"))
        & (F.col("click_time") < F.col("event_time"))
        & (F.unix_micros("event_time") <= F.unix_micros("click_time") + F.lit(WEEK_US)),
    )
    w = Window.partitionBy("event_id").orderBy(F.desc("click_time"), F.desc("click_id"))
    last: DataFrame = pairs.withColumn("n", F.row_number().over(w)).where("n = 1").drop("n")
    last.write.format("delta").mode("overwrite").save(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--work", default="/tmp/bench-attribute")
    parser.add_argument("--repeat", type=int, default=2, help="alternate floor/attribute N times")
    args = parser.parse_args()

    work = Path(args.work) / f"{args.events}-{args.messages}"
    settings = Settings(spark=SparkSettings(driver_memory="8g", shuffle_partitions=8)).with_paths(
        work
    )
    landing = Path(settings.paths.landing)
    spark = build_spark_session(settings)
    ready = work / "ready"
    if not ready.exists():
        shutil.rmtree(work, ignore_errors=True)
        generate_shop(GeneratorConfig(events=args.events, days=30), landing)
        ensure_tables(spark, settings, force=True)
        run_ingest(spark, settings, ["events"])
        messages = sent_messages(spark, settings, args.messages, seed=1)
        append(settings, GOLD_MESSAGES, spark.createDataFrame(messages, GOLD_MESSAGES.schema))
        rates = EngagementConfig(rates=Rates(open=0.6, click=0.3, purchase=0.2))
        delivered = [
            Delivered(m["message_id"], m["campaign_id"], m["variation_id"], m["channel"],
                      m["user_id"], None, m["send_at"].replace(tzinfo=UTC), "{}")
            for m in messages
        ]  # fmt: skip
        counts = write_engagement(landing, 0, delivered, rates)
        run_ingest(spark, settings, ["events"])
        (work / "ready").write_text(json.dumps(counts.__dict__))
    ensure_tables(spark, settings, force=True)
    counts = json.loads(ready.read_text())
    campaigns = load_campaigns(Path(DEFAULT_CONF_DIR) / "campaigns")
    events_in_bronze = table(spark, settings, BRONZE_EVENTS).count()

    floors, runs = [], []
    for i in range(args.repeat):
        t = time.monotonic()
        floor_query(spark, settings, work / f"floor-{i}")
        floors.append(time.monotonic() - t)
        for spec in (GOLD_MESSAGE_ENGAGEMENT, SILVER_ENGAGEMENT_QUARANTINE,
                     GOLD_ATTRIBUTED_PURCHASES, SILVER_ATTRIBUTE_PROGRESS):  # fmt: skip
            spark.sql(f"DELETE FROM delta.`{spec.location(settings)}`")
        shutil.rmtree(Path(settings.paths.checkpoints) / "attribute", ignore_errors=True)
        t = time.monotonic()
        summary = run_attribute(spark, settings, campaigns)
        runs.append(time.monotonic() - t)

    floor, measured = min(floors), min(runs)
    floor_rows = spark.read.format("delta").load(str(work / f"floor-{args.repeat - 1}")).count()
    result = {
        "bench": "attribute",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "events_in_bronze": events_in_bronze,
        "messages": args.messages,
        "simulated": counts,
        "clicks_accepted": summary.run.get("clicks"),
        "credited_last_click": summary.purchases.get("last_click"),
        "floor_rows": floor_rows,
        "floor_s": round(floor, 1),
        "attribute_s": round(measured, 1),
        "events_per_s": round(events_in_bronze / measured),
        "ratio_to_floor": round(measured / floor, 2),
        "runs": args.repeat,
    }
    print(json.dumps(result))
    spark.stop()


if __name__ == "__main__":
    main()
