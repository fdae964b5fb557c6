"""Tools around the stages: ``generate``, ``import`` and ``campaigns``."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from reconnect.cli.common import (
    EXIT_OK,
    UsageError,
    campaigns_in,
    done_line,
    progress,
    settings_of,
    spark_for,
)

if TYPE_CHECKING:
    from reconnect.generate import GeneratorConfig
    from reconnect.generate.engagement import EngagementConfig


def cmd_generate(args: argparse.Namespace) -> int:
    """Write a deterministic synthetic shop, or the engagement with delivered messages."""
    if args.what == "engagement":
        return generate_engagement(args)
    from reconnect.generate import generate_shop

    landing = Path(args.out) if args.out else Path(settings_of(args).paths.landing)
    try:
        start = date.fromisoformat(args.start)
    except ValueError as e:
        raise UsageError(f"--start {args.start}: expected a date YYYY-MM-DD ({e})") from e
    seed = 42 if args.seed is None else args.seed
    config = generator_config(seed=seed, events=args.events, users=args.users,
                               days=args.days, start=start)  # fmt: skip
    summary = generate_shop(config, landing, progress("generate: event lines"))
    done_line()
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

    landing = Path(args.out) if args.out else Path(settings_of(args).paths.landing)
    source = Path(args.path)
    try:  # a file that cannot be read as the dataset stops here, nothing written for it
        if args.dataset == "rees46":
            if not source.is_file():
                raise UsageError(f"{source}: expected a REES46 CSV file")
            summary = import_rees46(source, landing, progress("import rees46: rows"))
        else:
            if not source.is_dir():
                raise UsageError(f"{source}: expected the folder of UCI daily CSV files")
            summary = import_uci_retail(source, landing, progress("import uci-retail: rows"))
    except ValueError as e:
        raise UsageError(str(e)) from e
    done_line()
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
    where = Path(args.path or args.dir or settings_of(args).paths.campaigns)
    if where.is_file():
        try:
            campaigns = [load_campaign_file(where)]
        except CampaignError as e:
            raise UsageError(str(e)) from e
    else:
        if where.is_dir() and not campaign_files(where):
            raise UsageError(f"{where}: no campaign files (*.yaml, *.yml) in this folder")
        campaigns = campaigns_in(where)
    if args.action == "list":
        print(format_campaign_table(campaign_rows(campaigns)))
    else:
        n = len(campaigns)
        print(f"{n} campaign{'s' if n != 1 else ''} valid in {where}")
    return EXIT_OK


def generate_engagement(args: argparse.Namespace) -> int:
    """Opens, clicks and post-click purchases for the delivered messages of the settings' lake."""
    from reconnect.generate.pipeline import simulate_engagement

    settings = settings_of(args)
    landing = Path(args.out) if args.out else Path(settings.paths.landing)
    config = engagement_config(Path(args.rates) if args.rates else None, args.seed)
    summary = simulate_engagement(spark_for(settings), settings, config, landing)
    print(summary.describe(landing))
    return EXIT_OK


def engagement_config(path: Path | None, seed: int | None) -> EngagementConfig:
    """The simulator's settings from ``path`` (default: the packaged engagement.yaml)."""
    from reconnect.generate.engagement import DEFAULT_RATES_FILE, EngagementConfig

    path = path or DEFAULT_RATES_FILE
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except OSError as e:
        raise UsageError(f"{path}: cannot read the engagement rates ({e.strerror})") from e
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of settings")
    try:
        return EngagementConfig.from_mapping(data, seed)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path}: {e}") from e


def generator_config(**options: Any) -> GeneratorConfig:
    """The generator's settings from command-line options; a bad one is named as its option."""
    from reconnect.generate import GeneratorConfig

    try:
        return GeneratorConfig(**options)
    except ValueError as e:
        named = re.sub(r"GeneratorConfig\.(\w+)", lambda m: "--" + m[1].replace("_", "-"), str(e))
        raise UsageError(named) from e
