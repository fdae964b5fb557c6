"""Simulated engagement with delivered messages: opens, clicks and post-click purchases.

Pure: one delivered message in, its engagement event lines out. Every draw comes from a random
stream seeded by the settings' seed and the message id, so a message's events do not depend on
which other messages are simulated with it or in what order: the same messages give the same
lines, batch by batch or all at once.

Per message, by channel:

- e-mail: opened with ``open``; an opened e-mail is clicked with ``click`` (click-to-open);
- SMS and push: clicked with ``click`` (no opens are tracked);
- a click is followed by a purchase with ``purchase``: the message's products (one each, at the
  price the message showed), else one basket of ``basket_value`` on average.

Rates can be set per campaign and per variation (``campaigns``), so that variations differ and a
winner can be found. Delays are log-normal around realistic medians; ``late_purchase_share`` of
purchases come 8 to 14 days after the click, behind the default attribution window.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from reconnect.lake.landing import format_ts
from reconnect.vocabulary import (
    APP_PUSH,
    EMAIL,
    MESSAGE_CLICK,
    MESSAGE_OPEN,
    PURCHASE,
    SMS,
    WEB_PUSH,
)


@dataclass(frozen=True)
class Rates:
    """Engagement probabilities; ``None`` keeps the value of the level above."""

    open: float | None = None
    click: float | None = None
    purchase: float | None = None

    def over(self, base: Rates) -> Rates:
        """These rates, with ``base``'s where these have none."""
        return Rates(*(getattr(self, f.name) if getattr(self, f.name) is not None
                       else getattr(base, f.name) for f in fields(self)))  # fmt: skip


#: The packaged rates (``reconnect generate engagement`` without ``--rates``).
DEFAULT_RATES_FILE = Path(str(resources.files("reconnect.generate") / "engagement.yaml"))

DEFAULT_RATES = Rates(open=0.30, click=0.15, purchase=0.12)
DEFAULT_CHANNEL_RATES: Mapping[str, Rates] = {
    SMS: Rates(click=0.08),
    WEB_PUSH: Rates(click=0.05),
    APP_PUSH: Rates(click=0.07),
}


@dataclass(frozen=True)
class EngagementConfig:
    """Every knob of the simulation; invalid values raise ``ValueError`` naming the field.

    ``campaigns``: campaign id -> variation id (or ``"*"`` for every variation) -> rates.
    """

    seed: int = 42
    rates: Rates = DEFAULT_RATES
    channels: Mapping[str, Rates] = field(default_factory=lambda: dict(DEFAULT_CHANNEL_RATES))
    campaigns: Mapping[str, Mapping[str, Rates]] = field(default_factory=dict)
    #: Median hours from send to open, from open (or send, without opens) to click, and from
    #: click to purchase.
    open_delay_hours: float = 3.0
    click_delay_hours: float = 0.1
    purchase_delay_hours: float = 2.0
    #: Share of purchases 8-14 days after the click (behind a 7-day attribution window).
    late_purchase_share: float = 0.05
    #: Mean revenue of a purchase after a message without products.
    basket_value: float = 45.0
    #: Currency of the purchases (the synthetic shop's); empty: none named.
    currency: str = "EUR"

    def __post_init__(self) -> None:
        named = [("rates", self.rates)]
        named += [(f"channels.{c}", r) for c, r in self.channels.items()]
        named += [(f"campaigns.{c}.{v}", r) for c, vs in self.campaigns.items()
                  for v, r in vs.items()]  # fmt: skip
        for name, rates in named:
            for f in fields(rates):
                value = getattr(rates, f.name)
                if value is not None and not (
                    isinstance(value, int | float) and 0.0 <= value <= 1.0
                ):
                    raise ValueError(f"{name}.{f.name}: expected a number between 0 and 1, "
                                     f"got {value!r}")  # fmt: skip
        if not 0.0 <= self.late_purchase_share <= 1.0:
            raise ValueError("late_purchase_share: expected a number between 0 and 1, "
                             f"got {self.late_purchase_share!r}")  # fmt: skip
        for name in ("open_delay_hours", "click_delay_hours", "purchase_delay_hours",
                     "basket_value"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)!r}")

    def rates_for(self, campaign_id: str, variation_id: str, channel: str) -> Rates:
        """The rates of one message: variation over campaign over channel over the defaults."""
        base = self.channels.get(channel, Rates()).over(self.rates)
        of_campaign = self.campaigns.get(campaign_id, {})
        return of_campaign.get(variation_id, Rates()).over(of_campaign.get("*", Rates()).over(base))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], seed: int | None = None) -> EngagementConfig:
        """A config from parsed YAML (the shape of the packaged ``engagement.yaml``)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a setting of the engagement simulation "
                             f"(expected one of {', '.join(sorted(known))})")  # fmt: skip
        values = dict(data)
        values["rates"] = _rates(values.get("rates", {}), "rates").over(DEFAULT_RATES)
        channels = {c: _rates(r, f"channels.{c}") for c, r in values.get("channels", {}).items()}
        values["channels"] = {**DEFAULT_CHANNEL_RATES, **channels}
        values["campaigns"] = {
            c: {v: _rates(r, f"campaigns.{c}.{v}") for v, r in (vs or {}).items()}
            for c, vs in (values.get("campaigns") or {}).items()
        }
        if seed is not None:
            values["seed"] = seed
        return cls(**values)


def _rates(data: Any, name: str) -> Rates:
    if not isinstance(data, Mapping):
        raise ValueError(f"{name}: expected a mapping of open / click / purchase, got {data!r}")
    unknown = sorted(set(data) - {"open", "click", "purchase"})
    if unknown:
        raise ValueError(f"{name}.{unknown[0]}: expected one of open, click, purchase")
    return Rates(**data)


@dataclass(frozen=True)
class Delivered:
    """One delivered message, as the simulation needs it (from ``gold.messages``)."""

    message_id: str
    campaign_id: str
    variation_id: str
    channel: str
    user_id: str | None
    cuid: str | None
    send_at: datetime
    payload: str | None


@dataclass
class EngagementCounts:
    """What a simulation wrote, by kind."""

    messages: int = 0
    opens: int = 0
    clicks: int = 0
    purchases: int = 0

    def add(self, other: EngagementCounts) -> None:
        """Add ``other``'s counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _rng(seed: int, message_id: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{message_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _delay(rng: random.Random, median_hours: float, sigma: float = 1.0) -> timedelta:
    seconds = median_hours * 3600 * math.exp(sigma * rng.gauss(0.0, 1.0))
    return timedelta(seconds=max(1, round(seconds)))


def _items(
    payload: str | None, rng: random.Random, basket: float
) -> tuple[list[dict[str, Any]], Decimal]:
    products = json.loads(payload).get("products", []) if payload else []
    items = [
        {"product_id": p["product_id"], "quantity": 1, "price": str(p["price"])}
        for p in products
        if p.get("product_id") and p.get("price") not in (None, "")
    ]
    if items:
        return items, sum((Decimal(i["price"]) for i in items), Decimal(0))
    revenue = Decimal(str(round(rng.expovariate(1 / basket) + 1, 2)))
    return [], revenue


def engagement_lines(m: Delivered, config: EngagementConfig) -> list[tuple[datetime, str]]:
    """The event lines of one message's engagement, each with its event time."""
    rng = _rng(config.seed, m.message_id)
    rates = config.rates_for(m.campaign_id, m.variation_id, m.channel)
    # A person without a user_id (reached by cuid) engages from a device of their own.
    who = {"user_id": m.user_id or f"dev-{(m.cuid or m.message_id)[:16]}"}
    if m.cuid:
        who["cuid"] = m.cuid
    out: list[tuple[datetime, str]] = []

    def event(kind: str, at: datetime, **more: Any) -> None:
        body = {"event_id": f"{m.message_id}-{kind}", "event_time": format_ts(at), **who,
                "event_type": kind, **more}  # fmt: skip
        out.append((at, json.dumps(body, separators=(",", ":"))))

    at = m.send_at
    if m.channel == EMAIL:
        if rng.random() >= (rates.open or 0.0):
            return out
        at += _delay(rng, config.open_delay_hours)
        event(MESSAGE_OPEN, at, message_id=m.message_id)
    if rng.random() >= (rates.click or 0.0):
        return out
    at += _delay(rng, config.click_delay_hours)
    event(MESSAGE_CLICK, at, message_id=m.message_id)
    if rng.random() >= (rates.purchase or 0.0):
        return out
    if rng.random() < config.late_purchase_share:
        at += timedelta(days=8) + timedelta(seconds=rng.randrange(6 * 86_400))
    else:
        at += _delay(rng, config.purchase_delay_hours, 1.2)
    items, revenue = _items(m.payload, rng, config.basket_value)
    more = {"currency": config.currency} if config.currency else {}
    event(PURCHASE, at, order_id=f"{m.message_id}-order", revenue=str(revenue), items=items, **more)
    return out


def counts_of(lines: list[tuple[datetime, str]]) -> EngagementCounts:
    """How many opens, clicks and purchases ``lines`` of one message hold."""
    kinds = [json.loads(line)["event_type"] for _, line in lines]
    return EngagementCounts(1, kinds.count(MESSAGE_OPEN), kinds.count(MESSAGE_CLICK),
                            kinds.count(PURCHASE))  # fmt: skip
