"""Benchmark the synthetic shop: events per second and peak memory, printed as one JSON line.

    python bench/bench_generate.py --events 10000000 --out /tmp/bench_landing

The output folder is replaced; keep it outside the repository (it is ~220 MB per million events).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from reconnect.generate import GeneratorConfig, generate_shop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="event lines to write")
    parser.add_argument("--out", type=Path, default=Path("/tmp/reconnect_bench_generate"),
                        help="landing folder to (re)create")  # fmt: skip
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    if args.out.exists():
        shutil.rmtree(args.out)
    config = GeneratorConfig(seed=args.seed, events=args.events, days=args.days)
    began = time.perf_counter()

    def progress(done: int, target: int) -> None:
        if not args.quiet:
            rate = done / (time.perf_counter() - began)
            print(f"{done:,}/{target:,} lines, {rate:,.0f}/s", file=sys.stderr, flush=True)

    summary = generate_shop(config, args.out, progress)
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024
    print(json.dumps({
        "bench": "generate",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "events": summary.lines,
        "valid_events": summary.valid_events,
        "users": summary.users,
        "products": summary.products,
        "event_files": summary.event_files,
        "seconds": round(seconds, 2),
        "events_per_s": round(summary.lines / seconds),
        "peak_rss_mib": round(peak_mib, 1),
        "output_mib": round(size / 2**20, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }))  # fmt: skip
    if not args.keep:
        shutil.rmtree(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
