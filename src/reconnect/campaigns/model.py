"""The typed campaign model: one frozen pydantic object per campaign file, validated at load.

One class per campaign type (R-TYPE-*), each with exactly the fields that type has: ``wait`` only
on the types that wait after a trigger (R-TRIG-2), ``schedule`` only on those that send at the
next schedule slot (R-TRIG-3), ``watch_window`` only on price and product-attribute campaigns
(R-TRIG-4). Type-dependent defaults are plain field defaults. Every validator reports the field
path of each problem and what was expected; :mod:`reconnect.campaigns.loader` turns them into one
:class:`~reconnect.campaigns.loader.CampaignError`. Field by field: docs/campaigns.md.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from reconnect.campaigns.conditions import (
    EVENT_SCOPE,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    ConditionError,
    EventCondition,
    Loc,
    Not,
    ProductCondition,
    Scalar,
    UserCondition,
    dump_condition,
    parse_condition,
    scalar_problem,
)
from reconnect.vocabulary import CHANNELS, EVENT_TYPES

Problem: TypeAlias = tuple[Loc, str]

# --- problems as pydantic errors --------------------------------------------------------------


def _details(problems: list[Problem]) -> list[InitErrorDetails]:
    return [
        InitErrorDetails(type=PydanticCustomError("campaign", msg), loc=loc, input=None)
        for loc, msg in problems
    ]


def _error(problems: list[Problem], title: str) -> ValidationError:
    """One pydantic error holding every problem at its own location."""
    return ValidationError.from_exception_data(title, _details(problems))


def _passed_on(err: Any, relocate: Callable[[Loc], Loc]) -> InitErrorDetails:
    # Keep pydantic's error type (the loader words messages by type) and its message as is.
    return InitErrorDetails(
        type=PydanticCustomError(err["type"], err["msg"]),
        loc=relocate(tuple(err["loc"])),
        input=err.get("input"),
    )


def _same(loc: Loc) -> Loc:
    return loc


@dataclass
class _Prepared:
    """Raw input after a model's own pre-checks: the data to validate and problems found."""

    data: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    relocate: Callable[[Loc], Loc] = _same


class _Model(BaseModel):
    """Frozen, closed model whose errors name every unknown key with what is allowed there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> _Prepared:
        """Raw-input checks and rewrites that run before field validation (hook)."""
        return _Prepared(data)

    @classmethod
    def _misplaced(cls, key: str) -> str | None:
        """Why a key that belongs elsewhere is not allowed here (hook); None: just unknown."""
        return None

    def _check(self) -> list[Problem]:
        """Checks across fields once every field is valid on its own (hook)."""
        return []

    @classmethod
    def _allowed_keys(cls) -> list[str]:
        return [f.alias or name for name, f in cls.model_fields.items()]

    @model_validator(mode="wrap")
    @classmethod
    def _validate_all(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """The model, or one error with every problem: raw checks, unknown keys, fields, checks.

        Unknown keys are reported (with what is allowed) and dropped so the fields are still
        validated; cross-field checks run once every field is valid.
        """
        if not isinstance(data, dict):
            return handler(data)
        prepared = cls._prepare(dict(data))
        problems = list(prepared.problems)
        allowed = cls._allowed_keys()
        for key in list(prepared.data):
            if key not in allowed:
                why = cls._misplaced(str(key))
                problems.append(
                    ((str(key),), why or f"unknown field; expected one of {', '.join(allowed)}")
                )
                del prepared.data[key]
        try:
            result = handler(prepared.data)
            problems += [(prepared.relocate(loc), msg) for loc, msg in result._check()]
        except ValidationError as e:
            passed = [_passed_on(err, prepared.relocate) for err in e.errors()]
            raise ValidationError.from_exception_data(
                cls.__name__, _details(problems) + passed
            ) from None
        if problems:
            raise _error(problems, cls.__name__)
        return result


# --- durations --------------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str) -> timedelta:
    """The timedelta of ``5m``, ``3h``, ``90d``, ``1d12h``, ``4m59s`` (units d, h, m, s)."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None:
        raise ValueError(f"expected a duration such as 5m, 3h, 90d or 1d12h; got {text!r}")
    seconds = sum(int(g) * unit for g, (_, unit) in zip(m.groups(), _UNITS, strict=True) if g)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text of a duration in d / h / m / s (``timedelta(hours=36)`` -> ``1d12h``)."""
    rest = int(value.total_seconds())
    out = ""
    for name, unit in _UNITS:
        if rest >= unit:
            out += f"{rest // unit}{name}"
            rest %= unit
    return out or "0s"


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as e:
            raise PydanticCustomError("duration", str(e)) from None
    raise PydanticCustomError(
        "duration", f"expected a duration such as 5m, 3h, 90d or 1d12h; got {value!r}"
    )


Duration = Annotated[timedelta, PlainValidator(_duration), PlainSerializer(format_duration)]


def _check_range(value: timedelta, low: str, high: str, what: str, rule: str) -> timedelta:
    if not parse_duration(low) <= value <= parse_duration(high):
        raise PydanticCustomError(
            "range", f"expected {what} from {low} to {high} ({rule}); got {format_duration(value)}"
        )
    return value


WAIT_RANGE = ("5m", "90d")  # R-TRIG-2, also for the waits between steps
ATTRIBUTION_RANGE = ("1d", "30d")  # R-ATTR-1
WATCH_RANGE = ("1d", "90d")
CAP_WINDOW_RANGE = ("1h", "90d")


# --- small value types ------------------------------------------------------------------------

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _slug(value: object) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise PydanticCustomError(
            "slug",
            "expected an id of lowercase letters, digits, _ and - (1 to 64, starting with a "
            f"letter or digit); got {value!r}",
        )
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("text", f"expected non-empty text; got {value!r}")
    return value


def _number(value: object) -> float:
    why = scalar_problem(value)
    if why is None and isinstance(value, str):
        why = f"expected a number; got {value!r}"
    if why is not None:
        raise PydanticCustomError("number", why)
    assert isinstance(value, int | float)
    return float(value)


Slug = Annotated[str, PlainValidator(_slug)]
Text = Annotated[str, PlainValidator(_text)]
Number = Annotated[float, PlainValidator(_number)]


def _number_out(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


Percent = Annotated[Decimal, Field(gt=0, le=100), PlainSerializer(_number_out)]
Amount = Annotated[Decimal, Field(gt=0), PlainSerializer(_number_out)]
Weight = Annotated[Decimal, Field(gt=0, le=100, decimal_places=2), PlainSerializer(_number_out)]


def _scalar(value: object) -> Scalar:
    why = scalar_problem(value)
    if why is not None:
        raise PydanticCustomError("scalar", why)
    assert isinstance(value, str | int | float)
    return value


ChangeValue = Annotated[Scalar, PlainValidator(_scalar)]


def _one_of(choices: tuple[str, ...], rule: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise PydanticCustomError(
                "choice", f"expected one of {', '.join(choices)} ({rule}); got {value!r}"
            )
        return value

    return check


# --- schedule (R-TRIG-3) ------------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _days(value: object) -> Literal["all"] | tuple[str, ...]:
    expected = "expected all or a non-empty list of weekday names (monday .. sunday)"
    if value == "all":
        return "all"
    if not isinstance(value, list | tuple) or not value:
        raise PydanticCustomError("days", f"{expected}; got {value!r}")
    days = tuple(str(d).lower() for d in value)
    if any(d not in WEEKDAYS for d in days) or len(set(days)) != len(days):
        raise PydanticCustomError("days", f"{expected}, each once; got {list(value)!r}")
    return days


def _days_out(days: Literal["all"] | tuple[str, ...]) -> str | list[str]:
    return days if isinstance(days, str) else list(days)


class Schedule(_Model):
    """Allowed send days and the send hour in the campaign's time zone (R-TRIG-3)."""

    days: Annotated[
        Literal["all"] | tuple[str, ...], PlainValidator(_days), PlainSerializer(_days_out)
    ] = "all"
    hour: int = Field(default=10, ge=0, le=23, strict=True)

    def weekday_numbers(self) -> tuple[int, ...]:
        """The allowed days as ``datetime.weekday()`` numbers (Monday 0 .. Sunday 6)."""
        if self.days == "all":
            return tuple(range(7))
        return tuple(sorted(WEEKDAYS.index(d) for d in self.days))


# --- triggers ---------------------------------------------------------------------------------

Interaction = Literal["add_to_cart", "product_view"]


class AttributeChange(_Model):
    """A change of one feed attribute between two consecutive syncs.

    Only ``attribute``: any change. ``to``: changes to that value. ``from`` + ``to``: changes
    from one value to another. ``to_greater_than`` / ``to_less_than``: the new value as a
    number (e.g. stock from 0 to greater than 0: back in stock).
    """

    model_config = ConfigDict(populate_by_name=True)

    attribute: Text
    from_: ChangeValue | None = Field(default=None, alias="from")
    to: ChangeValue | None = None
    to_greater_than: Number | None = None
    to_less_than: Number | None = None

    def _check(self) -> list[Problem]:
        """``to`` excludes the numeric bounds, differs from ``from``; bounds leave a range."""
        problems: list[Problem] = []
        if self.to is not None and (
            self.to_greater_than is not None or self.to_less_than is not None
        ):
            problems.append((("to",), "expected either to or to_greater_than / to_less_than"))
        if self.to is not None and self.from_ is not None and str(self.to) == str(self.from_):
            problems.append((("to",), "expected a value other than from: this is never a change"))
        low, high = self.to_greater_than, self.to_less_than
        if low is not None and high is not None and low >= high:
            problems.append((("to_less_than",), "expected a bound above to_greater_than"))
        return problems


class ProductTrigger(_Model):
    """Cart / view triggers: any product, or one that meets ``product`` (R-TYPE-CART, -VIEW)."""

    product: ProductCondition | None = None


class PriceDropTrigger(_Model):
    """A price drop of a product the user interacted with, by a percent or an amount."""

    interaction: Interaction = "add_to_cart"
    min_drop_percent: Percent | None = Decimal(10)
    min_drop_amount: Amount | None = None
    product: ProductCondition | None = None

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> _Prepared:
        prepared = _Prepared(data)
        percent, amount = data.get("min_drop_percent"), data.get("min_drop_amount")
        if amount is not None and percent is not None:
            prepared.problems.append(
                (("min_drop_amount",), "expected min_drop_percent or min_drop_amount, not both")
            )
        elif amount is None and percent is None and "min_drop_percent" in data:
            prepared.problems.append(
                (("min_drop_percent",), "expected min_drop_percent or min_drop_amount")
            )
        elif amount is not None:
            data["min_drop_percent"] = None  # an amount replaces the default percent
        return prepared


class ProductChangeTrigger(_Model):
    """A product attribute change of a product the user interacted with (R-TYPE-PATTR)."""

    interaction: Interaction = "add_to_cart"
    change: AttributeChange
    product: ProductCondition | None = None


class UserChangeTrigger(_Model):
    """A user attribute change between consecutive user-feed syncs (R-TYPE-UATTR)."""

    change: AttributeChange
    include_first_appearance: bool = Field(default=False, strict=True)


class EventTrigger(_Model):
    """A tracked action or custom event (R-TYPE-CUSTOM): type, name and an event condition."""

    event_type: Annotated[str, PlainValidator(_one_of(EVENT_TYPES, "DATA.md event types"))]
    event_name: Text | None = None
    where: EventCondition | None = None

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> _Prepared:
        prepared = _Prepared(data)
        if "event_type" not in data:
            if "event_name" in data:
                data["event_type"] = "custom"  # a name implies a custom event
            else:
                prepared.problems.append((("event_type",), "expected event_type and/or event_name"))
                data["event_type"] = "custom"
        elif data.get("event_name") is not None and data["event_type"] != "custom":
            prepared.problems.append(
                (("event_name",), "expected no event_name unless event_type is custom")
            )
        return prepared


class ScheduledTrigger(_Model):
    """A one-off time (``at``) or a recurring one (``every``: days and hour), R-TYPE-SCHED."""

    at: datetime | None = None
    every: Schedule | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _date_and_time(cls, value: object) -> object:
        if isinstance(value, date) and not isinstance(value, datetime):
            raise PydanticCustomError(
                "datetime", f"expected a date and a time, e.g. {value}T10:00:00; got {value}"
            )
        return value

    def _check(self) -> list[Problem]:
        """Exactly one of ``at`` and ``every``."""
        if (self.at is None) == (self.every is None):
            return [((), "expected either at (one-off) or every (recurring)")]
        return []


# --- templates, steps, variations ---------------------------------------------------------------

TEMPLATE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # channel: (required fields, optional fields)
    "email": (("subject", "body"), ()),
    "sms": (("body",), ()),
    "web_push": (("title", "body"), ("url",)),
    "app_push": (("title", "body"), ("url",)),
}
TEMPLATE_ROOTS = ("product", "products", "user", "campaign", "message")
_VARIABLE = re.compile(r"\{\{(.*?)\}\}")
_PATH = re.compile(r"^[A-Za-z_]+(\.[A-Za-z0-9_]+)+$")


def _template_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("text", f"expected non-empty text; got {value!r}")
    for var in _VARIABLE.findall(value):
        name = var.strip()
        if not _PATH.match(name) or name.split(".")[0] not in TEMPLATE_ROOTS:
            raise PydanticCustomError(
                "template",
                f"expected variables like {{{{product.name}}}} with a root of "
                f"{', '.join(TEMPLATE_ROOTS)}; got {{{{{var}}}}}",
            )
    if "{{" in _VARIABLE.sub("", value) or "}}" in _VARIABLE.sub("", value):
        raise PydanticCustomError("template", "expected every {{ to be closed by }}")
    return value


TemplateText = Annotated[str, PlainValidator(_template_text)]


class Template(_Model):
    """One step's message for one channel; which fields a channel needs: TEMPLATE_FIELDS."""

    subject: TemplateText | None = None
    title: TemplateText | None = None
    body: TemplateText
    url: TemplateText | None = None


DEFAULT_COPY: dict[str, tuple[str, str]] = {
    # campaign type: (headline, text); applied to every channel of a step that has no templates
    "cart_abandonment": (
        "You left something in your cart",
        "Hi {{user.first_name}}, {{product.name}} is still in your cart at {{product.price}}.",
    ),
    "product_view": (
        "Still thinking about {{product.name}}?",
        "Hi {{user.first_name}}, {{product.name}} is still available at {{product.price}}.",
    ),
    "price_drop": (
        "Price drop: {{product.name}}",
        "{{product.name}} is now {{product.price}} (was {{product.old_price}}, "
        "-{{product.drop_percent}}%).",
    ),
    "product_attribute_change": (
        "News about {{product.name}}",
        "Hi {{user.first_name}}, there is news about {{product.name}}: take another look.",
    ),
    "user_attribute_change": (
        "News about your account",
        "Hi {{user.first_name}}, there is news about your account.",
    ),
    "custom": ("Something for you", "Hi {{user.first_name}}, we have something for you."),
    "scheduled": ("News from us", "Hi {{user.first_name}}, here is what is new."),
}


def default_templates(campaign_type: str, channels: list[str]) -> dict[str, dict[str, str]]:
    """The documented default message of a campaign type for each channel (YAML form)."""
    headline, text = DEFAULT_COPY[campaign_type]
    out: dict[str, dict[str, str]] = {}
    for channel in channels:
        required, _ = TEMPLATE_FIELDS[channel]
        fields = {"subject": headline, "title": headline, "body": text}
        out[channel] = {f: fields[f] for f in required}
    return out


class Step(_Model):
    """One message of a variation: name (R-STEP-2), wait after the previous step, templates."""

    name: Text
    wait: Duration | None = None
    templates: dict[str, Template] = Field(default_factory=dict)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> _Prepared:
        prepared = _Prepared(data)
        templates = data.get("templates")
        if isinstance(templates, dict):
            for key in [k for k in templates if k not in CHANNELS]:
                prepared.problems.append(
                    (
                        ("templates", str(key)),
                        f"unknown channel; expected one of {', '.join(CHANNELS)} (R-CHAN-1)",
                    )
                )
            data["templates"] = {k: v for k, v in templates.items() if k in CHANNELS}
        return prepared

    def _check(self) -> list[Problem]:
        """Each channel's template has the fields that channel needs, and no others."""
        problems: list[Problem] = []
        for channel, template in self.templates.items():
            required, optional = TEMPLATE_FIELDS[channel]
            for name in ("subject", "title", "body", "url"):
                given = getattr(template, name) is not None
                loc: Loc = ("templates", channel, name)
                if name in required and not given:
                    problems.append((loc, f"required in {channel} templates"))
                elif given and name not in required + optional:
                    problems.append(
                        (loc, f"not used by {channel}; expected {', '.join(required + optional)}")
                    )
        return problems


MAX_STEPS = 10  # R-STEP-1


class Variation(_Model):
    """One arm of a campaign: allocation weight, control flag and 1 to 10 steps."""

    id: Slug
    weight: Weight
    control: bool = Field(default=False, strict=True)
    steps: tuple[Step, ...]

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> _Prepared:
        prepared = _Prepared(data)
        steps = data.get("steps")
        if isinstance(steps, list | tuple) and not 1 <= len(steps) <= MAX_STEPS:
            prepared.problems.append(
                (("steps",), f"expected 1 to {MAX_STEPS} steps (R-STEP-1); got {len(steps)}")
            )
        return prepared

    @field_validator("steps")
    @classmethod
    def _step_waits(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        problems: list[Problem] = []
        seen: set[str] = set()
        for i, step in enumerate(steps):
            if i == 0 and step.wait is not None:
                problems.append(
                    (
                        (0, "wait"),
                        "expected no wait on step 1: it is due after the campaign's wait or at "
                        "the next schedule slot (R-STEP-1)",
                    )
                )
            if i > 0 and step.wait is None:
                problems.append(((i, "wait"), "expected the wait after the previous step"))
            if i > 0 and step.wait is not None:
                try:
                    _check_range(step.wait, *WAIT_RANGE, "a wait", "R-TRIG-2")
                except PydanticCustomError as e:
                    problems.append(((i, "wait"), e.message()))
            if step.name in seen:
                problems.append(
                    ((i, "name"), f"expected a unique step name; {step.name!r} repeats (R-STEP-2)")
                )
            seen.add(step.name)
        if problems:
            raise _error(problems, "Variation")
        return steps


class Cap(_Model):
    """A campaign cap for one channel: at most ``count`` sends per user per ``window``."""

    count: int = Field(ge=1, strict=True)
    window: Duration = timedelta(hours=24)

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        return _check_range(value, *CAP_WINDOW_RANGE, "a cap window", "R-CAP-2")


# --- "don't send if" ----------------------------------------------------------------------------

ExitShorthand = Literal[
    "purchase", "purchase_of_product", "purchase_in_watch_window", "new_session", "add_to_cart"
]
EXIT_SHORTHANDS: tuple[str, ...] = get_args(ExitShorthand)
# The shorthands that are plain event conditions; the others need the journey's context.
SHORTHAND_CONDITIONS: dict[str, Condition] = {
    "purchase": Compare("event_type", "eq", "purchase"),
    "add_to_cart": Compare("event_type", "eq", "add_to_cart"),
}


def _exit_rule(value: object) -> ExitShorthand | Condition:
    if isinstance(value, str):
        if value not in EXIT_SHORTHANDS:
            raise PydanticCustomError(
                "exit",
                f"expected one of {', '.join(EXIT_SHORTHANDS)} or an event condition; "
                f"got {value!r}",
            )
        return value  # type: ignore[return-value]  # checked against the Literal's values
    raw = dump_condition(value) if isinstance(value, Compare | AllOf | AnyOf | Not) else value
    try:
        return parse_condition(raw, EVENT_SCOPE)
    except ConditionError as e:
        raise e.as_validation_error() from None


def _dump_exit_rule(rule: ExitShorthand | Condition) -> str | dict[str, Any]:
    return rule if isinstance(rule, str) else dump_condition(rule)


ExitRule = Annotated[
    ExitShorthand | Condition, PlainValidator(_exit_rule), PlainSerializer(_dump_exit_rule)
]


# --- campaigns ----------------------------------------------------------------------------------

PrimaryMetric = Literal["purchases_per_user", "revenue_per_user", "ctr"]
BUCKETS = 10_000  # R-AB-1


class Campaign(_Model):
    """Settings shared by every campaign type; one subclass per type adds its trigger.

    Build one with :func:`reconnect.campaigns.loader.parse_campaign` or
    :meth:`Campaign.from_yaml`, which pick the class from ``type``.
    """

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = ("purchase", "new_session", "add_to_cart")

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
        # The loader imports this module: import it when called.
        from reconnect.campaigns.loader import load_campaign_file

        campaign = load_campaign_file(path)
        if not isinstance(campaign, cls):
            from reconnect.campaigns.loader import CampaignError, Problem

            raise CampaignError([Problem(str(path), "type", f"expected a {cls.__name__}")])
        return campaign

    @classmethod
    def type_name(cls) -> str:
        """The ``type`` value of this class (``cart_abandonment``...); empty for the base class."""
        args = get_args(cls.model_fields["type"].annotation)
        return str(args[0]) if args else ""

    @classmethod
    def _misplaced(cls, key: str) -> str | None:
        owners = [t for t, c in CAMPAIGN_TYPES.items() if key in c.model_fields]
        if not owners or cls is Campaign:
            return None
        return (
            f"not available for {cls.type_name()} campaigns; only for {', '.join(owners)}"
            f"{_field_hint(cls, key)}"
        )

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> _Prepared:
        prepared = _Prepared(data)
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
                prepared.relocate = _steps_shorthand
        _fill_default_templates(data, cls.type_name() or None)
        if (why := _weights_problem(data.get("variations"))) is not None:
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
        problems: list[Problem] = [
            (
                (i,),
                f"expected one of {', '.join(cls.EXITS_ALLOWED)} or an event condition "
                f"for {cls.type_name() or 'this type'}; got {rule!r}",
            )
            for i, rule in enumerate(rules)
            if isinstance(rule, str) and rule not in cls.EXITS_ALLOWED
        ]
        if problems:
            raise _error(problems, "dont_send_if")
        return rules

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        if not channels:
            raise PydanticCustomError(
                "channels", f"expected at least one of {', '.join(CHANNELS)} (R-CHAN-1)"
            )
        problems: list[Problem] = []
        for i, channel in enumerate(channels):
            if channel not in CHANNELS:
                problems.append(
                    ((i,), f"expected one of {', '.join(CHANNELS)} (R-CHAN-1); got {channel!r}")
                )
            elif channel in channels[:i]:
                problems.append(((i,), f"expected each channel once; {channel!r} repeats"))
        if problems:
            raise _error(problems, "channels")
        return channels

    @field_validator("caps")
    @classmethod
    def _cap_channels(cls, caps: dict[str, Cap]) -> dict[str, Cap]:
        problems: list[Problem] = [
            ((k,), f"unknown channel; expected one of {', '.join(CHANNELS)} (R-CHAN-1)")
            for k in caps
            if k not in CHANNELS
        ]
        if problems:
            raise _error(problems, "caps")
        return caps

    @field_validator("attribution_window")
    @classmethod
    def _attribution(cls, value: timedelta) -> timedelta:
        return _check_range(value, *ATTRIBUTION_RANGE, "an attribution window", "R-ATTR-1")

    @field_validator("variations")
    @classmethod
    def _allocation(cls, variations: tuple[Variation, ...]) -> tuple[Variation, ...]:
        if not variations:
            raise PydanticCustomError("variations", "expected at least one variation")
        problems: list[Problem] = []
        ids = [v.id for v in variations]
        for i, vid in enumerate(ids):
            if vid in ids[:i]:
                problems.append(((i, "id"), f"expected a unique variation id; {vid!r} repeats"))
        if problems:
            raise _error(problems, "variations")
        return variations

    def _check(self) -> list[Problem]:
        """Caps and templates name channels of this campaign; each step has a message."""
        problems: list[Problem] = [
            (("caps", k), f"expected a channel of this campaign ({', '.join(self.channels)})")
            for k in self.caps
            if k not in self.channels
        ]
        for i, variation in enumerate(self.variations):
            for j, step in enumerate(variation.steps):
                loc: Loc = ("variations", i, "steps", j, "templates")
                for k in step.templates:
                    if k not in self.channels:
                        problems.append(
                            (
                                (*loc, k),
                                f"expected a channel of this campaign ({', '.join(self.channels)})",
                            )
                        )
                if not variation.control and not any(c in step.templates for c in self.channels):
                    problems.append(
                        (
                            loc,
                            f"expected a message for at least one of {', '.join(self.channels)}"
                            " (R-STEP-1); only a control variation may have none",
                        )
                    )
        return problems

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


def _weights_problem(variations: object) -> Problem | None:
    """R-AB-1 on the raw input, so it is reported even when a variation has other problems."""
    if not isinstance(variations, list | tuple) or not variations:
        return None
    weights = [v.get("weight") if isinstance(v, dict) else None for v in variations]
    if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights):
        return None  # a weight that is not a number is reported where it stands
    numbers = [Decimal(str(w)) for w in weights]
    if not all(0 < w <= 100 and w == round(w, 2) for w in numbers):
        return None  # likewise a weight out of range
    total = sum(numbers)
    if total == 100:
        return None
    return (("variations",), f"expected weights that sum to 100 (R-AB-1); they sum to {total}")


def _steps_shorthand(loc: Loc) -> Loc:
    """Locations inside the implied variation, as written: ``steps[...]``."""
    if loc[:3] == ("variations", 0, "steps"):
        return ("steps", *loc[3:])
    if loc[:1] == ("variations",):
        return ("steps",)
    return loc


def _fill_default_templates(data: dict[str, Any], campaign_type: str | None) -> None:
    """Give every step written without ``templates`` the type's default message per channel."""
    channels, variations = data.get("channels"), data.get("variations")
    if campaign_type is None or not isinstance(variations, list | tuple):
        return
    if not isinstance(channels, list | tuple) or not all(c in CHANNELS for c in channels):
        return
    variations = copy.deepcopy(list(variations))
    for variation in variations:
        steps = variation.get("steps") if isinstance(variation, dict) else None
        for step in steps if isinstance(steps, list | tuple) else ():
            if isinstance(step, dict) and "templates" not in step:
                step["templates"] = default_templates(campaign_type, list(dict.fromkeys(channels)))
    data["variations"] = variations


class WaitingCampaign(Campaign):
    """A campaign whose first step is due a ``wait`` after the trigger (R-TRIG-2)."""

    wait: Duration = timedelta(hours=3)

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: timedelta) -> timedelta:
        return _check_range(value, *WAIT_RANGE, "a wait", "R-TRIG-2")


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
        return _check_range(value, *WATCH_RANGE, "a watch window", "R-TRIG-4")


_PRODUCT_EXITS = ("purchase", "purchase_of_product", "new_session", "add_to_cart")


class CartAbandonmentCampaign(WaitingCampaign):
    """R-TYPE-CART: the user adds a product (any, or one meeting a condition) to the cart."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = _PRODUCT_EXITS

    type: Literal["cart_abandonment"]
    trigger: ProductTrigger = ProductTrigger()
    dont_send_if: tuple[ExitRule, ...] = ("purchase", "new_session")


class ProductViewCampaign(WaitingCampaign):
    """R-TYPE-VIEW: the user views a product (any, or one meeting a condition)."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = _PRODUCT_EXITS

    type: Literal["product_view"]
    trigger: ProductTrigger = ProductTrigger()
    dont_send_if: tuple[ExitRule, ...] = ("purchase", "new_session", "add_to_cart")


class CustomCampaign(WaitingCampaign):
    """R-TYPE-CUSTOM: any tracked action or custom event; may cancel all others (R-PRIO-3)."""

    EXITS_ALLOWED: ClassVar[tuple[str, ...]] = _PRODUCT_EXITS

    type: Literal["custom"]
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
    trigger: ProductChangeTrigger
    dont_send_if: tuple[ExitRule, ...] = ("purchase_of_product",)


class UserAttributeChangeCampaign(SlotCampaign):
    """R-TYPE-UATTR: a user attribute changes between two consecutive user-feed syncs."""

    type: Literal["user_attribute_change"]
    trigger: UserChangeTrigger
    dont_send_if: tuple[ExitRule, ...] = ()


class ScheduledCampaign(Campaign):
    """R-TYPE-SCHED: every user of the audience at a one-off or recurring time."""

    type: Literal["scheduled"]
    trigger: ScheduledTrigger
    dont_send_if: tuple[ExitRule, ...] = ()

    def _check(self) -> list[Problem]:
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


CAMPAIGN_TYPES: dict[str, type[Campaign]] = {
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
