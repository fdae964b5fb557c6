"""Campaign field values: durations, names, numbers, schedules, and the base model.

Every model of a campaign file derives from :class:`Model`: frozen, closed (an unknown key is
reported with what is allowed there), and reporting every problem at once with its field path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from reconnect.campaigns.conditions import Loc, Scalar, scalar_problem

FieldProblem: TypeAlias = tuple[Loc, str]

# --- problems as pydantic errors --------------------------------------------------------------


def error_details(problems: list[FieldProblem]) -> list[InitErrorDetails]:
    """Problems as pydantic's error details, each at its own location."""
    return [
        InitErrorDetails(type=PydanticCustomError("campaign", msg), loc=loc, input=None)
        for loc, msg in problems
    ]


def field_error(problems: list[FieldProblem], title: str) -> ValidationError:
    """One pydantic error holding every problem at its own location."""
    return ValidationError.from_exception_data(title, error_details(problems))


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
class Prepared:
    """Raw input after a model's own pre-checks: the data to validate and problems found."""

    data: dict[str, Any]
    problems: list[FieldProblem] = field(default_factory=list)
    relocate: Callable[[Loc], Loc] = _same


class Model(BaseModel):
    """Frozen, closed model whose errors name every unknown key with what is allowed there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> Prepared:
        """Raw-input checks and rewrites that run before field validation (hook)."""
        return Prepared(data)

    @classmethod
    def _misplaced(cls, key: str) -> str | None:
        """Why a key that belongs elsewhere is not allowed here (hook); None: just unknown."""
        return None

    def _check(self) -> list[FieldProblem]:
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
                cls.__name__, error_details(problems) + passed
            ) from None
        if problems:
            raise field_error(problems, cls.__name__)
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


def check_range(value: timedelta, low: str, high: str, what: str, rule: str) -> timedelta:
    """``value`` if it lies in ``[low, high]``, else an error naming ``what`` and its rule."""
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


class Schedule(Model):
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
