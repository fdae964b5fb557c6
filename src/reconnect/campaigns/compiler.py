"""Campaign conditions compiled to Spark Columns (R-TRIG-1); never to SQL text.

Comparison semantics (docs/campaigns.md, "Conditions"):

- A number in the condition compares numerically (the field is cast to double; text that is not
  a number matches nothing); a string compares as text; ``gt`` / ``lt`` on strings compare
  lexicographically (ISO dates work).
- A missing field (null, absent key, empty text) makes every operator false except ``ne``,
  ``not_in`` and ``not_exists``, which are the exact negations of ``eq``, ``in`` and ``exists``.
  Leaves are never null, so ``not`` is plain boolean negation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from reconnect.campaigns.conditions import AllOf, Compare, Condition, Not, Op, Scalar
from reconnect.campaigns.triggers import AttributeChange

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
