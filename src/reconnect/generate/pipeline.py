"""``reconnect generate engagement``: simulated engagement with what the providers received.

Reads the delivered messages from the lake (``gold.messages`` and ``gold.deliveries``) and
writes one events file per send batch that has none yet, so running it after every send adds
the new batches' engagement and nothing twice. ``reconnect ingest`` then picks the files up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from reconnect.generate.delivered import DELIVERED_COLUMNS, delivered
from reconnect.generate.engagement import Delivered, EngagementConfig, EngagementCounts
from reconnect.generate.shop import engagement_file, write_engagement
from reconnect.lake.landing import events_dir
from reconnect.lake.migrations import ensure_tables
from reconnect.lake.reads import table
from reconnect.lake.tables import GOLD_DELIVERIES, GOLD_MESSAGES
from reconnect.micros import from_micros
from reconnect.settings import Settings


@dataclass
class EngagementSummary:
    """The send batches simulated this run (and those skipped as done) and what they hold."""

    written: list[int] = field(default_factory=list)
    already_done: list[int] = field(default_factory=list)
    counts: EngagementCounts = field(default_factory=EngagementCounts)

    def describe(self, landing: Path) -> str:
        """Lines for the terminal."""
        c = self.counts
        if not self.written and not self.already_done:
            return "generate engagement: no delivered messages in gold.messages yet (run send)"
        return "\n".join([
            f"generate engagement: {len(self.written)} send batch(es) simulated, "
            f"{len(self.already_done)} already done (their files exist)",
            f"  {c.messages:,} delivered messages -> {c.opens:,} opens, {c.clicks:,} clicks, "
            f"{c.purchases:,} purchases after a click, in {events_dir(landing)}",
        ])  # fmt: skip


def simulate_engagement(
    spark: SparkSession, settings: Settings, config: EngagementConfig, landing: Path
) -> EngagementSummary:
    """Write the engagement of every send batch that has no engagement file yet."""
    ensure_tables(spark, settings)
    rows = delivered(table(spark, settings, GOLD_MESSAGES), table(spark, settings, GOLD_DELIVERIES))
    batches = sorted(r[0] for r in rows.select("send_batch").distinct().collect())
    summary = EngagementSummary()
    todo: list[int] = []
    for b in batches:
        (summary.already_done if engagement_file(landing, b).exists() else todo).append(b)
    if not todo:
        return summary
    by_batch: dict[int, list[Delivered]] = {b: [] for b in todo}
    for r in rows.where(F.col("send_batch").isin(todo)).toLocalIterator():
        values = {c: r[c] for c in DELIVERED_COLUMNS}
        values["send_at"] = from_micros(values.pop("send_us"))
        by_batch[r["send_batch"]].append(Delivered(**values))
    for b in todo:
        summary.counts.add(write_engagement(landing, b, by_batch[b], config))
        summary.written.append(b)
    return summary
