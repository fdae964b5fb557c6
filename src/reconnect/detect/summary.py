"""What detection has done, counted over its tables (for the CLI and the demo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class RunCounts:
    """One run's events, which add up: ``buffered_before + read = applied + late + buffered_after``.

    ``buffered``: events ahead of the watermark, kept for a later batch; ``late``: events already
    behind it when read (recorded in silver.late_events, never applied, R-EXIT-2).
    """

    batches: int
    buffered_before: int
    read: int
    applied: int
    late: int
    buffered_after: int

    def line(self) -> str:
        """The run's events as one equation."""
        return (
            f"  events this run: {self.buffered_before:,} buffered before + {self.read:,} read = "
            f"{self.applied:,} applied + {self.late:,} late (not applied) + "
            f"{self.buffered_after:,} buffered (ahead of the watermark)"
        )


@dataclass
class DetectSummary:
    """What detection has done, for the CLI and the demo; ``run``: this run's part of it."""

    batches: int = 0
    events_applied: int = 0
    late_events: int = 0
    watermark: datetime | None = None
    journeys_by_type: dict[str, int] = field(default_factory=dict)
    messages_by_state: dict[str, int] = field(default_factory=dict)
    run: RunCounts | None = None

    def describe(self) -> str:
        """Lines for the terminal."""
        batches = self.run.batches if self.run else self.batches
        lines = [
            f"detect: {batches} micro-batch(es) this run; watermark "
            f"{self.watermark:%Y-%m-%d %H:%M:%S}Z"
            if self.watermark
            else f"detect: {batches} micro-batch(es) this run, no events yet"
        ]
        if self.run is not None:
            lines.append(self.run.line())
        lines.append("  journeys in the table, by campaign type:")
        for t, n in sorted(self.journeys_by_type.items()):
            lines.append(f"    {t:<26} {n:>9,}")
        lines.append("  messages in the table, by state:")
        for s, n in sorted(self.messages_by_state.items()):
            lines.append(f"    {s:<26} {n:>9,}")
        return "\n".join(lines)


def summarize_tables(
    progress: DataFrame,
    journeys: DataFrame,
    messages: DataFrame,
    since_batch: int = -1,
    buffered: tuple[int, int] = (0, 0),
) -> DetectSummary:
    """Counts over silver.detect_progress, silver.journeys and gold.step_eligibility.

    The run is the progress rows after ``since_batch``; ``buffered``: the buffer's size before
    and after it.
    """
    run = (
        progress.where(F.col("batch_id") > since_batch)
        .agg(
            F.count("*").alias("b"),
            F.sum("events_read").alias("r"),
            F.sum("events_applied").alias("a"),
            F.sum("late_events").alias("l"),
        )
        .first()
    )
    assert run is not None
    agg = progress.agg(
        F.count("*").alias("b"),
        F.sum("events_applied").alias("e"),
        F.sum("late_events").alias("l"),
        F.max("watermark").alias("w"),
    ).first()
    assert agg is not None
    return DetectSummary(
        batches=int(agg["b"] or 0),
        events_applied=int(agg["e"] or 0),
        late_events=int(agg["l"] or 0),
        watermark=agg["w"],
        journeys_by_type={
            r["campaign_type"]: int(r["count"])
            for r in journeys.groupBy("campaign_type").count().collect()
        },
        messages_by_state={
            r["state"]: int(r["count"]) for r in messages.groupBy("state").count().collect()
        },
        run=RunCounts(
            int(run["b"]), buffered[0], int(run["r"] or 0), int(run["a"] or 0),
            int(run["l"] or 0), buffered[1],
        ),
    )  # fmt: skip
