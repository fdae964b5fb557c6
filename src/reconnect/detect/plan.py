"""What detection needs of each active campaign, flattened for the per-user state machine.

A :class:`CampaignPlan` holds plain values only (microseconds, sets, tuples), so the state machine
runs in Spark's Python workers without pydantic and without reading YAML there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from reconnect.campaigns import (
    BUCKETS,
    Campaign,
    CustomCampaign,
    PriceDropCampaign,
    ProductAttributeChangeCampaign,
    ScheduledCampaign,
    SlotCampaign,
    WaitingCampaign,
)
from reconnect.detect.schedule import next_slot
from reconnect.micros import MICROS
from reconnect.vocabulary import CAMPAIGN_TYPES, CampaignType


@dataclass(frozen=True)
class StepPlan:
    """One step: number (1-based), name and its due offset from the previous step (micros)."""

    number: int
    name: str
    wait: int


@dataclass(frozen=True)
class VariationPlan:
    """One variation: its bucket range ``[start, end)`` of 10,000 (R-AB-1) and its steps."""

    id: str
    start: int
    end: int
    control: bool
    steps: tuple[StepPlan, ...]


@dataclass(frozen=True)
class CampaignPlan:
    """One active campaign as the state machine sees it."""

    index: int
    id: str
    type: str
    key_kind: str  # "user" (user_id) or "cuid": the type's ``keyed_by``
    cancel_all_others: bool
    exits: frozenset[str]  # the shorthands of "don't send if"; conditions come as flags
    variations: tuple[VariationPlan, ...]
    wait: int  # micros, for waiting types; 0 for slot types
    weekdays: tuple[int, ...] = ()
    hour: int = 10
    timezone: str = "UTC"
    interaction: str | None = None  # watching types: add_to_cart / product_view
    watch_window: int = 0
    min_drop_percent: Decimal | None = None
    min_drop_amount: Decimal | None = None

    @property
    def traits(self) -> CampaignType:
        """The campaign type's traits (:data:`reconnect.vocabulary.CAMPAIGN_TYPES`)."""
        return CAMPAIGN_TYPES[self.type]

    @property
    def waits_for_slot(self) -> bool:
        """Step 1 is due at the next schedule slot rather than after a wait."""
        return self.wait == 0

    def first_due(self, trigger_time: int) -> int:
        """Step 1's due time for a trigger at ``trigger_time`` (R-STEP-1, R-TRIG-3)."""
        if self.traits.first_due == "trigger":
            return trigger_time  # the trigger is the slot itself
        if self.waits_for_slot:
            return next_slot(trigger_time, self.weekdays, self.hour, ZoneInfo(self.timezone))
        return trigger_time + self.wait

    def variation_for(self, identity: str) -> VariationPlan:
        """The user's variation: a pure function of (campaign, identity) (R-AB-1)."""
        bucket = bucket_of(self.id, identity)
        for v in self.variations:
            if v.start <= bucket < v.end:
                return v
        return self.variations[-1]  # weights sum to 100: only reached through rounding


def bucket_of(campaign_id: str, identity: str) -> int:
    """The user's bucket in ``[0, 10000)`` for a campaign: SHA-256 of ``campaign|identity``."""
    digest = hashlib.sha256(f"{campaign_id}|{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def _micros(delta: timedelta) -> int:
    return round(delta.total_seconds() * MICROS)


def plan_campaign(index: int, campaign: Campaign) -> CampaignPlan:
    """The plan of one campaign (its position ``index`` in the active list)."""
    variations = []
    for (vid, start, end), v in zip(campaign.variation_buckets(), campaign.variations, strict=True):
        steps = tuple(
            StepPlan(i + 1, s.name, 0 if s.wait is None else _micros(s.wait))
            for i, s in enumerate(v.steps)
        )
        variations.append(VariationPlan(vid, start, end, v.control, steps))
    exits = frozenset(r for r in campaign.dont_send_if if isinstance(r, str))
    fields: dict[str, object] = {}
    if isinstance(campaign, WaitingCampaign):
        fields["wait"] = _micros(campaign.wait)
    else:
        fields["wait"] = 0
    if isinstance(campaign, SlotCampaign):
        fields.update(
            weekdays=campaign.schedule.weekday_numbers(),
            hour=campaign.schedule.hour,
        )
    if isinstance(campaign, ScheduledCampaign) and campaign.trigger.every is not None:
        fields.update(
            weekdays=campaign.trigger.every.weekday_numbers(), hour=campaign.trigger.every.hour
        )
    if isinstance(campaign, PriceDropCampaign | ProductAttributeChangeCampaign):
        fields.update(
            interaction=campaign.trigger.interaction,
            watch_window=_micros(campaign.watch_window),
        )
    if isinstance(campaign, PriceDropCampaign):
        fields.update(
            min_drop_percent=campaign.trigger.min_drop_percent,
            min_drop_amount=campaign.trigger.min_drop_amount,
        )
    return CampaignPlan(
        index=index,
        id=campaign.id,
        type=campaign.type,
        key_kind=CAMPAIGN_TYPES[campaign.type].keyed_by,
        cancel_all_others=isinstance(campaign, CustomCampaign) and campaign.cancel_all_others,
        exits=exits,
        variations=tuple(variations),
        timezone=campaign.timezone,
        **fields,  # type: ignore[arg-type]
    )


def active_campaigns(campaigns: Iterable[Campaign]) -> list[Campaign]:
    """The active campaigns in a stable order (by id): the index of each is its flag number."""
    return sorted((c for c in campaigns if c.status == "active"), key=lambda c: c.id)


def plan_campaigns(campaigns: Sequence[Campaign]) -> tuple[CampaignPlan, ...]:
    """Plans of the active campaigns, indexed in :func:`active_campaigns` order."""
    return tuple(plan_campaign(i, c) for i, c in enumerate(active_campaigns(campaigns)))


__all__ = [
    "CampaignPlan",
    "StepPlan",
    "VariationPlan",
    "active_campaigns",
    "bucket_of",
    "plan_campaign",
    "plan_campaigns",
]
