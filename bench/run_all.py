"""Run every benchmark's protocol, one after another, and keep their output (``make bench``).

Each benchmark runs in its own process (a fresh Spark session each, never two at once: the
ratios compare runs on a quiet machine), with the arguments its section of
``docs/benchmarks.md`` reproduces. Their output goes to ``bench/out/<UTC time>/<name>.log``
(``--out`` to change it) and their result lines are printed at the end; the numbers are then
written into ``docs/benchmarks.md`` by hand, with the machine and the date.

    python bench/run_all.py              # 1M events and 1M due messages, ~30 min on 2 cores
    python bench/run_all.py --large      # also 10M events (generator, ingest, detection), ~1 h more
    python bench/run_all.py --only detect send
    python bench/run_all.py --events 20000   # a quick check that every benchmark runs

Exit code 1 if any benchmark failed; the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ("generate", "ingest", "detect", "send", "attribute")


def _tag(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def commands(work: Path, out: Path, events: int, large: bool) -> list[tuple[str, list[str]]]:
    """``(name, argv)`` of each run, in order."""

    def bench(script: str, *args: object) -> list[str]:
        return [sys.executable, str(HERE / script), *map(str, args)]

    sizes = [events, 10_000_000] if large else [events]
    runs: list[tuple[str, list[str]]] = []
    for n in sizes:
        runs.append(
            (f"generate-{_tag(n)}", bench("bench_generate.py", "--events", n,
                                          "--out", work / "generate", "--quiet"))
        )  # fmt: skip
    for n in sizes:
        runs.append(
            (f"ingest-{_tag(n)}", bench("bench_ingest.py", "--events", n, "--repeat", 2,
                                        "--work", work / "ingest"))
        )  # fmt: skip
    for n in sizes:
        runs.append(
            (f"detect-{_tag(n)}", bench("bench_detect.py", "--events", n, "--no-decisions",
                                        "--work", work / "detect",
                                        "--out", out / f"detect-{_tag(n)}.json"))
        )  # fmt: skip
    runs.append(
        (f"send-{_tag(events)}", bench("bench_send.py", "--messages", events, "--repeat", 2,
                                       "--no-decisions", "--work", work / "send",
                                       "--out", out / f"send-{_tag(events)}.md"))
    )  # fmt: skip
    runs.append(
        (f"attribute-{_tag(events)}", bench("bench_attribute.py", "--events", events,
                                            "--messages", max(1000, events // 5), "--repeat", 2,
                                            "--work", work / "attribute"))
    )  # fmt: skip
    return runs


def result_lines(log: Path) -> list[str]:
    """The lines of a benchmark's output that carry its result (JSON, table rows, summaries)."""
    keep = []
    for line in log.read_text(errors="replace").splitlines():
        s = line.strip()
        if s.startswith(("{", "|", "no decisions:")) and "Stage" not in s:
            keep.append(s)
    return keep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events and due messages (default 1M)"
    )
    parser.add_argument("--large", action="store_true", help="also the 10M-event runs")
    parser.add_argument("--only", nargs="+", choices=NAMES, help="only these benchmarks")
    parser.add_argument("--out", type=Path, default=None, help="folder for logs and results")
    args = parser.parse_args(argv)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "out" / stamp
    out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="reconnect-bench-") as tmp:
        runs = commands(Path(tmp), out, args.events, args.large)
        if args.only:
            runs = [(name, cmd) for name, cmd in runs if name.split("-")[0] in args.only]
        for name, cmd in runs:
            log = out / f"{name}.log"
            print(f"[{name}] {' '.join(cmd[1:])}  (log: {log})", flush=True)
            t = time.monotonic()
            with log.open("w") as f:
                code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
            took = time.monotonic() - t
            if code != 0:
                failed.append(name)
                print(f"[{name}] FAILED with exit code {code} after {took:.0f}s", flush=True)
                continue
            print(f"[{name}] done in {took:.0f}s", flush=True)
            for line in result_lines(log):
                print(f"  {line}", flush=True)
    print(f"logs and results in {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
