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

    def describe(self) -> str:
        """Lines for the terminal."""
        head = (
            f"send: {self.batches} micro-batch(es), settled up to {self.horizon:%Y-%m-%d %H:%M:%S}Z"
            if self.horizon
            else f"send: {self.batches} micro-batch(es), nothing due yet"
        )
        lines = [head, "  sends by channel:"]
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
    progress: DataFrame, messages: DataFrame, deliveries: DataFrame, late_cancels: DataFrame
) -> SendSummary:
    """Counts over silver.send_progress, gold.messages, gold.deliveries and gold.late_cancels."""
    summary = SendSummary()
    top = progress.agg(F.count("*").alias("n"), F.max("horizon").alias("h")).first()
    if top is not None:
        summary.batches, summary.horizon = int(top["n"]), top["h"]
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
    return summary
