"""One sender run's settings and the campaigns' sending rules, as plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconnect.campaigns import Campaign
from reconnect.send.decide import CampaignRules, priority_class, priority_ranks
from reconnect.settings import Settings
from reconnect.vocabulary import CAMPAIGN_TYPES


@dataclass(frozen=True)
class SendContext:
    """Settings and the campaigns' sending rules for one run."""

    settings: Settings
    campaigns: tuple[Campaign, ...]
    rules: dict[str, CampaignRules]
    classes: dict[str, str]  # campaign id -> its R-PRIO-1 priority class

    @classmethod
    def of(cls, settings: Settings, campaigns: Sequence[Campaign]) -> SendContext:
        """The context of every known campaign (a paused one's messages are suppressed)."""
        ranks = priority_ranks(campaigns, settings.sender)
        return cls(
            settings,
            tuple(campaigns),
            {c.id: CampaignRules.of(c, ranks[c.id]) for c in campaigns},
            {c.id: priority_class(c) for c in campaigns},
        )

    def active(self) -> set[str]:
        """Ids of the active campaigns."""
        return {c.id for c in self.campaigns if c.status == "active"}

    def carrying_products(self) -> set[str]:
        """Ids of the campaigns whose messages show products (R-REL-2)."""
        return {k for k, r in self.rules.items() if CAMPAIGN_TYPES[r.type].carries_products}
