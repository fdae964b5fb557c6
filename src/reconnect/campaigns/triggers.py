"""What starts a journey (per campaign type) and what stops it ("don't send if", R-EXIT-1)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from reconnect.campaigns.conditions import (
    EVENT_SCOPE,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    ConditionError,
    EventCondition,
    Not,
    ProductCondition,
    dump_condition,
    parse_condition,
)
from reconnect.campaigns.values import (
    Amount,
    ChangeValue,
    FieldProblem,
    Model,
    Number,
    Percent,
    Prepared,
    Schedule,
    Text,
    _one_of,
)
from reconnect.vocabulary import EVENT_TYPES

# --- triggers ---------------------------------------------------------------------------------

Interaction = Literal["add_to_cart", "product_view"]


class AttributeChange(Model):
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

    def _check(self) -> list[FieldProblem]:
        """``to`` excludes the numeric bounds, differs from ``from``; bounds leave a range."""
        problems: list[FieldProblem] = []
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


class ProductTrigger(Model):
    """Cart / view triggers: any product, or one that meets ``product`` (R-TYPE-CART, -VIEW)."""

    product: ProductCondition | None = None


class PriceDropTrigger(Model):
    """A price drop of a product the user interacted with, by a percent or an amount."""

    interaction: Interaction = "add_to_cart"
    min_drop_percent: Percent | None = Decimal(10)
    min_drop_amount: Amount | None = None
    product: ProductCondition | None = None

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> Prepared:
        prepared = Prepared(data)
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


class ProductChangeTrigger(Model):
    """A product attribute change of a product the user interacted with (R-TYPE-PATTR)."""

    interaction: Interaction = "add_to_cart"
    change: AttributeChange
    product: ProductCondition | None = None


class UserChangeTrigger(Model):
    """A user attribute change between consecutive user-feed syncs (R-TYPE-UATTR)."""

    change: AttributeChange
    include_first_appearance: bool = Field(default=False, strict=True)


class EventTrigger(Model):
    """A tracked action or custom event (R-TYPE-CUSTOM): type, name and an event condition."""

    event_type: Annotated[str, PlainValidator(_one_of(EVENT_TYPES, "DATA.md event types"))]
    event_name: Text | None = None
    where: EventCondition | None = None

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> Prepared:
        prepared = Prepared(data)
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


class ScheduledTrigger(Model):
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

    def _check(self) -> list[FieldProblem]:
        """Exactly one of ``at`` and ``every``."""
        if (self.at is None) == (self.every is None):
            return [((), "expected either at (one-off) or every (recurring)")]
        return []


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
