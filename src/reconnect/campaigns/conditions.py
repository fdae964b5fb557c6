"""Campaign conditions (R-TRIG-1): structured data, validated at load, compiled to Spark Columns.

A condition is a leaf ``{field, op, value}`` or a combination ``{all: [...]}``, ``{any: [...]}``,
``{not: ...}``. Which fields a condition may name depends on where it stands (a
:class:`FieldScope`): audiences read user attributes, "don't send if" reads events, product
triggers read the product. Compilation builds :class:`pyspark.sql.Column` objects only; no
condition is ever turned into SQL text.

Comparison semantics (docs/campaigns.md, "Conditions"):

- A number in the condition compares numerically (the field is cast to double; text that is not
  a number matches nothing); a string compares as text; ``gt`` / ``lt`` on strings compare
  lexicographically (ISO dates work).
- A missing field (null, absent key, empty text) makes every operator false except ``ne``,
  ``not_in`` and ``not_exists``, which are the exact negations of ``eq``, ``in`` and ``exists``.
  Leaves are never null, so ``not`` is plain boolean negation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, get_args

from pydantic import PlainSerializer, PlainValidator, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from pyspark.sql import Column
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from reconnect.campaigns.model import AttributeChange

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


# --- compilation to Spark Columns ---------------------------------------------------------------

FieldResolver = Callable[[str], Column]


def field_column(field: str) -> Column:
    """The Column of a field in a frame with event columns and ``properties`` / ``attributes`` maps.

    ``<map>.<key>`` reads the map column ``<map>`` (null when the key is absent); any other field
    is the column of that name.
    """
    head, dot, key = field.partition(".")
    if dot:
        return F.try_element_at(F.col(head), F.lit(key))
    return F.col(field)


def _text(c: Column) -> Column:
    return c.cast("string")


def _number(c: Column) -> Column:
    return c.try_cast("double")


def _present(c: Column) -> Column:
    return c.isNotNull() & (_text(c) != "")


def _typed(c: Column, value: Scalar) -> tuple[Column, Column]:
    if isinstance(value, str):
        return _text(c), F.lit(value)
    return _number(c), F.lit(float(value))


def _is_in(c: Column, values: tuple[Scalar, ...]) -> Column:
    texts = [v for v in values if isinstance(v, str)]
    numbers = [float(v) for v in values if not isinstance(v, str)]
    parts = []
    if texts:
        parts.append(_text(c).isin(texts))
    if numbers:
        parts.append(_number(c).isin(numbers))
    return reduce(lambda a, b: a | b, parts)


def _scalar(value: Scalar | tuple[Scalar, ...] | None) -> Scalar:
    if value is None or isinstance(value, tuple):
        raise ValueError(f"expected one value, got {value!r}")
    return value


def _values(value: Scalar | tuple[Scalar, ...] | None) -> tuple[Scalar, ...]:
    if not isinstance(value, tuple):
        raise ValueError(f"expected a list of values, got {value!r}")
    return value


_NEGATIONS = {"ne": "eq", "not_in": "in", "not_exists": "exists"}


def _compare(c: Column, op: Op, value: Scalar | tuple[Scalar, ...] | None) -> Column:
    """The leaf's test, never null: a missing or mistyped field is false (see module docstring)."""
    base = _NEGATIONS.get(op, op)
    if base == "exists":
        test = _present(c)
    elif base == "in":
        test = _is_in(c, _values(value))
    elif base == "contains":
        test = _text(c).contains(F.lit(_scalar(value)))
    else:
        left, right = _typed(c, _scalar(value))
        ordered = {
            "eq": left == right,
            "gt": left > right,
            "gte": left >= right,
            "lt": left < right,
            "lte": left <= right,
        }
        test = ordered[base]
    test = F.coalesce(test, F.lit(False))
    return test if base == op else ~test


def compile_condition(condition: Condition, resolve: FieldResolver = field_column) -> Column:
    """A boolean Column, never null, true for the rows that meet ``condition``.

    ``resolve`` maps a field name to its Column in the frame at hand (default
    :func:`field_column`).
    """
    if isinstance(condition, Compare):
        return _compare(resolve(condition.field), condition.op, condition.value)
    if isinstance(condition, Not):
        return ~compile_condition(condition.condition, resolve)
    parts = [compile_condition(c, resolve) for c in condition.conditions]
    if isinstance(condition, AllOf):
        return reduce(lambda a, b: a & b, parts)
    return reduce(lambda a, b: a | b, parts)


def _differs(old: Column, new: Column) -> Column:
    # Numerically when both are numbers ("5" -> "5.0" is no change), else as text.
    return F.coalesce(_number(old) != _number(new), _text(old) != _text(new))


def compile_change(
    change: AttributeChange, old: Column, new: Column, include_first_appearance: bool = False
) -> Column:
    """A boolean Column, never null, true where ``old`` -> ``new`` is the change described.

    ``old`` / ``new`` are the attribute's values in two consecutive syncs. A value that
    disappears is not a change (R-TYPE-UATTR); a first appearance (``old`` missing) is one only
    when ``include_first_appearance`` and no ``from`` is set.
    """
    changed = _present(new) & F.when(_present(old), _differs(old, new)).otherwise(
        F.lit(include_first_appearance)
    )
    tests = [changed]
    if change.from_ is not None:
        tests.append(_compare(old, "eq", change.from_))
    if change.to is not None:
        tests.append(_compare(new, "eq", change.to))
    if change.to_greater_than is not None:
        tests.append(_compare(new, "gt", change.to_greater_than))
    if change.to_less_than is not None:
        tests.append(_compare(new, "lt", change.to_less_than))
    return F.coalesce(reduce(lambda a, b: a & b, tests), F.lit(False))
