"""The dbt project: ``reconnect models build`` and ``reconnect models docs``.

Both run dbt in this process on the session the settings build (dbt-spark's session method
takes it), after the tables are registered; ``build`` first writes the campaign catalog tables
from the campaign files. dbt prints its own progress and failure lines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reconnect.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    campaigns_in,
    settings_of,
    spark_for,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyspark.sql import SparkSession

    from reconnect.analytics.dbt import DbtRun
    from reconnect.campaigns import Campaign
    from reconnect.settings import Settings


def cmd_models_build(args: argparse.Namespace) -> int:
    """Build the dbt models (staging, intermediate, marts) with their data and unit tests."""
    from reconnect.lake.migrations import ensure_tables

    settings = settings_of(args)
    # Bad campaign files stop here, before anything runs.
    campaigns = campaigns_in(Path(args.campaigns or settings.paths.campaigns))
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    run, verdicts = build_models(spark, settings, campaigns, args.select or (), args.full_refresh)
    if not run.success:
        return dbt_failed("models build", run.failures)
    schema = settings.catalog.schema_name("analytics")
    print(verdicts)
    print(
        f"models built in {schema} (Delta tables under {settings.paths.lakehouse}/analytics/); "
        f'e.g. reconnect sql "SELECT * FROM {schema}.rpt_campaign_performance"'
    )
    return EXIT_OK


def build_models(
    spark: SparkSession,
    settings: Settings,
    campaigns: list[Campaign],
    select: Sequence[str] = (),
    full_refresh: bool = False,
    quiet: bool = False,
) -> tuple[DbtRun, str]:
    """Write the campaign catalog, run ``dbt build``, then the verdicts when dbt passed.

    Returns the dbt run and a line saying what the verdicts are (empty after a failure).
    """
    from reconnect.analytics.dbt import build
    from reconnect.analytics.sinks import write_catalog

    write_catalog(spark, settings, campaigns)
    run = build(spark, settings, select, full_refresh, quiet)
    return run, write_verdicts(spark, settings) if run.success else ""


def write_verdicts(spark: SparkSession, settings: Settings) -> str:
    """The A/B verdicts from the built ``rpt_variation_stats``; a line saying what they are."""
    from reconnect.analytics.sinks import WINNERS_TABLE, write_winners
    from reconnect.analytics.winners import verdict_rows

    schema = settings.catalog.schema_name("analytics")
    stats = [r.asDict() for r in spark.table(f"{schema}.rpt_variation_stats").collect()]
    rows = verdict_rows(stats, settings.analytics.winner_threshold)
    write_winners(spark, settings, rows)
    winners = sorted({f"{r['campaign_id']}: {r['winner']}" for r in rows if r["winner"]})
    return (f"{schema}.{WINNERS_TABLE}: {len({r['campaign_id'] for r in rows})} campaign(s), "
            f"winners at {settings.analytics.winner_threshold:.0%}: "
            f"{', '.join(winners) or 'none yet'}")  # fmt: skip


def cmd_models_docs(args: argparse.Namespace) -> int:
    """Generate the dbt docs site (models, columns, tests, lineage) and print where it is."""
    from reconnect.analytics.dbt import generate_docs
    from reconnect.lake.migrations import ensure_tables

    settings = settings_of(args)
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    run = generate_docs(spark, settings)
    if not run.success:
        return dbt_failed("models docs", run.failures)
    print(f"docs: {run.target_dir / 'static_index.html'} (one file, opens in a browser)")
    print(f"      {run.target_dir / 'index.html'} (with manifest.json and catalog.json beside it)")
    return EXIT_OK


def dbt_failed(command: str, failures: tuple[str, ...]) -> int:
    """Exit 1 after dbt's own lines: its failures again, one line each, on stderr."""
    print(f"reconnect {command}: dbt failed", file=sys.stderr)
    for line in failures:
        print(f"  {line.splitlines()[0] if line else line}", file=sys.stderr)
    return EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    """Write the campaign report: one self-contained HTML page from the built marts."""
    from reconnect.lake.migrations import ensure_tables

    settings = settings_of(args)
    out = Path(args.out) if args.out else default_report_path(settings)
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    print(f"report: {write_report_page(spark, settings, out)}")
    return EXIT_OK


def write_report_page(spark: SparkSession, settings: Settings, out: Path) -> Path:
    """Gather the marts, render the page, write it to ``out``; the path written."""
    from datetime import UTC, datetime

    from reconnect.analytics.html import render
    from reconnect.analytics.report import gather
    from reconnect.analytics.sinks import WINNERS_TABLE, write_report

    schema = settings.catalog.schema_name("analytics")
    names = ("rpt_campaign_performance", "fct_messages", WINNERS_TABLE)
    missing = [n for n in names if not spark.catalog.tableExists(f"{schema}.{n}")]
    if missing:
        raise UsageError(f"{schema}.{missing[0]} does not exist yet: run 'reconnect models build'")
    performance, messages, winners = (spark.table(f"{schema}.{n}") for n in names)
    data = gather(performance, messages, winners, settings.paths.lakehouse, datetime.now(UTC))
    write_report(out, render(data))
    return out


def default_report_path(settings: Settings) -> Path:
    """Where the report goes without --out: beside the lakehouse folder, as report.html."""
    lakehouse = settings.paths.lakehouse.removeprefix("file:")
    if "://" in lakehouse:
        raise UsageError(f"paths.lakehouse is {lakehouse}: give the report a local file (--out)")
    return Path(lakehouse).parent / "report.html"
