"""``reconnect demo``: a small generated shop through every stage, in a folder of its own."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import yaml

from reconnect.cli.common import (
    EXIT_OK,
    UsageError,
    campaigns_in,
    done_line,
    progress,
    settings_of,
    spark_for,
    watermark_shown,
)
from reconnect.cli.models import build_models, dbt_failed, write_report_page
from reconnect.cli.tools import engagement_config, generator_config
from reconnect.settings import CONF_VAR, ENV_VAR, SenderSettings, Settings

# The file a demo writes into the folder it creates: only a folder holding it is ever deleted.
DEMO_MARK = ".reconnect-demo"


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate a small shop and run every stage that exists, printing what each table holds."""
    from reconnect.attribute.pipeline import run_attribute
    from reconnect.detect.pipeline import run_detect
    from reconnect.feeds.pipeline import run_feed_changes
    from reconnect.generate import generate_shop
    from reconnect.generate.pipeline import simulate_engagement
    from reconnect.ingest.pipeline import run_ingest
    from reconnect.report import bronze_summary, silver_summary
    from reconnect.send.pipeline import run_send

    # Everything is checked before the first file is touched: settings, campaigns, the
    # generator's options and the folder itself.
    root = Path(args.root).resolve()
    settings = settings_of(args).with_paths(root)
    if not (args.conf or args.env or os.environ.get(CONF_VAR) or os.environ.get(ENV_VAR)):
        settings = strict_shop(settings)
    campaigns = campaigns_in(Path(settings.paths.campaigns))
    config = generator_config(seed=args.seed, events=args.events, days=args.days)
    engagement = engagement_config(Path(args.rates) if args.rates else None, args.seed)
    check_demo_root(root, args.force)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / DEMO_MARK).write_text("made by reconnect demo; the next demo may delete this folder\n")
    # The demo's folders as a settings file, so that every other command can read its tables.
    conf = root / "settings.yaml"
    demo_conf = {
        "paths": settings.paths.model_dump(),
        "sender": settings.sender.model_dump(include={"global_cap_count", "quiet_hours"}),
    }
    conf.write_text(yaml.safe_dump(demo_conf, sort_keys=False))
    print(f"== demo in {root}")
    print(f"== campaigns: {len(campaigns)} valid in {settings.paths.campaigns}")
    print(f"== 1/10 generate: a synthetic shop of {args.events:,} event lines")
    summary = generate_shop(config, Path(settings.paths.landing), progress("generate: event lines"))
    done_line()
    print(
        f"   {summary.lines:,} lines, {summary.users:,} users, {summary.products:,} products,"
        f" {summary.product_syncs} product syncs, {sum(summary.malformed.values()):,}"
        " malformed lines, "
        f"{summary.duplicates:,} duplicates"
    )
    print("== 2/10 ingest: landing -> bronze Delta tables")
    spark = spark_for(settings)
    started = time.monotonic()
    run_ingest(spark, settings)
    print(f"   done in {time.monotonic() - started:.0f}s")
    print("== 3/10 feeds: changes between consecutive feed syncs -> silver")
    written = run_feed_changes(spark, settings)
    print("   " + ", ".join(f"silver.{t} {n:,} rows" for t, n in written.items()))
    print("== 4/10 detect: triggers -> silver.journeys, gold.step_eligibility")
    started = time.monotonic()
    detected = run_detect(spark, settings, campaigns, watermark_shown("detect"))
    print(f"   done in {time.monotonic() - started:.0f}s")
    print(
        "== 5/10 send: due messages -> gold.messages, JSON Lines under "
        f"{settings.paths.lakehouse}/outbox/<channel>/"
    )
    started = time.monotonic()
    sent = run_send(spark, settings, campaigns, watermark_shown("send"))
    print(f"   done in {time.monotonic() - started:.0f}s")
    print("== 6/10 engagement: simulated opens, clicks and purchases for the delivered messages")
    simulated = simulate_engagement(spark, settings, engagement, Path(settings.paths.landing))
    print("   " + simulated.describe(Path(settings.paths.landing)).replace("\n", "\n   "))
    print("== 7/10 ingest again: the engagement events -> bronze.events")
    run_ingest(spark, settings, ["events"])
    print("== 8/10 attribute: clicks -> gold.message_engagement, purchases credited to them")
    started = time.monotonic()
    attributed = run_attribute(spark, settings, campaigns)
    print(f"   done in {time.monotonic() - started:.0f}s")
    print("== 9/10 models: dbt build (staging, intermediate, marts, data and unit tests)")
    started = time.monotonic()
    # quiet: dbt's line per node is for `reconnect models build`; the demo prints a summary
    built, verdicts = build_models(spark, settings, campaigns, quiet=True)
    if not built.success:
        return dbt_failed("demo", built.failures)
    print(f"   {built.describe()}")
    print(f"   {verdicts}")
    print(f"   done in {time.monotonic() - started:.0f}s")
    print("== 10/10 report: one HTML page from the marts")
    report = write_report_page(spark, settings, root / "report.html")
    print("== summary")
    print("\n".join(bronze_summary(spark, settings) + silver_summary(spark, settings)))
    print(detected.describe())
    print(sent.describe())
    print(attributed.describe())
    someone = spark.read.format("delta").load(f"{settings.paths.lakehouse}/gold/messages")
    # A person who got a message: their user_id, or their cuid when reached by it alone.
    first = someone.where("state = 'SENT'").selectExpr("coalesce(user_id, cuid) AS who").limit(1)
    found = first.collect()
    user = found[0]["who"] if found else "USER_ID"
    print("== next")
    print(f"   the campaign report: {report}")
    print(f"   the messages sent: {settings.paths.lakehouse}/outbox/<channel>/*.jsonl")
    print(f"   why a person got what they got: reconnect why {user} --conf {conf}")
    print(f'   any table in SQL: reconnect sql "SELECT state, reason, count(*) FROM gold.messages'
          f' GROUP BY 1, 2" --conf {conf}')  # fmt: skip
    return EXIT_OK


# The demo shop's sender is a strict shop's: two e-mails (or SMS, or pushes) a day at most, no
# SMS at night, no app push late in the evening (RULES.md defaults: 5 a day, no quiet hours).
# Only when no settings are named (--conf, --env or their variables), so that every cap and
# quiet-hours reason has a chance to occur.
STRICT_SENDER = {
    "global_cap_count": 2,
    "quiet_hours": {"sms": {"start": "21:00", "end": "08:00"},
                    "app_push": {"start": "22:00", "end": "07:00"}},
}  # fmt: skip


def strict_shop(settings: Settings) -> Settings:
    """``settings`` with the demo shop's sender rules (:data:`STRICT_SENDER`)."""
    sender = SenderSettings.model_validate({**settings.sender.model_dump(), **STRICT_SENDER})
    return settings.model_copy(update={"sender": sender})


def check_demo_root(root: Path, force: bool) -> None:
    """The demo's folder may be new, empty, a previous demo's, or anything with ``--force``."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: expected a folder for the demo; it is a file")
    if not root.is_dir() or force or (root / DEMO_MARK).is_file() or not any(root.iterdir()):
        return
    raise UsageError(
        f"{root}: not empty and not a previous demo's folder (no {DEMO_MARK} in it); nothing "
        "was touched. Choose another --root, or add --force to delete what it holds"
    )
