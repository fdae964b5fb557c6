"""Ingest throughput against a floor measured in the same run on the same files.

Floor: a bare ``spark.read.json(events).write.format("delta")`` (schema inferred, nothing
checked, nothing deduplicated). Measured: ``reconnect ingest`` of the events source (explicit
schema, line numbers, validation, quarantine, dedup, reconciliation), availableNow, one session.

    python bench/bench_ingest.py --events 1000000 --work /tmp/bench-ingest
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from reconnect.generate import GeneratorConfig, generate_shop
from reconnect.ingest.pipeline import run_ingest
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.tables import BRONZE_EVENTS
from reconnect.runtime import build_spark_session
from reconnect.settings import Settings, SparkSettings


def jvm_peak_rss_mb(spark) -> int | None:
    """Peak resident memory of the local Spark JVM (VmHWM), where /proc shows it."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    if proc is None:
        return None
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--work", default="/tmp/bench-ingest")
    parser.add_argument("--repeat", type=int, default=1, help="alternate floor/ingest N times")
    args = parser.parse_args()

    work = Path(args.work)
    landing = work / f"landing-{args.events}"
    if not (landing / "events").is_dir():
        generate_shop(GeneratorConfig(events=args.events, days=30), landing)
    settings = Settings(spark=SparkSettings(driver_memory="8g", shuffle_partitions=8)).with_paths(
        work
    )
    settings = settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"landing": str(landing)})}
    )
    spark = build_spark_session(settings)
    events_dir = str(landing / "events")

    floors, ingests = [], []
    for i in range(args.repeat):
        floor_out = work / f"floor-{i}"
        shutil.rmtree(floor_out, ignore_errors=True)
        t = time.monotonic()
        spark.read.json(events_dir).write.format("delta").save(str(floor_out))
        floors.append(time.monotonic() - t)

        for sub in ("lakehouse", "checkpoints"):
            shutil.rmtree(work / sub, ignore_errors=True)
        for db in ("bronze", "silver", "gold"):
            spark.sql(f"DROP SCHEMA IF EXISTS {db} CASCADE")
        # Creating the tables is a deploy step, not ingest work: keep it out of the timing.
        ensure_tables(spark, settings, force=True)
        t = time.monotonic()
        run_ingest(spark, settings, ["events"])
        ingests.append(time.monotonic() - t)

    stored = spark.read.format("delta").load(BRONZE_EVENTS.location(settings)).count()
    floor, ingest = min(floors), min(ingests)
    result = {
        "bench": "ingest_events",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "lines": args.events,
        "stored_events": stored,
        "floor_s": round(floor, 1),
        "ingest_s": round(ingest, 1),
        "floor_events_per_s": round(args.events / floor),
        "ingest_events_per_s": round(args.events / ingest),
        "ratio_to_floor": round(ingest / floor, 2),
        "python_driver_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
        "jvm_peak_rss_mb": jvm_peak_rss_mb(spark),
        "runs": args.repeat,
    }
    print(json.dumps(result))
    spark.stop()


if __name__ == "__main__":
    main()
