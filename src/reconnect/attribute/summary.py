"""What attribution has done, counted over its tables (for the CLI and the demo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reconnect.vocabulary import LAST_CLICK, PER_CAMPAIGN

_RUN_COUNTS = ("events_read", "opens", "clicks", "quarantined", "purchases_read",
               "purchases_scored")  # fmt: skip


@dataclass
class AttributeSummary:
    """The run's counts (``run``) and the credited purchases and revenue by view, in total."""

    batches: int = 0
    run: dict[str, int] = field(default_factory=dict)
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    purchases: dict[str, int] = field(default_factory=dict)  # view -> purchases credited
    revenue: dict[str, Decimal] = field(default_factory=dict)  # view -> revenue credited

    def describe(self) -> str:
        """Lines for the terminal; events read = opens + clicks + quarantined + other events."""
        r = {k: self.run.get(k, 0) for k in _RUN_COUNTS}
        other = r["events_read"] - r["opens"] - r["clicks"] - r["quarantined"]
        lines = [
            f"attribute: {self.batches} micro-batch(es) this run",
            f"  events read: {r['events_read']:,} = {r['opens']:,} opens + {r['clicks']:,} "
            f"clicks accepted + {r['quarantined']:,} quarantined + {other:,} other events",
            f"  purchases: {r['purchases_read']:,} read, {r['purchases_scored']:,} credited "
            "afresh (this run's and those after its clicks)",
        ]
        lines += [
            f"  quarantined {reason:<22} {n:>9,} (silver.engagement_quarantine)"
            for reason, n in sorted(self.quarantined_by_reason.items())
        ]
        for view in (LAST_CLICK, PER_CAMPAIGN):
            lines.append(
                f"  attributed, {view:<13} {self.purchases.get(view, 0):>9,} purchases, "
                f"revenue {self.revenue.get(view, Decimal(0)):,.2f}"
            )
        return "\n".join(lines)


def summarize_tables(
    progress: DataFrame, quarantine: DataFrame, credited: DataFrame, since_batch: int
) -> AttributeSummary:
    """The summary of the batches after ``since_batch`` and of the tables in total."""
    run = progress.where(F.col("batch_id") > since_batch)
    agg = run.agg(F.count("*").alias("batches"), *(F.sum(c).alias(c) for c in _RUN_COUNTS))
    row = agg.first()
    assert row is not None
    views = credited.groupBy("attribution").agg(
        F.countDistinct("purchase_event_id").alias("n"), F.sum("revenue").alias("revenue")
    )
    by_view = {v["attribution"]: v for v in views.collect()}
    return AttributeSummary(
        batches=int(row["batches"]),
        run={c: int(row[c] or 0) for c in _RUN_COUNTS},
        quarantined_by_reason={
            q["reason"]: int(q["count"]) for q in quarantine.groupBy("reason").count().collect()
        },
        purchases={v: int(r["n"]) for v, r in by_view.items()},
        revenue={v: r["revenue"] or Decimal(0) for v, r in by_view.items()},
    )
