"""One detection run's settings, active campaigns and their plans, as plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconnect.campaigns import Campaign
from reconnect.detect.plan import CampaignPlan, active_campaigns, plan_campaigns
from reconnect.settings import Settings


@dataclass(frozen=True)
class DetectContext:
    """What every micro-batch needs: settings, the active campaigns and their plans."""

    settings: Settings
    campaigns: tuple[Campaign, ...]
    plans: tuple[CampaignPlan, ...]

    @classmethod
    def of(cls, settings: Settings, campaigns: Sequence[Campaign]) -> DetectContext:
        """The context of the active ``campaigns``."""
        active = tuple(active_campaigns(campaigns))
        return cls(settings, active, plan_campaigns(active))
