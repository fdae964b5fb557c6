"""Why a campaign file is refused: problems with their place, error text, raw-input checks.

Every problem names the file, the campaign, the field path and what was expected; a
:class:`CampaignError` lists all of them. The checks here run on the raw mapping, before
the fields are validated, so they are reported even when a field has other problems.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from reconnect.campaigns.conditions import Loc, format_path
from reconnect.campaigns.content import Cap, Variation, default_templates
from reconnect.campaigns.values import FieldProblem
from reconnect.vocabulary import CHANNELS


@dataclass(frozen=True)
class Problem:
    """One reason a campaign file is refused: where, and what was expected."""

    file: str
    path: str
    message: str
    campaign: str | None = None

    def __str__(self) -> str:
        where = f"{self.file} (campaign {self.campaign})" if self.campaign else self.file
        return f"{where}: {self.path}: {self.message}"


class CampaignError(ValueError):
    """Campaign files that cannot be used; ``problems`` holds each one, the message lists all."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in campaign files; nothing was loaded"
        super().__init__("\n  ".join([head, *map(str, self.problems)]))


# --- YAML -----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> tuple[Any, Problem | None]:
    """The YAML document of a file, or the problem reading it."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader), None
    except yaml.YAMLError as e:
        # The text is parsed from a string: its marks say "<unicode string>" for the file.
        detail = " ".join(str(e).replace('"<unicode string>"', str(path)).split())
        return None, Problem(str(path), "(file)", f"expected valid YAML: {detail}")
    except (OSError, UnicodeDecodeError) as e:
        return None, Problem(str(path), "(file)", f"expected a readable UTF-8 file: {e}")


# --- pydantic errors -> problems ------------------------------------------------------------

_BUILTIN_WORDING = {
    "missing": "required; missing",
    "model_type": "expected a mapping of fields",
    "model_attributes_type": "expected a mapping of fields",
    "dict_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "bool_type": "expected true or false",
}
_SHOULD = ("Input should ", "Decimal input should ", "String should ", "Value should ")


def shown(value: object) -> str:
    """A value as the problem text shows it (YAML's spelling of null and booleans)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _wording(err: Any) -> str:
    """What was expected, in the loader's words (``expected ...; got ...``)."""
    kind, msg = err["type"], str(err["msg"])
    if kind in _BUILTIN_WORDING:
        return _BUILTIN_WORDING[kind]
    for prefix in _SHOULD:
        if msg.startswith(prefix):
            rest = msg[len(prefix) :].removeprefix("be ").removeprefix("have ")
            value = err.get("input")
            got = f"; got {shown(value)}" if isinstance(value, str | int | float | None) else ""
            return f"expected {rest}{got}"
    return msg.removeprefix("Value error, ")


def problems_of(source: str, campaign: str | None, err: ValidationError) -> list[Problem]:
    """Each error of a pydantic validation as a :class:`Problem` of ``source``."""
    return [
        Problem(source, format_path(tuple(e["loc"])) or "(top level)", _wording(e), campaign)
        for e in err.errors()
    ]


# --- raw-input checks ------------------------------------------------------------------------


def weights_problem(variations: object) -> FieldProblem | None:
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


def steps_shorthand(loc: Loc) -> Loc:
    """Locations inside the implied variation, as written: ``steps[...]``."""
    if loc[:3] == ("variations", 0, "steps"):
        return ("steps", *loc[3:])
    if loc[:1] == ("variations",):
        return ("steps",)
    return loc


def fill_default_templates(data: dict[str, Any], default: tuple[str, str] | None) -> None:
    """Give every step written without ``templates`` the type's default message per channel."""
    channels, variations = data.get("channels"), data.get("variations")
    if default is None or not isinstance(variations, list | tuple):
        return
    if not isinstance(channels, list | tuple) or not all(c in CHANNELS for c in channels):
        return
    variations = copy.deepcopy(list(variations))
    for variation in variations:
        steps = variation.get("steps") if isinstance(variation, dict) else None
        for step in steps if isinstance(steps, list | tuple) else ():
            if isinstance(step, dict) and "templates" not in step:
                step["templates"] = default_templates(default, list(dict.fromkeys(channels)))
    data["variations"] = variations


# --- checks of validated fields -----------------------------------------------------------------


def channel_problems(channels: tuple[str, ...], keys: bool = False) -> list[FieldProblem]:
    """Unknown channels (R-CHAN-1) and, in a list, repeated ones; ``keys``: the keys of a map."""
    problems: list[FieldProblem] = []
    for i, channel in enumerate(channels):
        where: Loc = (channel,) if keys else (i,)
        if channel not in CHANNELS:
            if keys:
                problems.append(
                    (where, f"unknown channel; expected one of {', '.join(CHANNELS)} (R-CHAN-1)")
                )
            else:
                problems.append(
                    (where, f"expected one of {', '.join(CHANNELS)} (R-CHAN-1); got {channel!r}")
                )
        elif not keys and channel in channels[:i]:
            problems.append((where, f"expected each channel once; {channel!r} repeats"))
    return problems


def repeated_variation_ids(variations: Sequence[Variation]) -> list[FieldProblem]:
    """A variation id used twice (R-AB-1)."""
    ids = [v.id for v in variations]
    return [
        ((i, "id"), f"expected a unique variation id; {vid!r} repeats")
        for i, vid in enumerate(ids)
        if vid in ids[:i]
    ]


def channel_use_problems(
    channels: tuple[str, ...], caps: Mapping[str, Cap], variations: Sequence[Variation]
) -> list[FieldProblem]:
    """Caps and templates name channels of the campaign; each step has a message (R-STEP-1)."""
    mine = ", ".join(channels)
    problems: list[FieldProblem] = [
        (("caps", k), f"expected a channel of this campaign ({mine})")
        for k in caps
        if k not in channels
    ]
    for i, variation in enumerate(variations):
        for j, step in enumerate(variation.steps):
            loc: Loc = ("variations", i, "steps", j, "templates")
            problems += [
                ((*loc, k), f"expected a channel of this campaign ({mine})")
                for k in step.templates
                if k not in channels
            ]
            if not variation.control and not any(c in step.templates for c in channels):
                problems.append(
                    (
                        loc,
                        f"expected a message for at least one of {mine}"
                        " (R-STEP-1); only a control variation may have none",
                    )
                )
    return problems
