"""Settings of the synthetic shop and the summary of one generation run.

Defaults follow public e-commerce figures so that campaigns fire at realistic rates:

* add-to-cart in about 8 % of sessions and a conversion rate near 2.8 % (Littledata, Contentsquare
  and Statista benchmarks put add-to-cart rates at 6-10 % and conversion at 2-3 %), which means
  about 35 % of carting sessions buy (Baymard Institute's average cart abandonment is ~70 %);
* about 40 % bounce sessions and ~4 product views in a session that does not bounce
  (Contentsquare's e-commerce benchmark: ~45 % bounce, ~5 pages per session);
* about 30 % of visitors log in or register, half of those accept e-mail marketing, a smaller share
  gives an SMS opt-in; web-push prompts are accepted by a few per cent of visitors;
* a catalogue where a few per cent of products change price per daily feed, half of those by a
  real markdown of 10-40 %, and ~5 % of products are out of stock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

MALFORMED_KINDS: tuple[str, ...] = (
    "not_json",
    "missing_field",
    "bad_timestamp",
    "unknown_event_type",
    "wrong_type",
    "negative_quantity",
)
"""The kinds of bad event lines the generator writes (keys of ``GenerationSummary.malformed``)."""

MIN_PRODUCTS = 10
"""Fewest products a shop may have; carts of up to 8 distinct products must be possible."""

# Fields that are probabilities; each must lie in [0, 1].
_RATIO_FIELDS: frozenset[str] = frozenset(
    {
        "bounce_ratio",
        "cart_session_ratio",
        "purchase_given_cart",
        "remove_given_cart",
        "sync_cart_ratio",
        "category_view_ratio",
        "message_click_ratio",
        "message_open_ratio",
        "open_only_ratio",
        "identify_ratio",
        "phone_ratio",
        "opt_in_email",
        "opt_in_sms",
        "opt_in_web_push",
        "opt_in_app_push",
        "opt_out_email",
        "opt_out_sms",
        "opt_out_web_push",
        "opt_out_app_push",
        "custom_event_ratio",
        "store_visit_ratio",
        "malformed_ratio",
        "duplicate_ratio",
        "price_drop_ratio",
        "big_drop_share",
        "price_rise_ratio",
        "initial_out_of_stock_ratio",
        "out_of_stock_ratio",
        "back_in_stock_ratio",
        "stock_update_ratio",
        "description_change_ratio",
        "color_change_ratio",
        "tier_change_ratio",
        "attribute_removal_ratio",
        "subscriber_join_ratio",
        "subscriber_leave_ratio",
    }
)


class _Invalid(ValueError):
    """A config value that cannot be used; the message names the field and what was expected."""

    def __init__(self, field: str, expected: str, value: object) -> None:
        super().__init__(f"GeneratorConfig.{field}: expected {expected}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that shapes one synthetic shop; the same config always gives the same files.

    Ratios are probabilities in [0, 1]. "Per sync" ratios apply to each product or identified user
    at each daily feed sync. Invalid values raise ``ValueError`` naming the field.
    """

    #: Seed of every random stream; the only source of variation between runs.
    seed: int = 42
    #: Exact number of event lines written, malformed lines and duplicates included.
    events: int = 1_000_000
    #: Simulated users; default ``events // 40`` (at least 50): ~6 sessions per user a month.
    users: int | None = None
    #: Catalogue size; default ``max(50, users // 20)``.
    products: int | None = None
    #: First day of the simulation (UTC midnight); the first feed sync is at this instant.
    start: date = date(2026, 1, 1)
    #: Days simulated; one feed sync per day boundary, ``days + 1`` syncs in all.
    days: int = 30
    #: Event lines per ``events/part-NNNNN.jsonl`` file.
    events_per_file: int = 500_000

    #: Share of sessions that end after their entry event (carting sessions never bounce).
    bounce_ratio: float = 0.40
    #: Share of sessions with at least one add to cart.
    cart_session_ratio: float = 0.08
    #: Share of carting sessions that end in a purchase.
    purchase_given_cart: float = 0.35
    #: Share of carting sessions that remove a product from the cart.
    remove_given_cart: float = 0.25
    #: Share of carting sessions that send a ``sync_cart`` (cart page, app sync).
    sync_cart_ratio: float = 0.30
    #: Share of product views reached through a category page (a ``category_view`` first).
    category_view_ratio: float = 0.35
    #: Mean product views in a session that does not bounce (geometric, at least 1).
    views_per_session_mean: float = 4.0
    #: Mean distinct products added in a carting session (geometric, 1 to 8).
    adds_per_cart_session_mean: float = 1.5
    #: Share of sessions that start with a ``message_click``.
    message_click_ratio: float = 0.05
    #: Share of message clicks preceded by a ``message_open`` of the same message.
    message_open_ratio: float = 0.60
    #: Share of visits by identified users that are only a ``message_open`` (no session).
    open_only_ratio: float = 0.05
    #: Share of users who identify (``identify`` with a cuid) in their first session.
    identify_ratio: float = 0.30
    #: Share of users with a mobile phone number on file.
    phone_ratio: float = 0.70
    #: Share of identifying users who opt in to e-mail when they identify.
    opt_in_email: float = 0.50
    #: Share of identifying users with a phone who opt in to SMS when they identify.
    opt_in_sms: float = 0.15
    #: Share of users who accept web push on their first visit.
    opt_in_web_push: float = 0.06
    #: Share of users who accept app push on their first visit.
    opt_in_app_push: float = 0.10
    #: Chance that a session of a user opted in to e-mail contains an e-mail ``opt_out``.
    opt_out_email: float = 0.01
    #: Chance that a session of a user opted in to SMS contains an SMS ``opt_out``.
    opt_out_sms: float = 0.01
    #: Chance that a session of a user opted in to web push contains a web-push ``opt_out``.
    opt_out_web_push: float = 0.02
    #: Chance that a session of a user opted in to app push contains an app-push ``opt_out``.
    opt_out_app_push: float = 0.01
    #: Share of non-bounce sessions with a ``custom`` event (wishlist_add, search, ...).
    custom_event_ratio: float = 0.10
    #: Share of visits by identified users that are an offline ``store_visit`` custom event.
    store_visit_ratio: float = 0.02
    #: Share of all lines that are malformed (six kinds in equal parts).
    malformed_ratio: float = 0.02
    #: Share of all lines that are exact copies of a recent valid line.
    duplicate_ratio: float = 0.01

    #: Share of products whose price drops at a sync.
    price_drop_ratio: float = 0.03
    #: Share of those drops that are markdowns of 10-40 % (the rest drop by 1-9 %).
    big_drop_share: float = 0.50
    #: Share of products whose price rises by 5-25 % at a sync.
    price_rise_ratio: float = 0.02
    #: Share of products out of stock in the first snapshot.
    initial_out_of_stock_ratio: float = 0.05
    #: Share of in-stock products that sell out at a sync.
    out_of_stock_ratio: float = 0.01
    #: Share of out-of-stock products restocked at a sync ("back in stock").
    back_in_stock_ratio: float = 0.20
    #: Share of in-stock products whose stock count moves at a sync.
    stock_update_ratio: float = 0.30
    #: Share of products whose name gets a new edition at a sync.
    description_change_ratio: float = 0.005
    #: Share of products whose ``color`` attribute changes at a sync.
    color_change_ratio: float = 0.002

    #: Share of identified users whose loyalty tier moves one step at a user-feed sync.
    tier_change_ratio: float = 0.01
    #: Share of identified users whose loyalty tier is deleted (empty from then on) at a sync.
    attribute_removal_ratio: float = 0.002
    #: Share of identified, unsubscribed users added to a subscriber list at a sync.
    subscriber_join_ratio: float = 0.005
    #: Share of subscribed users removed from a subscriber list at a sync.
    subscriber_leave_ratio: float = 0.005

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in _RATIO_FIELDS:
                value = getattr(self, f.name)
                if not _is_number(value) or not 0.0 <= value <= 1.0:
                    raise _Invalid(f.name, "a number between 0 and 1", value)
        self._check_sizes()
        self._check_shapes()

    def _check_sizes(self) -> None:
        if not _is_int(self.seed):
            raise _Invalid("seed", "an integer", self.seed)
        if not _is_int(self.events) or self.events < 1:
            raise _Invalid("events", "an integer >= 1", self.events)
        if self.users is not None and (not _is_int(self.users) or self.users < 1):
            raise _Invalid("users", "None or an integer >= 1", self.users)
        if self.products is not None and (
            not _is_int(self.products) or self.products < MIN_PRODUCTS
        ):
            raise _Invalid("products", f"None or an integer >= {MIN_PRODUCTS}", self.products)
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise _Invalid("start", "a datetime.date (a day, not a datetime)", self.start)
        if not _is_int(self.days) or not 1 <= self.days <= 3660:
            raise _Invalid("days", "an integer from 1 to 3660", self.days)
        if not _is_int(self.events_per_file) or self.events_per_file < 1:
            raise _Invalid("events_per_file", "an integer >= 1", self.events_per_file)

    def _check_shapes(self) -> None:
        if not _is_number(self.views_per_session_mean) or not (
            1.0 <= self.views_per_session_mean <= 100.0
        ):
            raise _Invalid(
                "views_per_session_mean", "a number from 1 to 100", self.views_per_session_mean
            )
        if not _is_number(self.adds_per_cart_session_mean) or not (
            1.0 <= self.adds_per_cart_session_mean <= 8.0
        ):
            raise _Invalid(
                "adds_per_cart_session_mean",
                "a number from 1 to 8",
                self.adds_per_cart_session_mean,
            )
        if self.bounce_ratio + self.cart_session_ratio > 1.0:
            raise _Invalid(
                "bounce_ratio", "bounce_ratio + cart_session_ratio <= 1", self.bounce_ratio
            )
        if self.malformed_ratio + self.duplicate_ratio > 0.5:
            raise _Invalid(
                "malformed_ratio", "malformed_ratio + duplicate_ratio <= 0.5", self.malformed_ratio
            )
        if self.price_drop_ratio + self.price_rise_ratio > 1.0:
            raise _Invalid(
                "price_drop_ratio",
                "price_drop_ratio + price_rise_ratio <= 1",
                self.price_drop_ratio,
            )
        if self.store_visit_ratio + self.open_only_ratio > 1.0:
            raise _Invalid(
                "store_visit_ratio",
                "store_visit_ratio + open_only_ratio <= 1",
                self.store_visit_ratio,
            )
        if self.tier_change_ratio + self.attribute_removal_ratio > 1.0:
            raise _Invalid(
                "tier_change_ratio",
                "tier_change_ratio + attribute_removal_ratio <= 1",
                self.tier_change_ratio,
            )

    @property
    def user_count(self) -> int:
        """Number of simulated users: ``users`` or the default derived from ``events``."""
        return self.users if self.users is not None else max(50, self.events // 40)

    @property
    def product_count(self) -> int:
        """Number of products: ``products`` or the default derived from the user count."""
        if self.products is not None:
            return self.products
        return max(50, self.user_count // 20)


@dataclass(frozen=True)
class GenerationSummary:
    """What one run wrote; ``lines == valid_events + duplicates + sum(malformed.values())``."""

    #: Event lines written, all files together.
    lines: int
    #: Distinct valid events (first occurrences).
    valid_events: int
    #: Lines that are exact copies of an earlier valid line.
    duplicates: int
    #: Malformed lines by kind; keys are exactly ``MALFORMED_KINDS``.
    malformed: dict[str, int]
    #: Event files written (``events/part-NNNNN.jsonl``).
    event_files: int
    #: Product-feed snapshots written (one per sync).
    product_syncs: int
    #: User-feed snapshots written (one per sync).
    user_syncs: int
    #: Subscriber-list snapshots written (one per channel per sync: e-mail and SMS).
    subscriber_syncs: int
    #: Size of the simulated user population (not every user needs to show up).
    users: int
    #: Size of the catalogue.
    products: int
