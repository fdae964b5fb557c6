"""What the sender has done, counted over the sending tables (for the CLI and the demo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reconnect.vocabulary import SENT


@dataclass
class SendSummary:
    """What the sender has done, for the CLI and the demo."""

    batches: int = 0
    horizon: datetime | None = None
    sends_by_channel: dict[str, int] = field(default_factory=dict)
    by_state_reason: dict[tuple[str, str], int] = field(default_factory=dict)
    deliveries_by_status: dict[str, int] = field(default_factory=dict)
    late_cancels: int = 0
    run_batches: int = 0  # this run's micro-batches
    run_settled: int = 0  # messages this run settled
    from_detection: int = 0  # gold.step_eligibility rows
    waiting: int = 0  # of them, not settled yet: due at or after the horizon

    def describe(self) -> str:
        """Lines for the terminal."""
        head = (
            f"send: {self.run_batches} micro-batch(es) this run, {self.run_settled:,} messages "
            f"settled; settled up to {self.horizon:%Y-%m-%d %H:%M:%S}Z"
            if self.horizon
            else f"send: {self.run_batches} micro-batch(es) this run, nothing due yet"
        )
        settled = sum(self.by_state_reason.values())
        lines = [
            head,
            f"  messages from detection: {self.from_detection:,} = {settled:,} settled + "
            f"{self.waiting:,} due after the watermark (settled by a later run)",
            "  sends by channel:",
        ]
        lines += [f"    {c:<26} {n:>9,}" for c, n in sorted(self.sends_by_channel.items())]
        lines.append("  messages not sent, by state and reason:")
        lines += [
            f"    {s + ' ' + r:<40} {n:>9,}"
            for (s, r), n in sorted(self.by_state_reason.items())
            if s != SENT
        ]
        lines.append("  delivery attempts by status:")
        lines += [f"    {s:<26} {n:>9,}" for s, n in sorted(self.deliveries_by_status.items())]
        lines.append(f"  late cancels (R-EXIT-3): {self.late_cancels:,}")
        return "\n".join(lines)


def summarize_tables(
    progress: DataFrame,
    messages: DataFrame,
    deliveries: DataFrame,
    late_cancels: DataFrame,
    eligibility: DataFrame | None = None,
    since_batch: int = -1,
) -> SendSummary:
    """Counts over silver.send_progress, gold.messages, gold.deliveries and gold.late_cancels.

    The run is the progress rows after ``since_batch``. Every gold.messages row is a settled
    gold.step_eligibility row (``eligibility``), so the rest of those are still waiting.
    """
    summary = SendSummary()
    run = F.col("batch_id") > since_batch
    top = progress.agg(
        F.count("*").alias("n"),
        F.max("horizon").alias("h"),
        F.count_if(run).alias("rn"),
        F.sum(F.when(run, F.col("messages"))).alias("rs"),
    ).first()
    if top is not None:
        summary.batches, summary.horizon = int(top["n"]), top["h"]
        summary.run_batches, summary.run_settled = int(top["rn"]), int(top["rs"] or 0)
    for r in messages.groupBy("state", "reason", "channel").count().collect():
        key = (r["state"], r["reason"] or "")
        summary.by_state_reason[key] = summary.by_state_reason.get(key, 0) + int(r["count"])
        if r["state"] == SENT:
            channel = r["channel"]
            summary.sends_by_channel[channel] = summary.sends_by_channel.get(channel, 0) + int(
                r["count"]
            )
    summary.deliveries_by_status = {
        r["status"]: int(r["count"]) for r in deliveries.groupBy("status").count().collect()
    }
    summary.late_cancels = late_cancels.count()
    if eligibility is not None:
        summary.from_detection = eligibility.count()
        summary.waiting = summary.from_detection - sum(summary.by_state_reason.values())
    return summary
