"""What every subcommand shares: exit codes, usage errors, settings, Spark, progress lines."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconnect.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from reconnect.campaigns import Campaign
    from reconnect.lake.streams import OnBatch

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RUNTIME = 0, 1, 2, 3

log = logging.getLogger("reconnect")


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


def progress(label: str) -> Callable[..., None]:
    """A progress printer for long work: one updating line on a terminal, a line per call else."""
    started = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: int, total: int | None = None) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        pct = f" {100 * done / total:5.1f}%" if total else ""
        msg = f"{label}: {done:,}{f' / {total:,}' if total else ''}{pct} ({rate:,.0f}/s)"
        print(("\r" + msg) if tty else msg, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def done_line() -> None:
    """End a progress line on a terminal (elsewhere each update is a line already)."""
    if sys.stderr.isatty():
        print(file=sys.stderr)


def settings_of(args: argparse.Namespace) -> Settings:
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


# What a stage told of its last finished micro-batch, by query name, for its progress line.
_BATCH_NOTES: dict[str, str] = {}


def spark_for(settings: Settings) -> SparkSession:
    """The session of a command, printing one progress line per micro-batch of its queries."""
    from reconnect.runtime import build_spark_session

    spark = build_spark_session(settings)
    spark.streams.addListener(_batch_progress())
    return spark


def watermark_shown(query: str) -> OnBatch:
    """A stage's ``on_batch``: the query's progress lines end with the watermark it reached."""

    def note(batch_id: int, watermark: datetime | None) -> None:
        _BATCH_NOTES[query] = f"watermark {watermark:%Y-%m-%d %H:%M:%S}Z" if watermark else ""

    return note


def _batch_progress() -> Any:
    """A listener that prints each finished micro-batch: query, batch, rows, rate, watermark.

    The stage's batch function (``foreachBatch``) returns before Spark posts the batch's
    progress, so the watermark noted by :func:`watermark_shown` is that batch's. On a terminal
    the line of a query is rewritten in place; elsewhere (a log file) each batch is a line of
    its own.
    """
    from pyspark.sql.streaming.listener import StreamingQueryListener

    tty = sys.stderr.isatty()

    class BatchProgress(StreamingQueryListener):
        def onQueryStarted(self, event: Any) -> None:
            pass

        def onQueryProgress(self, event: Any) -> None:
            p = event.progress
            seconds = (p.batchDuration or 0) / 1000
            line = (
                f"{p.name or 'query'}: batch {p.batchId}, {p.numInputRows:,} rows read in "
                f"{seconds:.1f}s ({p.numInputRows / max(seconds, 1e-3):,.0f} rows/s)"
            )
            if note := _BATCH_NOTES.get(p.name or ""):
                line += f", {note}"
            print(f"\r{line}\033[K" if tty else line, end="" if tty else "\n", file=sys.stderr,
                  flush=True)  # fmt: skip

        def onQueryIdle(self, event: Any) -> None:
            pass

        def onQueryTerminated(self, event: Any) -> None:
            if tty:
                print(file=sys.stderr)

    return BatchProgress()


def campaigns_in(folder: Path) -> list[Campaign]:
    """The campaigns of a folder; a bad file stops the command (exit 2) with every problem."""
    from reconnect.campaigns import CampaignError, load_campaigns

    try:
        return load_campaigns(folder)
    except CampaignError as e:
        raise UsageError(str(e)) from e
