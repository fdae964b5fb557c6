"""One attribution run's settings and the campaigns' attribution windows, as plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from reconnect.campaigns import Campaign
from reconnect.settings import Settings


def _us(window: timedelta) -> int:
    return int(window.total_seconds() * 1_000_000)


@dataclass(frozen=True)
class AttributeContext:
    """Settings and, per campaign, its attribution window (R-ATTR-1) in microseconds.

    ``default_us``: the window of a message whose campaign is no longer configured (the
    campaigns' default, 7 days). ``longest_us``: the longest of them all, how far after a click
    a purchase can still be credited to it.
    """

    settings: Settings
    windows: dict[str, int]
    default_us: int

    @classmethod
    def of(cls, settings: Settings, campaigns: Sequence[Campaign]) -> AttributeContext:
        """The context of every configured campaign."""
        default = Campaign.model_fields["attribution_window"].default
        return cls(settings, {c.id: _us(c.attribution_window) for c in campaigns}, _us(default))

    @property
    def longest_us(self) -> int:
        """The longest attribution window, in microseconds."""
        return max([self.default_us, *self.windows.values()])
