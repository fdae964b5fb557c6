"""Each campaign's A/B verdict (R-ATTR-3) from the variation statistics the dbt project builds.

Pure: rows of ``analytics.rpt_variation_stats`` (one per campaign and variation) in, rows of
``analytics.rpt_variation_winners`` out. What each primary metric compares:

- ``purchases_per_user``: allocated users who bought within the attribution window after their
  trigger, out of the allocated users. It is the in-window conversion, not click attribution,
  because it measures the control the same way: a control is sent nothing, so it can never
  have an attributed purchase.
- ``revenue_per_user``: the same users' in-window revenue (a user who did not buy adds 0), from
  its sum and sum of squares per user.
- ``ctr``: clicked sends out of sends. A control makes no sends, so it is left out.

The method is :func:`reconnect.analytics.winner.pick_winner`'s (docs/analytics.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from reconnect.analytics.winner import DEFAULT_THRESHOLD, Metric, VariationStats, pick_winner

WINNER_COLUMNS = ("campaign_id", "variation_id", "is_control", "metric", "method", "threshold",
                  "status", "winner", "reason", "trials", "observed", "posterior_mean", "ci_low",
                  "ci_high", "probability_best")  # fmt: skip


def _stats(metric: str, row: Mapping[str, Any]) -> VariationStats:
    users = int(row["users_allocated"] or 0)
    if metric == "ctr":
        conversions, trials = int(row["clicked_sends"] or 0), int(row["sends"] or 0)
    else:
        conversions, trials = int(row["converting_users"] or 0), users
    return VariationStats(
        variation_id=str(row["variation_id"]),
        is_control=bool(row["is_control"]),
        users=users,
        conversions=conversions,
        trials=trials,
        revenue_sum=float(row["revenue_sum"] or 0),
        revenue_sum_squares=float(row["revenue_sum_squares"] or 0),
    )


def verdict_rows(
    stats: Iterable[Mapping[str, Any]], threshold: float = DEFAULT_THRESHOLD
) -> list[dict[str, Any]]:
    """One row per campaign and compared variation: its probability to be best and the verdict."""
    by_campaign: dict[str, list[Mapping[str, Any]]] = {}
    for row in stats:
        by_campaign.setdefault(str(row["campaign_id"]), []).append(row)
    out: list[dict[str, Any]] = []
    for campaign_id, rows in sorted(by_campaign.items()):
        metric = str(rows[0]["primary_metric"])
        compared = [r for r in rows if not (metric == "ctr" and r["is_control"])]
        if not compared:
            continue
        arms = [_stats(metric, r) for r in sorted(compared, key=lambda r: str(r["variation_id"]))]
        verdict = pick_winner(cast(Metric, metric), arms, threshold)
        for result in verdict.variations:
            out.append({
                "campaign_id": campaign_id, "variation_id": result.variation_id,
                "is_control": result.is_control, "metric": verdict.metric,
                "method": verdict.method, "threshold": verdict.threshold,
                "status": verdict.status, "winner": verdict.winner, "reason": verdict.reason,
                "trials": result.trials, "observed": result.observed,
                "posterior_mean": result.posterior_mean, "ci_low": result.ci_low,
                "ci_high": result.ci_high, "probability_best": result.probability_best,
            })  # fmt: skip
    return out
