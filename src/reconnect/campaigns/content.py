"""What a campaign sends: templates and their variables, steps, variations and caps."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    Field,
    PlainValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from reconnect.campaigns.conditions import Loc
from reconnect.campaigns.values import (
    CAP_WINDOW_RANGE,
    WAIT_RANGE,
    Duration,
    FieldProblem,
    Model,
    Prepared,
    Slug,
    Text,
    Weight,
    check_range,
    field_error,
)
from reconnect.vocabulary import CHANNELS

# --- templates, steps, variations ---------------------------------------------------------------

TEMPLATE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # channel: (required fields, optional fields)
    "email": (("subject", "body"), ()),
    "sms": (("body",), ()),
    "web_push": (("title", "body"), ("url",)),
    "app_push": (("title", "body"), ("url",)),
}
TEMPLATE_ROOTS = ("product", "products", "user", "campaign", "message")
TEMPLATE_VARIABLE = re.compile(r"\{\{(.*?)\}\}")  # ``{{ path }}``
_PATH = re.compile(r"^[A-Za-z_]+(\.[A-Za-z0-9_]+)+$")
RAW_MARK = re.compile(r"\|\s*raw$")  # ``{{ path | raw }}``: trusted markup, not HTML-escaped


def _template_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("text", f"expected non-empty text; got {value!r}")
    for var in TEMPLATE_VARIABLE.findall(value):
        name = RAW_MARK.sub("", var.strip()).strip()  # ``| raw``: trusted markup (not escaped)
        if not _PATH.match(name) or name.split(".")[0] not in TEMPLATE_ROOTS:
            raise PydanticCustomError(
                "template",
                f"expected variables like {{{{product.name}}}} with a root of "
                f"{', '.join(TEMPLATE_ROOTS)}; got {{{{{var}}}}}",
            )
    if "{{" in TEMPLATE_VARIABLE.sub("", value) or "}}" in TEMPLATE_VARIABLE.sub("", value):
        raise PydanticCustomError("template", "expected every {{ to be closed by }}")
    return value


TemplateText = Annotated[str, PlainValidator(_template_text)]


class Template(Model):
    """One step's message for one channel; which fields a channel needs: TEMPLATE_FIELDS."""

    subject: TemplateText | None = None
    title: TemplateText | None = None
    body: TemplateText
    url: TemplateText | None = None


def default_templates(copy: tuple[str, str], channels: list[str]) -> dict[str, dict[str, str]]:
    """A type's default message ``(headline, text)`` for each channel (YAML form)."""
    headline, text = copy
    out: dict[str, dict[str, str]] = {}
    for channel in channels:
        required, _ = TEMPLATE_FIELDS[channel]
        fields = {"subject": headline, "title": headline, "body": text}
        out[channel] = {f: fields[f] for f in required}
    return out


class Step(Model):
    """One message of a variation: name (R-STEP-2), wait after the previous step, templates."""

    name: Text
    wait: Duration | None = None
    templates: dict[str, Template] = Field(default_factory=dict)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> Prepared:
        prepared = Prepared(data)
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

    def _check(self) -> list[FieldProblem]:
        """Each channel's template has the fields that channel needs, and no others."""
        problems: list[FieldProblem] = []
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


class Variation(Model):
    """One arm of a campaign: allocation weight, control flag and 1 to 10 steps."""

    id: Slug
    weight: Weight
    control: bool = Field(default=False, strict=True)
    steps: tuple[Step, ...]

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> Prepared:
        prepared = Prepared(data)
        steps = data.get("steps")
        if isinstance(steps, list | tuple) and not 1 <= len(steps) <= MAX_STEPS:
            prepared.problems.append(
                (("steps",), f"expected 1 to {MAX_STEPS} steps (R-STEP-1); got {len(steps)}")
            )
        return prepared

    @field_validator("steps")
    @classmethod
    def _step_waits(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        problems: list[FieldProblem] = []
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
                    check_range(step.wait, *WAIT_RANGE, "a wait", "R-TRIG-2")
                except PydanticCustomError as e:
                    problems.append(((i, "wait"), e.message()))
            if step.name in seen:
                problems.append(
                    ((i, "name"), f"expected a unique step name; {step.name!r} repeats (R-STEP-2)")
                )
            seen.add(step.name)
        if problems:
            raise field_error(problems, "Variation")
        return steps


class Cap(Model):
    """A campaign cap for one channel: at most ``count`` sends per user per ``window``."""

    count: int = Field(ge=1, strict=True)
    window: Duration = timedelta(hours=24)

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        return check_range(value, *CAP_WINDOW_RANGE, "a cap window", "R-CAP-2")
