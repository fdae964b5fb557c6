"""The condition language of campaigns (R-TRIG-1): structured data, validated at load.

A condition is a leaf ``{field, op, value}`` or a combination ``{all: [...]}``, ``{any: [...]}``,
``{not: ...}``. Which fields a condition may name depends on where it stands (a
:class:`FieldScope`): audiences read user attributes, "don't send if" reads events, product
triggers read the product. :mod:`reconnect.campaigns.compiler` turns a condition into Spark
Columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import PlainSerializer, PlainValidator, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

Op = Literal[
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists"
]
OPS: tuple[str, ...] = get_args(Op)
_NO_VALUE_OPS = ("exists", "not_exists")
_LIST_OPS = ("in", "not_in")
COMBINATORS = ("all", "any", "not")

Scalar: TypeAlias = str | int | float
Loc = tuple[str | int, ...]

CONDITION_SHAPE = "a condition: {field, op, value}, {all: [...]}, {any: [...]} or {not: ...}"


# --- the condition tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    """A leaf: ``field`` compared with ``value`` by ``op`` (``value`` is None for exists)."""

    field: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class AllOf:
    """True when every condition is true."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """True when at least one condition is true."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """True when the condition is false."""

    condition: Condition


Condition: TypeAlias = Compare | AllOf | AnyOf | Not


# --- where fields come from -------------------------------------------------------------------

EVENT_FIELDS = (
    "event_type",
    "event_name",
    "product_id",
    "quantity",
    "price",
    "currency",
    "category",
    "order_id",
    "revenue",
    "channel",
)
PRODUCT_FIELDS = ("product_id", "category", "price")


@dataclass(frozen=True)
class FieldScope:
    """The fields a condition may name where it stands: plain columns and ``<map>.<key>``."""

    name: str
    fields: tuple[str, ...]
    maps: tuple[str, ...]

    def expected(self) -> str:
        """What a field must look like here, for error messages."""
        parts = [f"{m}.<key>" for m in self.maps]
        if self.fields:
            parts.insert(0, "one of " + ", ".join(self.fields))
        return f"{self.name}: " + " or ".join(parts)

    def problem(self, field: str) -> str | None:
        """Why ``field`` cannot be used here, or None when it can."""
        head, dot, key = field.partition(".")
        if not dot:
            if field in self.fields:
                return None
            return f"expected a field of {self.expected()}; got {field!r}"
        if head not in self.maps:
            return f"unknown field namespace {head!r}; expected {self.expected()}"
        if not key.strip():
            return f"expected a key after '{head}.'"
        return None


EVENT_SCOPE = FieldScope("an event", EVENT_FIELDS, ("properties",))
PRODUCT_SCOPE = FieldScope("the product", PRODUCT_FIELDS, ("attributes",))
USER_SCOPE = FieldScope("the user", (), ("attributes",))


# --- validation -------------------------------------------------------------------------------


class ConditionError(ValueError):
    """A condition that does not validate: every problem with its location inside the condition."""

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{format_path(loc)}: {msg}" for loc, msg in problems))
        self.problems = tuple(problems)

    def as_validation_error(self) -> ValidationError:
        """The same problems as a pydantic error, so a model places them under its field."""
        return ValidationError.from_exception_data(
            "condition",
            [
                InitErrorDetails(type=PydanticCustomError("condition", msg), loc=loc, input=None)
                for loc, msg in self.problems
            ],
        )


def format_path(loc: Loc) -> str:
    """A location as a field path: ``('audience', 'all', 1, 'op')`` -> ``audience.all[1].op``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(condition)"


def scalar_problem(value: object) -> str | None:
    """Why ``value`` is not a condition scalar (text or a finite number), or None when it is."""
    if isinstance(value, bool):
        return (
            f"expected text or a number, got the YAML boolean {value!r}: "
            "quote it to compare text, e.g. 'yes'"
        )
    if isinstance(value, str):
        return None
    if isinstance(value, int | float):
        return None if math.isfinite(value) else f"expected a finite number, got {value!r}"
    return f"expected text or a number, got {value!r}"


def _value_problem(op: str, value: object, given: bool) -> str | None:
    if op in _NO_VALUE_OPS:
        return None if not given else f"expected no value: '{op}' tests presence only"
    if not given:
        return f"expected a value for '{op}'"
    if op in _LIST_OPS:
        if not isinstance(value, list) or not value:
            return f"expected a non-empty list of text or numbers for '{op}', got {value!r}"
        return next((p for p in map(scalar_problem, value) if p), None)
    if op == "contains" and not isinstance(value, str):
        return f"expected text for 'contains', got {value!r}"
    return scalar_problem(value)


def _parse(raw: object, scope: FieldScope, loc: Loc, problems: list[tuple[Loc, str]]) -> Condition:
    if not isinstance(raw, dict):
        problems.append((loc, f"expected {CONDITION_SHAPE}; got {raw!r}"))
        return Compare("", "exists")
    combinators = [k for k in raw if k in COMBINATORS]
    if combinators:
        if len(raw) != 1:
            others = ", ".join(str(k) for k in raw)
            problems.append(
                (loc, f"expected one key (all, any or not) per combination; got {others}")
            )
            return Compare("", "exists")
        key = combinators[0]
        inner = raw[key]
        if key == "not":
            return Not(_parse(inner, scope, (*loc, "not"), problems))
        if not isinstance(inner, list) or not inner:
            problems.append(
                ((*loc, key), f"expected a non-empty list of conditions; got {inner!r}")
            )
            return Compare("", "exists")
        parts = tuple(_parse(c, scope, (*loc, key, i), problems) for i, c in enumerate(inner))
        return AllOf(parts) if key == "all" else AnyOf(parts)
    return _parse_leaf(raw, scope, loc, problems)


def _parse_leaf(
    raw: dict[Any, Any], scope: FieldScope, loc: Loc, problems: list[tuple[Loc, str]]
) -> Condition:
    for key in raw:
        if key not in ("field", "op", "value"):
            problems.append(
                (
                    (*loc, str(key)),
                    f"unknown key; expected field, op and value, or {CONDITION_SHAPE}",
                )
            )
    field, op = raw.get("field"), raw.get("op")
    if not isinstance(field, str) or not field.strip():
        problems.append(((*loc, "field"), f"expected a field of {scope.expected()}"))
    elif (why := scope.problem(field)) is not None:
        problems.append(((*loc, "field"), why))
    if op not in OPS:
        shown = "missing" if op is None else repr(op)
        problems.append(((*loc, "op"), f"expected one of {', '.join(OPS)}; got {shown}"))
        return Compare(str(field), "exists")
    value = raw.get("value")
    why_value = _value_problem(str(op), value, "value" in raw)
    if why_value is not None:
        problems.append(((*loc, "value"), why_value))
    stored = tuple(value) if isinstance(value, list) else value
    return Compare(str(field), op, stored)


def parse_condition(raw: object, scope: FieldScope) -> Condition:
    """A validated condition tree from its YAML form; :class:`ConditionError` lists all problems."""
    problems: list[tuple[Loc, str]] = []
    condition = _parse(raw, scope, (), problems)
    if problems:
        raise ConditionError(problems)
    return condition


def dump_condition(condition: Condition) -> dict[str, Any]:
    """The YAML form of a condition tree (what :func:`parse_condition` reads back)."""
    if isinstance(condition, AllOf):
        return {"all": [dump_condition(c) for c in condition.conditions]}
    if isinstance(condition, AnyOf):
        return {"any": [dump_condition(c) for c in condition.conditions]}
    if isinstance(condition, Not):
        return {"not": dump_condition(condition.condition)}
    out: dict[str, Any] = {"field": condition.field, "op": condition.op}
    if condition.op not in _NO_VALUE_OPS:
        value = condition.value
        out["value"] = list(value) if isinstance(value, tuple) else value
    return out


def _validator(scope: FieldScope) -> Callable[[object], Condition]:
    def validate(value: object) -> Condition:
        if isinstance(value, Compare | AllOf | AnyOf | Not):
            value = dump_condition(value)
        try:
            return parse_condition(value, scope)
        except ConditionError as e:
            raise e.as_validation_error() from None

    return validate


EventCondition = Annotated[
    Condition, PlainValidator(_validator(EVENT_SCOPE)), PlainSerializer(dump_condition)
]
ProductCondition = Annotated[
    Condition, PlainValidator(_validator(PRODUCT_SCOPE)), PlainSerializer(dump_condition)
]
UserCondition = Annotated[
    Condition, PlainValidator(_validator(USER_SCOPE)), PlainSerializer(dump_condition)
]
