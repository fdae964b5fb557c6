"""The stage jobs: ``ingest``, ``feeds``, ``detect``, ``send`` and ``attribute``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconnect.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    campaigns_in,
    settings_of,
    spark_for,
    watermark_shown,
)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Run the ingest streams: landing folders -> bronze Delta tables."""
    from reconnect.ingest.pipeline import SOURCES, run_ingest
    from reconnect.lake.migrations import ensure_tables
    from reconnect.lake.reads import latest_version, table
    from reconnect.lake.tables import BRONZE_INGEST_FILES
    from reconnect.report import bronze_summary, ingest_run_lines

    settings = settings_of(args)
    sources = args.source or list(SOURCES)
    if nothing := nothing_landed(settings.paths.landing, [SOURCES[s].folder for s in sources]):
        print(f"reconnect ingest: {nothing}; nothing was run", file=sys.stderr)
        return EXIT_OK
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    before = latest_version(spark, settings, BRONZE_INGEST_FILES)
    run_ingest(spark, settings, sources)
    print("\n".join(bronze_summary(spark, settings)))
    files_then = table(spark, settings, BRONZE_INGEST_FILES, before)
    files_now = table(spark, settings, BRONZE_INGEST_FILES)
    print("\n".join(ingest_run_lines(files_then, files_now)))
    return EXIT_OK


def nothing_landed(landing: str, folders: list[str]) -> str | None:
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

    settings = settings_of(args)
    written = run_feed_changes(spark_for(settings), settings)
    print(", ".join(f"silver.{table}: {n:,} rows written" for table, n in written.items()))
    return EXIT_OK


def cmd_detect(args: argparse.Namespace) -> int:
    """Detect campaign triggers: bronze events and silver feed changes -> journeys and messages."""
    from reconnect.detect.pipeline import run_detect

    settings = settings_of(args)
    # Bad campaign files stop here, before any job runs.
    campaigns = campaigns_in(Path(args.campaigns or settings.paths.campaigns))
    summary = run_detect(spark_for(settings), settings, campaigns, watermark_shown("detect"))
    print(summary.describe())
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    """Send: settle due messages behind the watermark -> gold.messages, deliver to providers."""
    from reconnect.send.pipeline import check_providers, run_send
    from reconnect.send.providers import ProviderError

    settings = settings_of(args)
    campaigns = campaigns_in(Path(args.campaigns or settings.paths.campaigns))
    try:  # a webhook whose URL variable is missing stops here, before any job runs
        check_providers(settings)
    except ProviderError as e:
        print(f"reconnect send: {e}", file=sys.stderr)
        return EXIT_USAGE
    summary = run_send(spark_for(settings), settings, campaigns, watermark_shown("send"))
    print(summary.describe())
    return EXIT_OK


def cmd_attribute(args: argparse.Namespace) -> int:
    """Attribute: opens and clicks checked against gold.messages, purchases credited to clicks."""
    from reconnect.attribute.pipeline import run_attribute

    settings = settings_of(args)
    # The campaigns give the attribution windows; bad files stop here, before any job runs.
    campaigns = campaigns_in(Path(args.campaigns or settings.paths.campaigns))
    summary = run_attribute(spark_for(settings), settings, campaigns)
    print(summary.describe())
    return EXIT_OK
