"""The dbt project: ``reconnect models build`` and ``reconnect models docs``.

Both run dbt in this process on the session the settings build (dbt-spark's session method
takes it), after the tables are registered; ``build`` first writes the campaign catalog tables
from the campaign files. dbt prints its own progress and failure lines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconnect.cli.common import EXIT_FAILED, EXIT_OK, campaigns_in, settings_of, spark_for


def cmd_models_build(args: argparse.Namespace) -> int:
    """Build the dbt models (staging, intermediate, marts) with their data and unit tests."""
    from reconnect.analytics.dbt import build
    from reconnect.analytics.sinks import write_catalog
    from reconnect.lake.migrations import ensure_tables

    settings = settings_of(args)
    # Bad campaign files stop here, before anything runs.
    campaigns = campaigns_in(Path(args.campaigns or settings.paths.campaigns))
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    write_catalog(spark, settings, campaigns)
    run = build(spark, settings, args.select or (), args.full_refresh)
    if not run.success:
        return _failed("models build", run.failures)
    schema = settings.catalog.schema_name("analytics")
    print(
        f"models built in {schema} (Delta tables under {settings.paths.lakehouse}/analytics/); "
        f'e.g. reconnect sql "SELECT * FROM {schema}.rpt_campaign_performance"'
    )
    return EXIT_OK


def cmd_models_docs(args: argparse.Namespace) -> int:
    """Generate the dbt docs site (models, columns, tests, lineage) and print where it is."""
    from reconnect.analytics.dbt import generate_docs
    from reconnect.lake.migrations import ensure_tables

    settings = settings_of(args)
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    run = generate_docs(spark, settings)
    if not run.success:
        return _failed("models docs", run.failures)
    print(f"docs: {run.target_dir / 'static_index.html'} (one file, opens in a browser)")
    print(f"      {run.target_dir / 'index.html'} (with manifest.json and catalog.json beside it)")
    return EXIT_OK


def _failed(command: str, failures: tuple[str, ...]) -> int:
    """Exit 1 after dbt's own lines: its failures again, one line each, on stderr."""
    print(f"reconnect {command}: dbt failed", file=sys.stderr)
    for line in failures:
        print(f"  {line.splitlines()[0] if line else line}", file=sys.stderr)
    return EXIT_FAILED
