"""What detection has done, counted over its tables (for the CLI and the demo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass
class DetectSummary:
    """What detection has done, for the CLI and the demo."""

    batches: int = 0
    events_applied: int = 0
    late_events: int = 0
    watermark: datetime | None = None
    journeys_by_type: dict[str, int] = field(default_factory=dict)
    messages_by_state: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """Lines for the terminal."""
        lines = [
            f"detect: {self.batches} micro-batch(es), {self.events_applied:,} events applied, "
            f"{self.late_events:,} late; watermark {self.watermark:%Y-%m-%d %H:%M:%S}Z"
            if self.watermark
            else f"detect: {self.batches} micro-batch(es), no events yet"
        ]
        lines.append("  journeys started by campaign type:")
        for t, n in sorted(self.journeys_by_type.items()):
            lines.append(f"    {t:<26} {n:>9,}")
        lines.append("  messages by state:")
        for s, n in sorted(self.messages_by_state.items()):
            lines.append(f"    {s:<26} {n:>9,}")
        return "\n".join(lines)


def summarize_tables(
    progress: DataFrame, journeys: DataFrame, messages: DataFrame
) -> DetectSummary:
    """Counts over silver.detect_progress, silver.journeys and gold.step_eligibility."""
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
    )
