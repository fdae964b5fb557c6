"""The campaign types (R-TYPE-*): one class per type, each with exactly the fields it has.

``wait`` only on the types that wait after a trigger (R-TRIG-2), ``schedule`` only on those
that send at the next schedule slot (R-TRIG-3), ``watch_window`` only on price and
product-attribute campaigns (R-TRIG-4). Type-dependent defaults are plain field defaults.
:data:`CAMPAIGN_CLASSES` maps each ``type`` to its class; each class's traits are
:data:`reconnect.vocabulary.CAMPAIGN_TYPES`. Field by field: docs/campaigns.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from reconnect.campaigns.conditions import UserCondition
from reconnect.campaigns.content import Cap, Variation
from reconnect.campaigns.triggers import (
    EventTrigger,
    ExitRule,
    ExitShorthand,
    PriceDropTrigger,
    ProductChangeTrigger,
    ProductTrigger,
    ScheduledTrigger,
    UserChangeTrigger,
)
from reconnect.campaigns.validation import (
    CampaignError,
    Problem,
    channel_problems,
    channel_use_problems,
    fill_default_templates,
    problems_of,
    read_yaml,
    repeated_variation_ids,
    shown,
    steps_shorthand,
    weights_problem,
)
from reconnect.campaigns.values import (
    ATTRIBUTION_RANGE,
    WAIT_RANGE,
    WATCH_RANGE,
    Duration,
    FieldProblem,
    Model,
    Prepared,
    Schedule,
    Slug,
    Text,
    check_range,
    field_error,
)
from reconnect.vocabulary import CAMPAIGN_TYPES, CHANNELS, CampaignType

# --- campaigns ----------------------------------------------------------------------------------

PrimaryMetric = Literal["purchases_per_user", "revenue_per_user", "ctr"]
BUCKETS = 10_000  # R-AB-1


class Campaign(Model):
    """Settings shared by every campaign type; one subclass per type adds its trigger.

    Build one with :func:`reconnect.campaigns.loader.parse_campaign` or
    :meth:`Campaign.from_yaml`, which pick the class from ``type`` (:data:`CAMPAIGN_CLASSES`).
    """

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = ("purchase", "new_session", "add_to_cart")
    # Each type's default message (headline, text), for every channel of a step that has no
    # templates (docs/campaigns.md, "Default messages").
    DEFAULT_COPY: ClassVar[tuple[str, str] | None] = None

    id: Slug
    name: Text
    type: str
    status: Literal["active", "paused"] = "active"
    priority: int = Field(default=1, ge=1, strict=True)
    timezone: str = "UTC"
    audience: UserCondition | None = None
    dont_send_if: tuple[ExitRule, ...] = ()
    channels: tuple[str, ...]
    caps: dict[str, Cap] = Field(default_factory=dict)
    attribution_window: Duration = timedelta(days=7)
    primary_metric: PrimaryMetric = "purchases_per_user"
    variations: tuple[Variation, ...]

    @classmethod
    def from_yaml(cls, path: str | Path) -> Campaign:
        """The campaign of one YAML file; :class:`CampaignError` names every problem."""
        campaign = load_campaign_file(path)
        if not isinstance(campaign, cls):
            raise CampaignError([Problem(str(path), "type", f"expected a {cls.__name__}")])
        return campaign

    @property
    def traits(self) -> CampaignType:
        """The type's traits (:data:`reconnect.vocabulary.CAMPAIGN_TYPES`), which stages read."""
        return CAMPAIGN_TYPES[self.type]

    @classmethod
    def type_name(cls) -> str:
        """The ``type`` value of this class (``cart_abandonment``...); empty for the base class."""
        args = get_args(cls.model_fields["type"].annotation)
        return str(args[0]) if args else ""

    @classmethod
    def _allowed_keys(cls) -> list[str]:
        """The fields, and ``steps``: the one-variation shorthand (read before validation)."""
        keys = super()._allowed_keys()
        return [*keys[: keys.index("variations")], "steps", *keys[keys.index("variations") :]]

    @classmethod
    def _misplaced(cls, key: str) -> str | None:
        owners = [t for t, c in CAMPAIGN_CLASSES.items() if key in c.model_fields]
        if not owners or not cls.type_name():
            return None
        return (
            f"not available for {cls.type_name()} campaigns; only for {', '.join(owners)}"
            f"{_field_hint(cls, key)}"
        )

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> Prepared:
        prepared = Prepared(data)
        if "name" not in data:
            # The name defaults to the id; without a usable id, that id is the problem.
            data["name"] = data["id"] if isinstance(data.get("id"), str) else "-"
        if data.get("audience") == "all":
            data["audience"] = None
        if "steps" in data:
            if "variations" in data:
                prepared.problems.append(
                    (("steps",), "expected steps (one variation) or variations, not both")
                )
                del data["steps"]
            else:
                data["variations"] = [{"id": "default", "weight": 100, "steps": data.pop("steps")}]
                prepared.relocate = steps_shorthand
        elif "variations" not in data:
            prepared.relocate = steps_shorthand  # neither: "steps" is the one to ask for
        fill_default_templates(data, cls.DEFAULT_COPY)
        if (why := weights_problem(data.get("variations"))) is not None:
            prepared.problems.append(why)
        return prepared

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", f"expected an IANA time zone such as Europe/Berlin; got {value!r}"
            ) from None
        return value

    @field_validator("dont_send_if")
    @classmethod
    def _exits_for_type(cls, rules: tuple[ExitRule, ...]) -> tuple[ExitRule, ...]:
        problems: list[FieldProblem] = [
            (
                (i,),
                f"expected one of {', '.join(cls.EXITS_ALLOWED)} or an event condition "
                f"for {cls.type_name() or 'this type'}; got {rule!r}",
            )
            for i, rule in enumerate(rules)
            if isinstance(rule, str) and rule not in cls.EXITS_ALLOWED
        ]
        if problems:
            raise field_error(problems, "dont_send_if")
        return rules

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        if not channels:
            raise PydanticCustomError(
                "channels", f"expected at least one of {', '.join(CHANNELS)} (R-CHAN-1)"
            )
        if problems := channel_problems(channels):
            raise field_error(problems, "channels")
        return channels

    @field_validator("caps")
    @classmethod
    def _cap_channels(cls, caps: dict[str, Cap]) -> dict[str, Cap]:
        if problems := channel_problems(tuple(caps), keys=True):
            raise field_error(problems, "caps")
        return caps

    @field_validator("attribution_window")
    @classmethod
    def _attribution(cls, value: timedelta) -> timedelta:
        return check_range(value, *ATTRIBUTION_RANGE, "an attribution window", "R-ATTR-1")

    @field_validator("variations")
    @classmethod
    def _allocation(cls, variations: tuple[Variation, ...]) -> tuple[Variation, ...]:
        if not variations:
            raise PydanticCustomError("variations", "expected at least one variation")
        if problems := repeated_variation_ids(variations):
            raise field_error(problems, "variations")
        return variations

    def _check(self) -> list[FieldProblem]:
        """Caps and templates name channels of this campaign; each step has a message."""
        return channel_use_problems(self.channels, self.caps, self.variations)

    def zone(self) -> ZoneInfo:
        """The campaign's time zone."""
        return ZoneInfo(self.timezone)

    def variation_buckets(self) -> tuple[tuple[str, int, int], ...]:
        """Each variation's bucket range ``[first, end)`` among 10,000 buckets (R-AB-1)."""
        out = []
        start = 0
        for v in self.variations:
            end = start + int(v.weight * BUCKETS / 100)
            out.append((v.id, start, end))
            start = end
        return tuple(out)

    def to_mapping(self) -> dict[str, Any]:
        """The campaign in its YAML form, defaults filled in (loads back to an equal campaign)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _field_hint(cls: type[Campaign], key: str) -> str:
    """Why a campaign type has no such field, with the rule that says so."""
    when = "scheduled campaigns send at trigger.at or trigger.every"
    if issubclass(cls, SlotCampaign):
        when = "this type sends at the next schedule slot, see schedule"
    elif issubclass(cls, WaitingCampaign):
        when = "this type sends a wait after the trigger, see wait"
    hints = {
        "wait": f" (R-TRIG-2: {when})",
        "schedule": f" (R-TRIG-3: {when})",
        "watch_window": " (R-TRIG-4)",
        "cancel_all_others": " (R-PRIO-3)",
    }
    return hints.get(key, "")


class WaitingCampaign(Campaign):
    """A campaign whose first step is due a ``wait`` after the trigger (R-TRIG-2)."""

    wait: Duration = timedelta(hours=3)

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: timedelta) -> timedelta:
        return check_range(value, *WAIT_RANGE, "a wait", "R-TRIG-2")


class SlotCampaign(Campaign):
    """A campaign whose first step is due at the next ``schedule`` slot (R-TRIG-3)."""

    schedule: Schedule = Schedule()


class WatchingCampaign(SlotCampaign):
    """A slot campaign over products the user interacted with within ``watch_window`` (R-TRIG-4)."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = (
        "purchase",
        "purchase_of_product",
        "purchase_in_watch_window",
        "new_session",
        "add_to_cart",
    )

    watch_window: Duration = timedelta(days=30)

    @field_validator("watch_window")
    @classmethod
    def _watch(cls, value: timedelta) -> timedelta:
        return check_range(value, *WATCH_RANGE, "a watch window", "R-TRIG-4")


_PRODUCT_EXITS = ("purchase", "purchase_of_product", "new_session", "add_to_cart")


class CartAbandonmentCampaign(WaitingCampaign):
    """R-TYPE-CART: the user adds a product (any, or one meeting a condition) to the cart."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = _PRODUCT_EXITS

    type: Literal["cart_abandonment"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "You left something in your cart",
        "Hi {{user.first_name}}, {{product.name}} is still in your cart at {{product.price}}.",
    )
    trigger: ProductTrigger = ProductTrigger()
    dont_send_if: tuple[ExitRule, ...] = ("purchase", "new_session")


class ProductViewCampaign(WaitingCampaign):
    """R-TYPE-VIEW: the user views a product (any, or one meeting a condition)."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = _PRODUCT_EXITS

    type: Literal["product_view"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "Still thinking about {{product.name}}?",
        "Hi {{user.first_name}}, {{product.name}} is still available at {{product.price}}.",
    )
    trigger: ProductTrigger = ProductTrigger()
    dont_send_if: tuple[ExitRule, ...] = ("purchase", "new_session", "add_to_cart")


class CustomCampaign(WaitingCampaign):
    """R-TYPE-CUSTOM: any tracked action or custom event; may cancel all others (R-PRIO-3)."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = _PRODUCT_EXITS

    type: Literal["custom"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "Something for you",
        "Hi {{user.first_name}}, we have something for you.",
    )
    trigger: EventTrigger
    cancel_all_others: bool = Field(default=False, strict=True)
    dont_send_if: tuple[ExitRule, ...] = ()


PRICE_DROP_EXIT: tuple[ExitShorthand, ...] = ("purchase_in_watch_window",)


class PriceDropCampaign(WatchingCampaign):
    """R-TYPE-PRICE: a watched product's price drops by a percent (default 10) or an amount.

    "Don't send if" is fixed: any purchase during the watch window.
    """

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = PRICE_DROP_EXIT

    type: Literal["price_drop"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "Price drop: {{product.name}}",
        "{{product.name}} is now {{product.price}} (was {{product.old_price}}, "
        "-{{product.drop_percent}}%).",
    )
    trigger: PriceDropTrigger = PriceDropTrigger()
    dont_send_if: tuple[ExitRule, ...] = PRICE_DROP_EXIT

    @field_validator("dont_send_if")
    @classmethod
    def _exits_for_type(cls, rules: tuple[ExitRule, ...]) -> tuple[ExitRule, ...]:
        if rules != PRICE_DROP_EXIT:
            raise PydanticCustomError(
                "fixed",
                "expected it left out: fixed to [purchase_in_watch_window] for price_drop, "
                "any purchase during the watch window cancels (R-TYPE-PRICE)",
            )
        return rules


class ProductAttributeChangeCampaign(WatchingCampaign):
    """R-TYPE-PATTR: a watched product's attribute changes between two feed syncs."""

    type: Literal["product_attribute_change"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "News about {{product.name}}",
        "Hi {{user.first_name}}, there is news about {{product.name}}: take another look.",
    )
    trigger: ProductChangeTrigger
    dont_send_if: tuple[ExitRule, ...] = ("purchase_of_product",)


class UserAttributeChangeCampaign(SlotCampaign):
    """R-TYPE-UATTR: a user attribute changes between two consecutive user-feed syncs."""

    type: Literal["user_attribute_change"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "News about your account",
        "Hi {{user.first_name}}, there is news about your account.",
    )
    trigger: UserChangeTrigger
    dont_send_if: tuple[ExitRule, ...] = ()


class ScheduledCampaign(Campaign):
    """R-TYPE-SCHED: every user of the audience at a one-off or recurring time."""

    type: Literal["scheduled"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = (
        "News from us",
        "Hi {{user.first_name}}, here is what is new.",
    )
    trigger: ScheduledTrigger
    dont_send_if: tuple[ExitRule, ...] = ()

    def _check(self) -> list[FieldProblem]:
        """Also: a one-off local time exists in the campaign's zone (not skipped by DST)."""
        problems = super()._check()
        at = self.trigger.at
        if at is not None and at.tzinfo is None:
            zone = self.zone()
            there = at.replace(tzinfo=zone)
            if there.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != at:
                problems.append(
                    (
                        ("trigger", "at"),
                        f"expected a local time that exists in {self.timezone}; "
                        f"{at.isoformat()} is skipped when the clocks go forward",
                    )
                )
        return problems

    def one_off_utc(self) -> datetime | None:
        """The one-off send time in UTC (a time without offset is in the campaign's zone)."""
        at = self.trigger.at
        if at is None:
            return None
        local = at if at.tzinfo is not None else at.replace(tzinfo=self.zone())
        return local.astimezone(ZoneInfo("UTC"))


CAMPAIGN_CLASSES: dict[str, type[Campaign]] = {
    c.type_name(): c
    for c in (
        CartAbandonmentCampaign,
        ProductViewCampaign,
        PriceDropCampaign,
        ProductAttributeChangeCampaign,
        UserAttributeChangeCampaign,
        CustomCampaign,
        ScheduledCampaign,
    )
}


def validate_mapping(raw: object, source: str) -> tuple[Campaign | None, list[Problem]]:
    """The campaign of one mapping (its class picked by ``type``), or the problems found."""
    if not isinstance(raw, dict):
        return None, [Problem(source, "(top level)", "expected a mapping of campaign fields")]
    ident = raw.get("id") if isinstance(raw.get("id"), str) else None
    kind = raw.get("type")
    if kind not in CAMPAIGN_CLASSES:
        got = "missing" if kind is None else f"got {shown(kind)}"
        expected = f"expected one of {', '.join(CAMPAIGN_CLASSES)} (R-TYPE-*); {got}"
        return None, [Problem(source, "type", expected, ident), *_shared_problems(raw, source)]
    try:
        return CAMPAIGN_CLASSES[kind].model_validate(raw), []
    except ValidationError as e:
        return None, problems_of(source, ident, e)


class _SharedFields(Campaign):
    """The fields every type has: checks a file whose type is unknown (never a campaign)."""

    DEFAULT_COPY: ClassVar[tuple[str, str]] = ("-", "-")  # stands in for the type's own


def _shared_problems(raw: dict[str, Any], source: str) -> list[Problem]:
    """Without a known type: the problems of the fields every type shares, so none is hidden.

    Keys that some type has are not reported: which of them the file may use depends on its type.
    """
    try:
        _SharedFields.model_validate({**raw, "type": "-"})  # the type is reported already
    except ValidationError as e:
        ident = raw.get("id") if isinstance(raw.get("id"), str) else None
        owned = {k for c in CAMPAIGN_CLASSES.values() for k in c.model_fields}
        return [
            p
            for p in problems_of(source, ident, e)
            if not (p.path in owned and p.message.startswith("unknown field"))
        ]
    return []


def parse_campaign(raw: object, source: str = "<mapping>") -> Campaign:
    """The campaign of one YAML mapping (its class picked by ``type``); raises CampaignError."""
    campaign, problems = validate_mapping(raw, source)
    if problems or campaign is None:
        raise CampaignError(problems)
    return campaign


def load_file(path: Path) -> tuple[Campaign | None, list[Problem]]:
    """The campaign of one YAML file, or the problems found."""
    raw, problem = read_yaml(path)
    if problem is not None:
        return None, [problem]
    return validate_mapping(raw, str(path))


def load_campaign_file(path: str | Path) -> Campaign:
    """The campaign of one YAML file; raises CampaignError naming every problem."""
    campaign, problems = load_file(Path(path))
    if problems or campaign is None:
        raise CampaignError(problems)
    return campaign


def default_copy() -> dict[str, tuple[str, str]]:
    """Each registered type's default message ``(headline, text)``."""
    return {t: c.DEFAULT_COPY for t, c in CAMPAIGN_CLASSES.items() if c.DEFAULT_COPY is not None}
