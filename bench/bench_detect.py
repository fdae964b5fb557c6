"""Detection throughput against a floor measured in the same run on the same bronze table.

Set-up (not timed): generate the synthetic shop, ``reconnect ingest`` every source (events one
landing file per micro-batch, so bronze commits follow event time) and
``reconnect feeds`` into a fresh lakehouse; load the demo campaigns (``conf/campaigns``).

Floor (:func:`timed_floors`): read every bronze event and group the events by user, each user's
events in event-time order, written to Delta; the count-only floor of the first runs
(``groupBy(user_id)`` count and max(event_time)) is reported beside it. Measured:
``reconnect detect`` (availableNow) over the same bronze table into empty detection tables, in
one micro-batch (``max_files_per_trigger`` unset) and, with ``--batches K``, again from scratch
with ``max_files_per_trigger`` set so the run takes about K micro-batches. With
``--no-decisions``, one more run with the per-user machine stubbed out (``bench/stubs.py``: it
reads its inputs and outputs nothing) and the floor again: what the Spark part costs.

    python bench/bench_detect.py --events 1000000 --batches 4
    python bench/bench_detect.py --events 1000000 --no-decisions
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import functions as F

from reconnect.campaigns import load_campaigns
from reconnect.detect.pipeline import run_detect
from reconnect.feeds.pipeline import run_feed_changes
from reconnect.generate import GeneratorConfig, generate_shop
from reconnect.ingest.pipeline import SOURCES, run_ingest
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    DETECT_TABLES,
    GOLD_STEP_ELIGIBILITY,
    SILVER_DETECT_PROGRESS,
    SILVER_DETECT_STATE,
    SILVER_JOURNEYS,
    TableSpec,
)
from reconnect.runtime import build_spark_session
from reconnect.settings import DEFAULT_CONF_DIR, Settings, SparkSettings
from stubs import detection_without_machine  # bench/ is on sys.path


def jvm_pid(spark) -> int | None:
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    return None if proc is None else proc.pid


def jvm_peak_rss_mb(spark) -> int | None:
    """Peak resident memory of the local Spark JVM (VmHWM), where /proc shows it."""
    pid = jvm_pid(spark)
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return None


class WorkerMemory(threading.Thread):
    """Samples the summed PSS of the JVM's descendants (the Python workers) every 0.5 s.

    The workers are not our children, so RUSAGE_CHILDREN does not see them. PSS, not RSS: the
    workers are forked from one daemon and share pages, which a sum of RSS would count once per
    worker. Sampling can miss a short peak, so this is a lower bound of the true peak.
    """

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.peak_kb = 0
        self.peak_workers = 0
        self._halt = threading.Event()

    def _descendants(self) -> list[int]:
        parent: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent[int(entry)] = int(stat[stat.rfind(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
        found, todo = [], [self.root_pid]
        while todo:
            p = todo.pop()
            children = [c for c, pp in parent.items() if pp == p]
            found += children
            todo += children
        return found

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def run(self) -> None:
        while not self._halt.wait(0.5):
            pids = self._descendants()
            self.peak_workers = max(self.peak_workers, len(pids))
            self.peak_kb = max(self.peak_kb, sum(self._pss_kb(p) for p in pids))

    def stop(self) -> tuple[int, int]:
        self._halt.set()
        self.join()
        return self.peak_kb // 1024, self.peak_workers


def reset_detection(spark, settings: Settings) -> None:
    """Empty detection tables and no detect checkpoint, as before a first run (not timed)."""
    for table in DETECT_TABLES:
        spark.sql(f"DROP TABLE IF EXISTS {table.qualified_name(settings)}")
        shutil.rmtree(table.location(settings), ignore_errors=True)
    shutil.rmtree(Path(settings.paths.checkpoints) / "detect", ignore_errors=True)
    ensure_tables(spark, settings, force=True)


def delta_size(spark, table: TableSpec, settings: Settings) -> tuple[int, int, int]:
    """Rows, bytes of the current snapshot (DESCRIBE DETAIL) and bytes of every file on disk."""
    loc = table.location(settings)
    rows = spark.read.format("delta").load(loc).count()
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{loc}`").first()
    on_disk = sum(p.stat().st_size for p in Path(loc).rglob("*") if p.is_file())
    return rows, int(detail["sizeInBytes"]), on_disk


def count(spark, table: TableSpec, settings: Settings) -> int:
    return spark.read.format("delta").load(table.location(settings)).count()


def per_batch(spark, settings: Settings) -> list[dict]:
    """Per micro-batch: events, watermark, keys run, and state rows at the version it wrote."""
    loc = SILVER_DETECT_STATE.location(settings)
    out = []
    rows = (
        spark.read.format("delta")
        .load(SILVER_DETECT_PROGRESS.location(settings))
        .orderBy("batch_id")
        .collect()
    )
    for r in rows:
        state = spark.read.format("delta").option("versionAsOf", int(r["state_version"])).load(loc)
        out.append(
            {
                "batch": int(r["batch_id"]),
                "events_read": int(r["events_read"]),
                "events_applied": int(r["events_applied"]),
                "late": int(r["late_events"]),
                "watermark": r["watermark"].strftime("%Y-%m-%d %H:%M") if r["watermark"] else None,
                "keys_run": int(r["state_rows"]),
                "state_rows": state.count(),
            }
        )
    return out


def files_per_trigger(table: str, batches: int) -> int:
    """maxFilesPerTrigger giving about ``batches`` micro-batches that never split a commit.

    A commit's files cover the same event-time slice; a trigger ending inside one would make
    the rest of that commit late in the next micro-batch.
    """
    adds = []
    for log in sorted(Path(table, "_delta_log").glob("*.json")):
        n = sum(1 for line in log.read_text().splitlines() if line.startswith('{"add"'))
        if n:
            adds.append(n)
    per_commit = max(adds)
    if len(set(adds)) > 1:
        print(f"warning: bronze commits add {sorted(set(adds))} files; batches may split one")
    return per_commit * max(1, math.ceil(len(adds) / batches))


def with_max_files(settings: Settings, k: int) -> Settings:
    streaming = settings.streaming.model_copy(update={"max_files_per_trigger": k})
    return settings.model_copy(update={"streaming": streaming})


def timed_detect(spark, settings: Settings, campaigns, label: str) -> dict:
    reset_detection(spark, settings)
    pid = jvm_pid(spark)
    sampler = WorkerMemory(pid) if pid else None
    if sampler:
        sampler.start()
    t = time.monotonic()
    summary = run_detect(spark, settings, campaigns)
    seconds = time.monotonic() - t
    workers_mb, workers_n = sampler.stop() if sampler else (None, None)
    print(f"[{label}] {seconds:.1f}s\n{summary.describe()}", flush=True)
    state_rows, state_bytes, state_disk = delta_size(spark, SILVER_DETECT_STATE, settings)
    batches = per_batch(spark, settings)
    for b in batches:
        print(f"[{label}] batch {json.dumps(b)}", flush=True)
    return {
        "seconds": round(seconds, 1),
        "batches": summary.batches,
        "events_applied": summary.events_applied,
        "late_events": summary.late_events,
        "state_rows": state_rows,
        "state_bytes": state_bytes,
        "state_bytes_on_disk": state_disk,
        "step_eligibility_rows": count(spark, GOLD_STEP_ELIGIBILITY, settings),
        "journeys_rows": count(spark, SILVER_JOURNEYS, settings),
        "python_workers_peak_pss_mb": workers_mb,
        "python_workers_peak_processes": workers_n,
        "per_batch": batches,
    }


def timed_floors(spark, settings: Settings, root: Path) -> tuple[float, float]:
    """The floor (best of 2) and the count-only reference floor, in seconds.

    Floor: read every bronze event with every column and group the events by user: one row per
    user holding its events in event-time order, written to Delta. That is the least a per-user
    detector does (every event read, each user's events brought together, in order). Count
    floor (the floor of the first benchmarks, kept for comparison): ``groupBy(user_id)`` with
    ``count`` and ``max(event_time)`` over two columns, which never moves an event.
    """
    events = spark.read.format("delta").load(BRONZE_EVENTS.location(settings))

    def by_time(a, b):  # event time, then event id (a map column cannot be compared)
        t, i = "event_time", "event_id"
        return (
            F.when(a[t] < b[t], -1)
            .when(a[t] > b[t], 1)
            .when(a[i] < b[i], -1)
            .when(a[i] > b[i], 1)
            .otherwise(0)
        )

    grouped = events.groupBy("user_id").agg(
        F.array_sort(F.collect_list(F.struct(*events.columns)), by_time).alias("events")
    )
    counted = events.groupBy("user_id").agg(
        F.count("*").alias("events"), F.max("event_time").alias("last_event_at")
    )
    best: dict[str, float] = {}
    for _ in range(2):
        for name, df in (("grouped", grouped), ("count", counted)):
            out = root / f"floor-{name}"
            shutil.rmtree(out, ignore_errors=True)
            t = time.monotonic()
            df.write.format("delta").mode("overwrite").save(str(out))
            best[name] = min(best.get(name, math.inf), time.monotonic() - t)
    return best["grouped"], best["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="days simulated by the generator")
    parser.add_argument("--batches", type=int, default=0, help="also run in about K micro-batches")
    parser.add_argument("--work", default=None, help="root folder (default: a fresh temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--campaigns", default=str(DEFAULT_CONF_DIR / "campaigns"))
    parser.add_argument("--out", default=None, help="also write the JSON result here")
    parser.add_argument(
        "--no-decisions",
        action="store_true",
        help="then detect again with the per-user machine stubbed out, and the floor again",
    )
    args = parser.parse_args()

    root = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-detect-"))
    if args.work:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings(spark=SparkSettings(driver_memory="8g", shuffle_partitions=8)).with_paths(
        root
    )
    try:
        t = time.monotonic()
        config = GeneratorConfig(events=args.events, days=args.days)
        if args.batches > 1:
            # At least K landing files, so the bronze commits below can be split in K.
            per_file = min(config.events_per_file, math.ceil(args.events / args.batches))
            config = replace(config, events_per_file=per_file)
        generate_shop(config, Path(settings.paths.landing))
        spark = build_spark_session(settings)
        run_ingest(spark, settings, [s for s in SOURCES if s != "events"])
        # Events one landing file per micro-batch: the landing files are in event-time order,
        # so the bronze commits (and the files maxFilesPerTrigger hands to detect) are too.
        run_ingest(spark, with_max_files(settings, 1), ["events"])
        run_feed_changes(spark, settings)
        campaigns = load_campaigns(Path(args.campaigns))
        print(f"set-up (generate, ingest, feeds) {time.monotonic() - t:.1f}s", flush=True)

        events = spark.read.format("delta").load(BRONZE_EVENTS.location(settings))
        bronze_rows = events.count()
        bronze_files = int(
            spark.sql(f"DESCRIBE DETAIL delta.`{BRONZE_EVENTS.location(settings)}`").first()[
                "numFiles"
            ]
        )
        span = events.agg(F.min("event_time").alias("lo"), F.max("event_time").alias("hi")).first()
        users = events.select("user_id").distinct().count()

        floor, count_floor = timed_floors(spark, settings, root)
        print(f"[floor] grouped {floor:.1f}s, count {count_floor:.1f}s", flush=True)

        one = timed_detect(spark, settings, campaigns, "detect")
        many = None
        if args.batches > 1:
            k = files_per_trigger(BRONZE_EVENTS.location(settings), args.batches)
            many_settings = with_max_files(settings, k)
            many = timed_detect(spark, many_settings, campaigns, f"detect max_files={k}")
            many["max_files_per_trigger"] = k

        def rate(s: float) -> int:
            return round(bronze_rows / s)

        result = {
            "bench": "detect",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "lines": args.events,
            "days": args.days,
            "bronze_events": bronze_rows,
            "bronze_files": bronze_files,
            "users": users,
            "event_span": f"{span['lo']:%Y-%m-%d} .. {span['hi']:%Y-%m-%d}",
            "campaigns": len(campaigns),
            "floor_s": round(floor, 1),
            "floor_events_per_s": rate(floor),
            "count_floor_s": round(count_floor, 1),
            "count_ratio": round(one["seconds"] / count_floor, 1),
            "detect": {**one, "events_per_s": rate(one["seconds"]),
                       "ratio_to_floor": round(one["seconds"] / floor, 2)},
        }  # fmt: skip
        if many:
            result["detect_batched"] = {
                **many,
                "events_per_s": rate(many["seconds"]),
                "ratio_to_floor": round(many["seconds"] / floor, 2),
            }
        if args.no_decisions:
            # What the Spark part costs: the same run with the machine reading its inputs and
            # deciding nothing (bench/stubs.py), then the floor again; the stub's ratio is
            # against the better of the run's two floors.
            with detection_without_machine():
                stub = timed_detect(spark, settings, campaigns, "detect, no decisions")
            floor_after, _ = timed_floors(spark, settings, root)
            print(f"[floor] grouped {floor_after:.1f}s (after)", flush=True)
            best_floor = min(floor, floor_after)
            result["no_decisions"] = {
                "seconds": stub["seconds"],
                "floor_after_s": round(floor_after, 1),
                "ratio_to_floor": round(stub["seconds"] / best_floor, 2),
                "detect_ratio_to_best_floor": round(one["seconds"] / best_floor, 2),
            }
        result["python_driver_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
        result["jvm_peak_rss_mb"] = jvm_peak_rss_mb(spark)
        spark.stop()
        # Only children that exited and were waited for; the JVM is still alive here, so this is
        # the largest short-lived child (usually the spark-submit launcher), not the JVM.
        result["children_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        )
        print(json.dumps(result))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

        print()
        print("| run | events | floor s | floor events/s | detect s | detect events/s | "
              "ratio | batches | state rows | state bytes | step_eligibility rows | "
              "journeys rows | JVM peak RSS |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in (("one batch", result["detect"]), ("batched", result.get("detect_batched"))):
            if r is None:
                continue
            print(
                f"| {name} | {bronze_rows:,} | {floor:.1f} | {rate(floor):,} | "
                f"{r['seconds']:.1f} | {r['events_per_s']:,} | {r['ratio_to_floor']:.2f}x | "
                f"{r['batches']} | {r['state_rows']:,} | {r['state_bytes']:,} | "
                f"{r['step_eligibility_rows']:,} | {r['journeys_rows']:,} | "
                f"{result['jvm_peak_rss_mb']} MB |"
            )
        if "no_decisions" in result:
            nd = result["no_decisions"]
            print(
                f"\nno decisions: {nd['seconds']:.1f}s, {nd['ratio_to_floor']:.2f}x the better "
                f"floor ({floor:.1f}s before, {nd['floor_after_s']:.1f}s after); detect "
                f"{nd['detect_ratio_to_best_floor']:.2f}x it"
            )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
