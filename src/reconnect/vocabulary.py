"""The product's vocabulary, defined once: channels, event types, states, reason codes, types.

Campaign types come with their traits (spec/RULES.md, spec/DATA.md).

Every stage reads these names from here; a new channel, event type, reason code or campaign type
starts here (docs/extending.md). Plain values only: this module imports nothing of Reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

# --- channels and events (DATA.md, R-CHAN-1) ---------------------------------------------------

CHANNELS: tuple[str, ...] = ("email", "sms", "web_push", "app_push")
EMAIL, SMS, WEB_PUSH, APP_PUSH = CHANNELS

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "category_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "sync_cart",
    "purchase",
    "message_click",
    "message_open",
    "identify",
    "opt_in",
    "opt_out",
    "custom",
)

# Event types that change a user's cart (the machine keeps the cart from them).
CART_EVENT_TYPES: tuple[str, ...] = ("add_to_cart", "remove_from_cart", "sync_cart", "purchase")


# --- quarantine (docs/ingest.md) ----------------------------------------------------------------


class QuarantineReason(StrEnum):
    """Why an input line was not accepted (``bronze.quarantine.reason``).

    ``field`` and ``detail`` say more. Documented for users in ``docs/ingest.md``; a new reason
    is added in both places.
    """

    NOT_JSON = "NOT_JSON"
    """The line is not one JSON object."""
    MALFORMED_CSV = "MALFORMED_CSV"
    """The CSV record does not have as many fields as the header."""
    MISSING_FIELD = "MISSING_FIELD"
    """A required field is absent, null or empty."""
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    """``event_time`` is not ISO-8601 with an offset or ``Z``."""
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    """``event_type`` is not one of the types of DATA.md."""
    WRONG_TYPE = "WRONG_TYPE"
    """A field has the wrong JSON type (text where a number, array or object is expected)."""
    INVALID_VALUE = "INVALID_VALUE"
    """The type is right but the value is not allowed (negative quantity, unknown channel...)."""
    BAD_PATH = "BAD_PATH"
    """The file sits where no contract expects it (e.g. a feed file outside ``sync_time=``)."""
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    """A feed file whose extension is not .csv, .jsonl / .json or .parquet."""


# --- journeys and messages (R-SEND-2, docs/detection.md, docs/sending.md) -----------------------

ACTIVE = "ACTIVE"  # a journey still running
PENDING = "PENDING"  # a message detection scheduled and no exit has cancelled (yet)
SENT = "SENT"
CANCELLED = "CANCELLED"
SUPERSEDED = "SUPERSEDED"
SUPPRESSED = "SUPPRESSED"
TERMINAL_STATES: tuple[str, ...] = (SENT, CANCELLED, SUPERSEDED, SUPPRESSED)

# The outcome of one attempt to hand a SENT message to its provider (gold.deliveries.status).
AttemptStatus = Literal["DELIVERED", "FAILED", "SKIPPED_CIRCUIT_OPEN"]
DELIVERED: Final = "DELIVERED"
FAILED: Final = "FAILED"
SKIPPED_CIRCUIT_OPEN: Final = "SKIPPED_CIRCUIT_OPEN"

# R-SEND-2: the closed list of reason codes of a message not sent, with what each means.
REASONS: dict[str, str] = {
    "EXIT_CONDITION": "CANCELLED: a don't-send-if event at or before the due time (R-EXIT-1)",
    "RETRIGGERED": "SUPERSEDED: a new trigger of the campaign started a new journey (R-REL-1)",
    "CANCELLED_BY_PRIORITY": "a cancel-all-others custom campaign triggered (R-PRIO-3)",
    "CAMPAIGN_INACTIVE": "the campaign was paused or removed before the message was due",
    "AUDIENCE_EXIT": "the user is no longer in the campaign's audience at send time (R-TRIG-5)",
    "EMPTY_PAYLOAD": "a product campaign with no product to show (R-REL-2)",
    "PRIORITY_PREEMPTED": "a higher-priority journey of the user is active (R-PRIO-2)",
    "NO_IDENTIFIER": "no cuid / valid address / push token for the channel (R-OPT-2)",
    "NOT_OPTED_IN": "the user is not opted in to the channel at send time (R-OPT-1)",
    "QUIET_HOURS": "the channel is in its quiet hours at send time (R-QUIET-1)",
    "FREQUENCY_CAP_CAMPAIGN": "the campaign's cap for the channel is reached (R-CAP-2)",
    "FREQUENCY_CAP_GLOBAL": "the global cap for the channel is reached (R-CAP-1)",
    "CONTROL_GROUP": "a control variation: every rule passed, no send is made (R-AB-2)",
    "DATA_QUALITY_HOLD": "reserved: held by a failed data-quality gate",
}
EXIT_CONDITION = "EXIT_CONDITION"  # R-EXIT-1
RETRIGGERED = "RETRIGGERED"  # R-REL-1
CANCELLED_BY_PRIORITY = "CANCELLED_BY_PRIORITY"  # R-PRIO-3


# --- attribution (R-ATTR-1, docs/analytics.md) ---------------------------------------------------

MESSAGE_OPEN = "message_open"
MESSAGE_CLICK = "message_click"
ENGAGEMENT_EVENT_TYPES: tuple[str, ...] = (MESSAGE_OPEN, MESSAGE_CLICK)
PURCHASE = "purchase"

# The two views of R-ATTR-1 (``gold.attributed_purchases.attribution``).
LAST_CLICK = "last_click"  # each purchase credited at most once, to the latest qualifying click
PER_CAMPAIGN = "per_campaign"  # once for each campaign with a qualifying click

# Why an open or click was not accepted (``silver.engagement_quarantine.reason``).
ENGAGEMENT_REASONS: dict[str, str] = {
    "UNKNOWN_MESSAGE": "the message_id names no message the sender sent",
    "NOT_THE_RECIPIENT": "the message was sent to another person (neither user_id nor cuid match)",
}
UNKNOWN_MESSAGE = "UNKNOWN_MESSAGE"
NOT_THE_RECIPIENT = "NOT_THE_RECIPIENT"

# --- campaign types and their traits (R-TYPE-*) -------------------------------------------------

KeyKind = Literal["user", "cuid"]
TriggerKind = Literal["event", "product_change", "user_change", "schedule"]
FirstDue = Literal["wait", "slot", "trigger"]
Payload = Literal["cart", "session_views", "watched_changes", "trigger_product"]


@dataclass(frozen=True)
class CampaignType:
    """What every stage needs to know about a campaign type, stated once.

    ``keyed_by``: whose journey it is: the clickstream's ``user_id`` or the feed's ``cuid``.
    ``trigger``: the input that starts a journey: an event, a product-feed change, a user-feed
    change or a schedule slot. ``first_due``: step 1 is due after the campaign's ``wait``
    (R-TRIG-2), at the next schedule slot (R-TRIG-3), or at the trigger itself (a slot).
    ``carries_products``: its messages show products, so an empty payload is not sent
    (R-REL-2). ``watches_products``: a user's interactions with products open a watch window
    (R-TRIG-4). ``payload``: what a journey's messages show (R-REL-2): the current cart, the
    products viewed in the session, the watched products that changed, or the triggering
    input's product if any. ``priority_class``: its name in ``sender.priority_order``
    (R-PRIO-1).
    """

    name: str
    keyed_by: KeyKind
    trigger: TriggerKind
    first_due: FirstDue
    carries_products: bool
    payload: Payload
    watches_products: bool = False

    @property
    def priority_class(self) -> str:
        """The R-PRIO-1 class (a custom campaign with cancel_all_others has its own class)."""
        return self.name


CAMPAIGN_TYPES: dict[str, CampaignType] = {
    t.name: t
    for t in (
        CampaignType("cart_abandonment", "user", "event", "wait", True, "cart"),
        CampaignType("product_view", "user", "event", "wait", True, "session_views"),
        CampaignType("custom", "user", "event", "wait", False, "trigger_product"),
        CampaignType("price_drop", "user", "product_change", "slot", True, "watched_changes", True),
        CampaignType(
            "product_attribute_change",
            "user",
            "product_change",
            "slot",
            True,
            "watched_changes",
            True,
        ),
        CampaignType(
            "user_attribute_change", "cuid", "user_change", "slot", False, "trigger_product"
        ),
        CampaignType("scheduled", "cuid", "schedule", "trigger", False, "trigger_product"),
    )
}

# R-PRIO-3: a custom campaign that cancels all others is a priority class of its own.
CUSTOM_CANCEL_ALL = "custom_cancel_all_others"

DEFAULT_PRIORITY_ORDER: tuple[str, ...] = (  # R-PRIO-1, highest first
    "user_attribute_change",
    CUSTOM_CANCEL_ALL,
    "cart_abandonment",
    "price_drop",
    "product_attribute_change",
    "product_view",
    "custom",
    "scheduled",
)
