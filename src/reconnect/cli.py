"""The ``reconnect`` command line: one subcommand per stage, each with ``--help``.

Exit codes: 0 done; 1 a job failed while running; 2 bad usage, settings or input paths (nothing
ran); 3 the runtime could not start (Java or Delta's jars missing).
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconnect.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from reconnect.campaigns import Campaign
    from reconnect.generate import GeneratorConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RUNTIME = 0, 1, 2, 3
# The file a demo writes into the folder it creates: only a folder holding it is ever deleted.
DEMO_MARK = ".reconnect-demo"

log = logging.getLogger("reconnect")


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


def _progress(label: str) -> Callable[..., None]:
    """A progress printer for long work: one updating line on a terminal, a line per call else."""
    started = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: int, total: int | None = None) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        pct = f" {100 * done / total:5.1f}%" if total else ""
        msg = f"{label}: {done:,}{f' / {total:,}' if total else ''}{pct} ({rate:,.0f}/s)"
        print(("\r" + msg) if tty else msg, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def _done_line() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of the command; bad ones (or data folders that cannot be made) stop it here."""
    settings = load_settings(path=args.conf, env=args.env)
    if problems := settings.paths.folder_problems():
        raise UsageError("; ".join(problems))
    if getattr(args, "continuous", False):
        settings = settings.model_copy(
            update={
                "streaming": settings.streaming.model_copy(update={"trigger": "processing_time"})
            }
        )
    return settings


def _spark(settings: Settings) -> SparkSession:
    from reconnect.runtime import build_spark_session

    return build_spark_session(settings)


# --- subcommands --------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    """Run the ingest streams: landing folders -> bronze Delta tables."""
    from reconnect.ingest.pipeline import SOURCES, run_ingest
    from reconnect.report import bronze_summary

    settings = _settings(args)
    sources = args.source or list(SOURCES)
    if nothing := _nothing_landed(settings.paths.landing, [SOURCES[s].folder for s in sources]):
        print(f"reconnect ingest: {nothing}; nothing was run", file=sys.stderr)
        return EXIT_OK
    spark = _spark(settings)
    run_ingest(spark, settings, sources)
    print("\n".join(bronze_summary(spark, settings)))
    return EXIT_OK


def _nothing_landed(landing: str, folders: list[str]) -> str | None:
    """Why a local landing zone has nothing to ingest (None: files found, or not local)."""
    if "://" in landing and not landing.startswith("file:"):
        return None  # the cluster's storage: the stream itself looks
    root = Path(landing.removeprefix("file://").removeprefix("file:"))
    looked = ", ".join(f"{f}/" for f in folders)
    if not root.is_dir():
        return f"no landing folder at {root} (paths.landing): nothing to ingest"
    if any(p.is_file() for f in folders if (root / f).is_dir() for p in (root / f).rglob("*")):
        return None
    return f"no files under {root} in {looked}: nothing to ingest"


def cmd_feeds(args: argparse.Namespace) -> int:
    """Diff consecutive feed syncs into silver change tables (new syncs only)."""
    from reconnect.feeds.pipeline import run_feed_changes

    settings = _settings(args)
    written = run_feed_changes(_spark(settings), settings)
    print(", ".join(f"silver.{table}: {n:,} rows written" for table, n in written.items()))
    return EXIT_OK


def _stream_settings(args: argparse.Namespace) -> Settings:
    settings = _settings(args)
    if args.continuous:
        settings = settings.model_copy(
            update={
                "streaming": settings.streaming.model_copy(update={"trigger": "processing_time"})
            }
        )
    return settings


def cmd_detect(args: argparse.Namespace) -> int:
    """Detect campaign triggers: bronze events and silver feed changes -> journeys and messages."""
    from reconnect.detect.pipeline import run_detect

    settings = _stream_settings(args)
    # Bad campaign files stop here, before any job runs.
    campaigns = _load_campaigns(Path(args.campaigns or settings.paths.campaigns))
    summary = run_detect(_spark(settings), settings, campaigns)
    print(summary.describe())
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    """Send: settle due messages behind the watermark -> gold.messages, deliver to providers."""
    from reconnect.send.pipeline import check_providers, run_send
    from reconnect.send.providers import ProviderError

    settings = _stream_settings(args)
    campaigns = _load_campaigns(Path(args.campaigns or settings.paths.campaigns))
    try:  # a webhook whose URL variable is missing stops here, before any job runs
        check_providers(settings)
    except ProviderError as e:
        print(f"reconnect send: {e}", file=sys.stderr)
        return EXIT_USAGE
    summary = run_send(_spark(settings), settings, campaigns)
    print(summary.describe())
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    """Write a deterministic synthetic shop into a landing folder."""
    from reconnect.generate import generate_shop

    landing = Path(args.out) if args.out else Path(_settings(args).paths.landing)
    try:
        start = date.fromisoformat(args.start)
    except ValueError as e:
        raise UsageError(f"--start {args.start}: expected a date YYYY-MM-DD ({e})") from e
    config = _generator_config(seed=args.seed, events=args.events, users=args.users,
                               days=args.days, start=start)  # fmt: skip
    summary = generate_shop(config, landing, _progress("generate: event lines"))
    _done_line()
    malformed = sum(summary.malformed.values())
    print(
        f"wrote {summary.lines:,} event lines ({summary.valid_events:,} valid, "
        f"{summary.duplicates:,} duplicates, {malformed:,} malformed) in "
        f"{summary.event_files} files; {summary.product_syncs} product-feed, "
        f"{summary.user_syncs} user-feed and {summary.subscriber_syncs} subscriber syncs; "
        f"{summary.users:,} users, {summary.products:,} products -> {landing}"
    )
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Convert a public dataset into landing files."""
    from reconnect.adapters import import_rees46, import_uci_retail

    landing = Path(args.out) if args.out else Path(_settings(args).paths.landing)
    source = Path(args.path)
    try:  # a file that cannot be read as the dataset stops here, nothing written for it
        if args.dataset == "rees46":
            if not source.is_file():
                raise UsageError(f"{source}: expected a REES46 CSV file")
            summary = import_rees46(source, landing, _progress("import rees46: rows"))
        else:
            if not source.is_dir():
                raise UsageError(f"{source}: expected the folder of UCI daily CSV files")
            summary = import_uci_retail(source, landing, _progress("import uci-retail: rows"))
    except ValueError as e:
        raise UsageError(str(e)) from e
    _done_line()
    print(summary.describe())
    return EXIT_OK


def cmd_campaigns(args: argparse.Namespace) -> int:
    """Validate the campaign files, or list them (a bad file stops with every problem named)."""
    from reconnect.campaigns import (
        CampaignError,
        campaign_files,
        campaign_rows,
        format_campaign_table,
        load_campaign_file,
    )

    if args.path and args.dir:
        raise UsageError("give the campaigns as PATH or as --dir, not both")
    where = Path(args.path or args.dir or _settings(args).paths.campaigns)
    if where.is_file():
        try:
            campaigns = [load_campaign_file(where)]
        except CampaignError as e:
            raise UsageError(str(e)) from e
    else:
        if where.is_dir() and not campaign_files(where):
            raise UsageError(f"{where}: no campaign files (*.yaml, *.yml) in this folder")
        campaigns = _load_campaigns(where)
    if args.action == "list":
        print(format_campaign_table(campaign_rows(campaigns)))
    else:
        n = len(campaigns)
        print(f"{n} campaign{'s' if n != 1 else ''} valid in {where}")
    return EXIT_OK


def _load_campaigns(folder: Path) -> list[Campaign]:
    from reconnect.campaigns import CampaignError, load_campaigns

    try:
        return load_campaigns(folder)
    except CampaignError as e:
        raise UsageError(str(e)) from e


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate a small shop and run every stage that exists, printing what each table holds."""
    from reconnect.detect.pipeline import run_detect
    from reconnect.feeds.pipeline import run_feed_changes
    from reconnect.generate import generate_shop
    from reconnect.ingest.pipeline import run_ingest
    from reconnect.report import bronze_summary, silver_summary
    from reconnect.send.pipeline import run_send

    # Everything is checked before the first file is touched: settings, campaigns, the
    # generator's options and the folder itself.
    root = Path(args.root).resolve()
    settings = _settings(args).with_paths(root)
    campaigns = _load_campaigns(Path(settings.paths.campaigns))
    config = _generator_config(seed=args.seed, events=args.events, days=args.days)
    _check_demo_root(root, args.force)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / DEMO_MARK).write_text("made by reconnect demo; the next demo may delete this folder\n")
    print(f"== demo in {root}")
    print(f"== campaigns: {len(campaigns)} valid in {settings.paths.campaigns}")
    print(f"== 1/5 generate: a synthetic shop of {args.events:,} event lines")
    summary = generate_shop(
        config, Path(settings.paths.landing), _progress("generate: event lines")
    )
    _done_line()
    print(
        f"   {summary.lines:,} lines, {summary.users:,} users, {summary.products:,} products,"
        f" {summary.product_syncs} product syncs, {sum(summary.malformed.values()):,}"
        " malformed lines, "
        f"{summary.duplicates:,} duplicates"
    )
    print("== 2/5 ingest: landing -> bronze Delta tables")
    spark = _spark(settings)
    started = time.monotonic()
    run_ingest(spark, settings)
    print(f"   done in {time.monotonic() - started:.0f}s")
    print("== 3/5 feeds: changes between consecutive feed syncs -> silver")
    written = run_feed_changes(spark, settings)
    print("   " + ", ".join(f"silver.{t} {n:,} rows" for t, n in written.items()))
    print("== 4/5 detect: triggers -> silver.journeys, gold.step_eligibility")
    started = time.monotonic()
    detected = run_detect(spark, settings, campaigns)
    print(f"   done in {time.monotonic() - started:.0f}s")
    print(
        "== 5/5 send: due messages -> gold.messages, JSON Lines under "
        f"{settings.paths.lakehouse}/outbox/<channel>/"
    )
    started = time.monotonic()
    sent = run_send(spark, settings, campaigns)
    print(f"   done in {time.monotonic() - started:.0f}s")
    print("== summary")
    print("\n".join(bronze_summary(spark, settings) + silver_summary(spark, settings)))
    print(detected.describe())
    print(sent.describe())
    return EXIT_OK


def _generator_config(**options: Any) -> GeneratorConfig:
    """The generator's settings from command-line options; a bad one is named as its option."""
    from reconnect.generate import GeneratorConfig

    try:
        return GeneratorConfig(**options)
    except ValueError as e:
        named = re.sub(r"GeneratorConfig\.(\w+)", lambda m: "--" + m[1].replace("_", "-"), str(e))
        raise UsageError(named) from e


def _check_demo_root(root: Path, force: bool) -> None:
    """The demo's folder may be new, empty, a previous demo's, or anything with ``--force``."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: expected a folder for the demo; it is a file")
    if not root.is_dir() or force or (root / DEMO_MARK).is_file() or not any(root.iterdir()):
        return
    raise UsageError(
        f"{root}: not empty and not a previous demo's folder (no {DEMO_MARK} in it); nothing "
        "was touched. Choose another --root, or add --force to delete what it holds"
    )


# --- parser -------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser, micro_batches: bool = False) -> None:
    p.add_argument("--conf", help="settings file (default: $RECONNECT_CONF or conf/<env>.yaml)")
    p.add_argument("--env", help="environment name: conf/<env>.yaml (default: local)")
    if micro_batches:
        p.add_argument("-v", "--verbose", action="store_true", help="log every micro-batch")
    p.add_argument(
        "--debug", action="store_true", help="print the full trace (Python and Java) of a failure"
    )


def _streaming_job(p: argparse.ArgumentParser) -> None:
    """Options of the jobs that read campaigns and run a streaming query (detect, send)."""
    _common(p, micro_batches=True)
    p.add_argument("--campaigns", help="folder of campaign YAML files (default: paths.campaigns)")
    p.add_argument(
        "--continuous",
        action="store_true",
        help="keep running with the processing-time trigger (default: availableNow)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="reconnect",
        description="Warehouse-native triggered messaging campaigns on Spark and Delta Lake.",
        epilog="Exit codes: 0 done (input rows or lines that were skipped or quarantined are "
        "counted in the summary), 1 a job failed, 2 bad usage, settings or input path (nothing "
        "ran), 3 the runtime could not start.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help=cmd_ingest.__doc__, description=cmd_ingest.__doc__)
    _common(p, micro_batches=True)
    p.add_argument(
        "--source",
        action="append",
        choices=["events", "product_feed", "user_feed", "subscribers"],
        help="only this source (repeatable; default: all)",
    )
    p.add_argument(
        "--continuous",
        action="store_true",
        help="keep running with the processing-time trigger (default: process "
        "what has landed and stop, i.e. availableNow)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("feeds", help=cmd_feeds.__doc__, description=cmd_feeds.__doc__)
    _common(p, micro_batches=True)
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("detect", help=cmd_detect.__doc__, description=cmd_detect.__doc__)
    _streaming_job(p)
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("send", help=cmd_send.__doc__, description=cmd_send.__doc__)
    _streaming_job(p)
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("generate", help=cmd_generate.__doc__, description=cmd_generate.__doc__)
    _common(p)
    p.add_argument("--out", help="landing folder (default: paths.landing of the settings)")
    p.add_argument("--events", type=int, default=100_000, help="event lines (default 100000)")
    p.add_argument("--users", type=int, default=None, help="users (default: from --events)")
    p.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    p.add_argument("--start", default="2026-01-01", help="first day (default 2026-01-01)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("import", help=cmd_import.__doc__, description=cmd_import.__doc__)
    _common(p)
    p.add_argument(
        "dataset",
        choices=["rees46", "uci-retail"],
        help="rees46: an e-commerce clickstream CSV (Kaggle, REES46); uci-retail: the UCI Online "
        "Retail invoices split into daily CSVs (docs/adapters.md)",
    )
    p.add_argument("path", help="rees46: the CSV file; uci-retail: the folder of daily CSVs")
    p.add_argument("--out", help="landing folder (default: paths.landing of the settings)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("campaigns", help=cmd_campaigns.__doc__, description=cmd_campaigns.__doc__)
    _common(p)
    p.add_argument("action", choices=["validate", "list"])
    p.add_argument(
        "path",
        nargs="?",
        help="a campaign file or folder (default: paths.campaigns of the settings)",
    )
    p.add_argument("--dir", help="a campaign folder (the same as PATH)")
    p.set_defaults(func=cmd_campaigns)

    p = sub.add_parser("demo", help=cmd_demo.__doc__, description=cmd_demo.__doc__)
    _common(p, micro_batches=True)
    p.add_argument(
        "--root",
        default="var/demo",
        help="demo folder, made anew each run: new, empty or a previous demo's (default var/demo)",
    )
    p.add_argument(
        "--force", action="store_true", help="delete --root even if a demo did not make it"
    )
    p.add_argument("--events", type=int, default=50_000, help="event lines (default 50000)")
    p.add_argument("--days", type=int, default=14, help="days of history (default 14)")
    p.add_argument("--seed", type=int, default=42, help="random seed of the shop (default 42)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reconnect`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from reconnect.runtime import RuntimeSetupError

    try:
        code: int = args.func(args)
        return code
    except (SettingsError, UsageError) as e:
        print(f"reconnect {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeSetupError as e:
        print(f"reconnect {args.command}: {e}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        print(f"reconnect {args.command}: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:
        if args.debug:
            log.exception("job failed")
        print(f"reconnect {args.command}: failed: {_first_line(e)}", file=sys.stderr)
        if not args.debug:
            print("  (run it again with --debug for the full trace)", file=sys.stderr)
        return EXIT_FAILED


def _first_line(error: BaseException) -> str:
    """The first line of an error's message (a Java error's message holds its whole trace)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:500] if lines else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
