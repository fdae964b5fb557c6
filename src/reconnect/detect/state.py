"""What detection remembers of one key between inputs, and its JSON form in silver.detect_state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Product = tuple[str, Decimal | None, Decimal | None]  # product_id, old price, drop %


@dataclass
class Journey:
    """An active journey: its remaining (not yet due) messages as ``[step, due, message_id]``."""

    id: str
    campaign: str
    variation: str
    time: int
    trigger: str
    cuid: str | None
    products: list[Product]
    remaining: list[list[Any]]
    first_due: int
    last_due: int

    def to_json(self) -> list[Any]:
        """A compact JSON-able form."""
        prods = [[p, dec(o), dec(d)] for p, o, d in self.products]
        return [self.id, self.campaign, self.variation, self.time, self.trigger, self.cuid,
                prods, self.remaining, self.first_due, self.last_due]  # fmt: skip

    @classmethod
    def from_json(cls, raw: list[Any]) -> Journey:
        """The inverse of :meth:`to_json`."""
        prods = [(p, undec(o), undec(d)) for p, o, d in raw[6]]
        return cls(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], prods, raw[7], raw[8], raw[9])


def dec(d: Decimal | None) -> str | None:
    """A decimal as JSON text (exact)."""
    return None if d is None else str(d)


def undec(s: str | None) -> Decimal | None:
    """The inverse of :func:`dec`."""
    return None if s is None else Decimal(s)


@dataclass
class UserState:
    """What detection remembers of one user between inputs (JSON in ``silver.detect_state``)."""

    cart: list[str] = field(default_factory=list)  # most recent first
    views: dict[str, list[str]] = field(default_factory=dict)  # campaign -> products this session
    watches: dict[str, list[Any]] = field(default_factory=dict)  # "kind|product" -> [at, price]
    drops: dict[str, list[list[Any]]] = field(default_factory=dict)  # campaign -> [[p, at, old, %]]
    last_purchase: int | None = None
    active: dict[str, Journey] = field(default_factory=dict)  # campaign id -> journey
    cuid: str | None = None  # the person the user is linked to (kept in its own state column)

    def is_empty(self) -> bool:
        """Nothing worth keeping."""
        return not (self.cart or self.views or self.watches or self.drops or self.active) and (
            self.last_purchase is None
        )

    def to_json(self) -> str:
        """Serialized for the state table."""
        return json.dumps(
            {
                "c": self.cart,
                "v": self.views,
                "w": self.watches,
                "d": self.drops,
                "p": self.last_purchase,
                "a": [j.to_json() for j in self.active.values()],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> UserState:
        """The inverse of :meth:`to_json`; a new state for None."""
        if not text:
            return cls()
        raw = json.loads(text)
        active = [Journey.from_json(j) for j in raw["a"]]
        return cls(
            raw["c"], raw["v"], raw["w"], raw["d"], raw["p"], {j.campaign: j for j in active}
        )

    def watched_products(self) -> list[str]:
        """Products on the watch list (for finding the users a product-feed change concerns)."""
        return sorted({k.split("|", 1)[1] for k in self.watches})

    def expires_at(self, last_input: int, ttl: int, max_window: int) -> int:
        """When the state can be forgotten: no input for ``ttl``, nothing pending, no watch."""
        ends = [last_input + ttl]
        ends += [j.last_due for j in self.active.values()]
        ends += [w[0] + max_window for w in self.watches.values()]
        return max(ends)
