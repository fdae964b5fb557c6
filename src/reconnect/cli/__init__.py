"""The ``reconnect`` command line: one subcommand per stage, each with ``--help``.

Exit codes: 0 done; 1 a job failed while running; 2 bad usage, settings or input paths (nothing
ran); 3 the runtime could not start (Java or Delta's jars missing).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from reconnect.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
    UsageError,
    log,
)
from reconnect.cli.demo import DEMO_MARK, cmd_demo
from reconnect.cli.jobs import cmd_attribute, cmd_detect, cmd_feeds, cmd_ingest, cmd_send
from reconnect.cli.models import cmd_models_build, cmd_models_docs, cmd_report
from reconnect.cli.query import cmd_serve, cmd_sql, cmd_why
from reconnect.cli.tools import cmd_campaigns, cmd_generate, cmd_import
from reconnect.settings import SettingsError

__all__ = [
    "DEMO_MARK",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_RUNTIME",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


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
    """Options of the jobs that read campaigns and run a streaming query (detect, send, ...)."""
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

    p = sub.add_parser("attribute", help=cmd_attribute.__doc__, description=cmd_attribute.__doc__)
    _streaming_job(p)
    p.set_defaults(func=cmd_attribute)

    p = sub.add_parser("generate", help=cmd_generate.__doc__, description=cmd_generate.__doc__)
    _common(p)
    p.add_argument(
        "what",
        nargs="?",
        choices=["shop", "engagement"],
        default="shop",
        help="shop (default): clickstream, feeds and subscriber lists; engagement: opens, "
        "clicks and purchases after clicks for the messages delivered so far (after send)",
    )
    p.add_argument("--out", help="landing folder (default: paths.landing of the settings)")
    p.add_argument(
        "--rates", help="engagement: YAML file of rates (default: the packaged engagement.yaml)"
    )
    p.add_argument("--events", type=int, default=100_000, help="event lines (default 100000)")
    p.add_argument("--users", type=int, default=None, help="users (default: from --events)")
    p.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    p.add_argument("--start", default="2026-01-01", help="first day (default 2026-01-01)")
    p.add_argument(
        "--seed", type=int, help="random seed (default 42; engagement: the rates file's seed)"
    )
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

    p = sub.add_parser("why", help=cmd_why.__doc__, description=cmd_why.__doc__)
    _common(p)
    p.add_argument("person", help="a user_id (device) or cuid (person)")
    p.add_argument("--campaign", help="only this campaign id (default: every campaign)")
    p.set_defaults(func=cmd_why)

    p = sub.add_parser("sql", help=cmd_sql.__doc__, description=cmd_sql.__doc__)
    _common(p)
    p.add_argument("query", help='e.g. "SELECT reason, count(*) FROM bronze.quarantine GROUP BY 1"')
    p.add_argument("--limit", type=int, default=100, help="rows printed at most (default 100)")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("serve", help=cmd_serve.__doc__, description=cmd_serve.__doc__)
    _common(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; there is no "
        "authentication, docs/analytics.md)",
    )
    p.add_argument("--port", type=int, default=10000, help="port to listen on (default 10000)")
    p.set_defaults(func=cmd_serve)

    models_help = "the dbt project (models/): build the analysts' models, generate their docs"
    p = sub.add_parser("models", help=models_help, description=models_help)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    b = actions.add_parser(
        "build", help=cmd_models_build.__doc__, description=cmd_models_build.__doc__
    )
    _common(b)
    b.add_argument("--campaigns", help="folder of campaign YAML files (default: paths.campaigns)")
    b.add_argument(
        "-s",
        "--select",
        nargs="+",
        metavar="SELECTOR",
        help="only these models (dbt selectors, e.g. rpt_campaign_performance or +fct_messages)",
    )
    b.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental models from scratch (default: their lookback window only)",
    )
    b.set_defaults(func=cmd_models_build)
    d = actions.add_parser(
        "docs", help=cmd_models_docs.__doc__, description=cmd_models_docs.__doc__
    )
    _common(d)
    d.set_defaults(func=cmd_models_docs)

    p = sub.add_parser("report", help=cmd_report.__doc__, description=cmd_report.__doc__)
    _common(p)
    p.add_argument("--out", help="the HTML file (default: report.html beside the lakehouse)")
    p.set_defaults(func=cmd_report)

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
    p.add_argument(
        "--rates", help="YAML file of engagement rates (default: the packaged engagement.yaml)"
    )
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
        print(f"reconnect {args.command}: failed: {first_line(e)}", file=sys.stderr)
        if not args.debug:
            print("  (run it again with --debug for the full trace)", file=sys.stderr)
        return EXIT_FAILED


def first_line(error: BaseException) -> str:
    """The first line of an error's message (a Java error's message holds its whole trace)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:500] if lines else type(error).__name__
