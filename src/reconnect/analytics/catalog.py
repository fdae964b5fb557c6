"""The campaign catalog: today's campaign definitions as rows of three tables (pure).

``gold.campaigns``, ``gold.campaign_variations`` and ``gold.campaign_steps`` (DDL:
``reconnect/lake/migrations/V008__campaign_catalog.sql``) let SQL join the campaign files: the
dbt project's ``dim_campaigns``, ``dim_campaign_variations`` and ``dim_campaign_steps`` read
them. Durations are whole seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from reconnect.campaigns import Campaign

Row = dict[str, Any]


@dataclass(frozen=True)
class CatalogRows:
    """The rows of the three catalog tables, in campaign, variation and step order."""

    campaigns: list[Row]
    variations: list[Row]
    steps: list[Row]


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def catalog_rows(campaigns: list[Campaign]) -> CatalogRows:
    """One row per campaign, per variation and per step of ``campaigns`` (by campaign id)."""
    out = CatalogRows([], [], [])
    for c in sorted(campaigns, key=lambda c: c.id):
        out.campaigns.append(
            {
                "campaign_id": c.id,
                "campaign_type": c.type,
                "name": c.name,
                "status": c.status,
                "priority": c.priority,
                "timezone": c.timezone,
                "channels": list(c.channels),
                "caps": [
                    {
                        "channel": channel,
                        "count": cap.count,
                        "window_seconds": _seconds(cap.window),
                    }
                    for channel, cap in sorted(c.caps.items())
                ],
                "primary_metric": c.primary_metric,
                "attribution_window_seconds": _seconds(c.attribution_window),
                "wait_seconds": _seconds(getattr(c, "wait", None)),
                "watch_window_seconds": _seconds(getattr(c, "watch_window", None)),
                "cancel_all_others": bool(getattr(c, "cancel_all_others", False)),
                "variations": len(c.variations),
            }
        )
        buckets = {vid: (start, end) for vid, start, end in c.variation_buckets()}
        for number, v in enumerate(c.variations, 1):
            out.variations.append(
                {
                    "campaign_id": c.id,
                    "variation_id": v.id,
                    "variation_number": number,
                    "is_control": v.control,
                    "weight": v.weight,
                    "bucket_start": buckets[v.id][0],
                    "bucket_end": buckets[v.id][1],
                    "steps": len(v.steps),
                }
            )
            offset = 0
            for step_number, step in enumerate(v.steps, 1):
                wait = _seconds(step.wait) if step_number > 1 else None
                offset += wait or 0
                out.steps.append(
                    {
                        "campaign_id": c.id,
                        "variation_id": v.id,
                        "is_control": v.control,
                        "step_number": step_number,
                        "step_name": step.name,
                        "channels": [ch for ch in c.channels if ch in step.templates],
                        "wait_seconds": wait,
                        "offset_seconds": offset,
                    }
                )
    return out
