"""The dbt project (``dbt_project/`` beside this file) run in-process on the running Spark.

The project ships inside the package (a wheel carries it; ``models/`` at the repository root is
a link to it). dbt-spark's ``session`` method takes the SparkSession that is already running
(``SparkSession.builder.getOrCreate()``), so the models read the same lakehouse under the same
catalog names as every stage: the caller builds the session (the CLI with
:func:`reconnect.cli.common.spark_for`) and registers the tables (``ensure_tables``) first. This
module builds nothing itself.

What dbt needs from the settings and the vocabulary is passed as ``--vars`` (:func:`dbt_vars`):
the schema names, where the models' Delta tables go (``<lakehouse>/analytics/<model>``) and the
closed lists (channels, states, reason codes...) that the tests and the report's columns use.
dbt's own files (``target/``: manifest, compiled SQL, docs; ``logs/``) go to
:func:`artifacts_dir`, never into the package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from reconnect.campaigns import CAMPAIGN_CLASSES, Campaign
from reconnect.lake.tables import ANALYTICS, analytics_location
from reconnect.settings import Settings
from reconnect.vocabulary import (
    ACTIVE,
    CANCELLED,
    CHANNELS,
    ENGAGEMENT_EVENT_TYPES,
    LAST_CLICK,
    PER_CAMPAIGN,
    REASONS,
    SUPERSEDED,
    TERMINAL_STATES,
    KeyKind,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PROJECT_DIR = Path(str(files("reconnect.analytics") / "dbt_project"))
"""The dbt project: ``dbt_project.yml``, ``profiles.yml``, staging/, intermediate/, marts/."""

PROFILE_TARGET = "local"  # profiles.yml: method session, the embedded Spark of the settings


def dbt_vars(settings: Settings) -> dict[str, Any]:
    """The ``--vars`` of every dbt run: catalog names, the models' folder, the vocabulary.

    ``dbt_project.yml`` holds the same vocabulary lists as defaults for a plain ``dbt`` run
    (and sqlfluff); ``tests/unit/test_dbt_project.py`` keeps them equal to these.
    """
    window = Campaign.model_fields["attribution_window"].default
    return {
        "bronze_schema": settings.catalog.schema_name("bronze"),
        "silver_schema": settings.catalog.schema_name("silver"),
        "gold_schema": settings.catalog.schema_name("gold"),
        "analytics_schema": settings.catalog.schema_name(ANALYTICS),
        "analytics_location": analytics_location(settings),
        **vocabulary_vars(),
        "default_attribution_window_seconds": int(window.total_seconds()),
    }


def vocabulary_vars() -> dict[str, list[str]]:
    """The closed lists of :mod:`reconnect.vocabulary` (and the campaign types) for dbt."""
    return {
        "channels": list(CHANNELS),
        "terminal_states": list(TERMINAL_STATES),
        "journey_states": [ACTIVE, CANCELLED, SUPERSEDED],
        "key_kinds": list(get_args(KeyKind)),
        "reason_codes": list(REASONS),
        "engagement_event_types": list(ENGAGEMENT_EVENT_TYPES),
        "attribution_views": [LAST_CLICK, PER_CAMPAIGN],
        "campaign_types": list(CAMPAIGN_CLASSES),
        "primary_metrics": list(get_args(Campaign.model_fields["primary_metric"].annotation)),
    }


def artifacts_dir(settings: Settings) -> Path:
    """Where dbt writes ``target/`` and ``logs/``: ``<lakehouse>/_dbt`` for a local lakehouse.

    A lakehouse in object storage (``s3a://``...) cannot hold them (dbt writes local files):
    then ``var/dbt`` under the current folder.
    """
    lakehouse = settings.paths.lakehouse
    if "://" in lakehouse and not lakehouse.startswith("file:"):
        return Path("var/dbt").resolve()
    return Path(lakehouse.removeprefix("file://").removeprefix("file:")) / "_dbt"


@dataclass(frozen=True)
class DbtRun:
    """The outcome of one dbt command: success, a line per node that failed, nodes by status."""

    success: bool
    failures: tuple[str, ...]
    target_dir: Path
    statuses: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        """``'dbt: 87 nodes, pass 81, success 6'``: what the command did, in one line."""
        counts = ", ".join(f"{status} {n}" for status, n in self.statuses)
        return f"dbt: {sum(n for _, n in self.statuses)} nodes, {counts or 'none run'}"


_FAILED = {"error", "fail", "runtime error"}


def run_dbt(
    spark: SparkSession, settings: Settings, args: Sequence[str], quiet: bool = False
) -> DbtRun:
    """Run one dbt command (``["build", "--select", ...]``) in this process, on ``spark``.

    dbt prints its own progress and failure lines (to stdout; with ``quiet``, errors only). The
    project, the profile, the vars and the artifact folders are added here; ``args`` are the
    command and its options.
    """
    from dbt.cli.main import dbtRunner
    from pyspark.sql import SparkSession

    # dbt-spark's session method runs every statement on SparkSession.builder.getOrCreate(): the
    # process's running session. It must be ``spark``, whose catalog has the lake's tables.
    if SparkSession.builder.getOrCreate() is not spark:
        raise RuntimeError("dbt would run on another SparkSession than the one given")
    artifacts = artifacts_dir(settings)
    target = artifacts / "target"
    invocation = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        PROFILE_TARGET,
        "--target-path",
        str(target),
        "--log-path",
        str(artifacts / "logs"),
        "--vars",
        json.dumps(dbt_vars(settings)),
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
        "--use-colors" if sys.stdout.isatty() else "--no-use-colors",
        *(["--quiet"] if quiet else []),
    ]
    outcome = dbtRunner().invoke(invocation)
    failures: list[str] = []
    statuses: dict[str, int] = {}
    if outcome.exception is not None:
        failures.append(str(outcome.exception).strip() or type(outcome.exception).__name__)
    for result in getattr(outcome.result, "results", None) or []:
        status = str(getattr(result, "status", ""))
        statuses[status] = statuses.get(status, 0) + 1
        if status in _FAILED:
            node = getattr(result, "node", None)
            name = getattr(node, "unique_id", "?")
            failures.append(f"{status.upper()} {name}: {result.message}")
    return DbtRun(bool(outcome.success) and not failures, tuple(failures), target,
                  tuple(sorted(statuses.items())))  # fmt: skip


def build(
    spark: SparkSession,
    settings: Settings,
    select: Sequence[str] = (),
    full_refresh: bool = False,
    quiet: bool = False,
) -> DbtRun:
    """``dbt build``: every model (or ``select``) with its data tests and unit tests.

    Incremental models reprocess their lookback window (``lookback_days``); ``full_refresh``
    rebuilds them from scratch. The caller writes the campaign catalog first
    (:func:`reconnect.analytics.sinks.write_catalog`).
    """
    args = ["build"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(spark, settings, args, quiet)


def generate_docs(spark: SparkSession, settings: Settings) -> DbtRun:
    """``dbt docs generate --static``: ``index.html`` and a self-contained ``static_index.html``.

    Both are in ``DbtRun.target_dir``; the static one opens from the file system in a browser.
    """
    return run_dbt(spark, settings, ["docs", "generate", "--static"])
