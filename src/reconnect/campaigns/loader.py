"""Campaign files -> validated campaigns, or one error that lists every problem.

A folder of YAML files (one campaign per file) is loaded all or nothing: every file is
validated, duplicate ids across files are found, and if anything is wrong a single
:class:`CampaignError` lists each problem as ``<file> (campaign <id>): <field path>: <what was
expected>``, so no job ever runs on a half-valid set.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reconnect.campaigns.conditions import format_path
from reconnect.campaigns.model import CAMPAIGN_TYPES, Campaign

CAMPAIGN_SUFFIXES = (".yaml", ".yml")


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


def _read_yaml(path: Path) -> tuple[Any, Problem | None]:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader), None
    except yaml.YAMLError as e:
        detail = " ".join(str(e).split())
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


def _shown(value: object) -> str:
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
            got = f"; got {_shown(value)}" if isinstance(value, str | int | float | None) else ""
            return f"expected {rest}{got}"
    return msg.removeprefix("Value error, ")


def _problems(source: str, campaign: str | None, err: ValidationError) -> list[Problem]:
    return [
        Problem(source, format_path(tuple(e["loc"])) or "(top level)", _wording(e), campaign)
        for e in err.errors()
    ]


# --- loading --------------------------------------------------------------------------------


def _validate(raw: object, source: str) -> tuple[Campaign | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(source, "(top level)", "expected a mapping of campaign fields")]
    ident = raw.get("id") if isinstance(raw.get("id"), str) else None
    kind = raw.get("type")
    if kind not in CAMPAIGN_TYPES:
        got = "missing" if kind is None else f"got {_shown(kind)}"
        expected = f"expected one of {', '.join(CAMPAIGN_TYPES)} (R-TYPE-*); {got}"
        return None, [Problem(source, "type", expected, ident)]
    try:
        return CAMPAIGN_TYPES[kind].model_validate(raw), []
    except ValidationError as e:
        return None, _problems(source, ident, e)


def parse_campaign(raw: object, source: str = "<mapping>") -> Campaign:
    """The campaign of one YAML mapping (its class picked by ``type``); raises CampaignError."""
    campaign, problems = _validate(raw, source)
    if problems or campaign is None:
        raise CampaignError(problems)
    return campaign


def _load_file(path: Path) -> tuple[Campaign | None, list[Problem]]:
    raw, problem = _read_yaml(path)
    if problem is not None:
        return None, [problem]
    return _validate(raw, str(path))


def load_campaign_file(path: str | Path) -> Campaign:
    """The campaign of one YAML file; raises CampaignError naming every problem."""
    campaign, problems = _load_file(Path(path))
    if problems or campaign is None:
        raise CampaignError(problems)
    return campaign


def campaign_files(folder: Path) -> list[Path]:
    """The campaign files of a folder in name order: ``*.yaml`` / ``*.yml``, not hidden ones."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix in CAMPAIGN_SUFFIXES and not p.name.startswith(".")
    )


def load_campaigns(folder: Path) -> list[Campaign]:
    """Every campaign of a folder, by id; one CampaignError lists every problem of every file.

    Sub-folders are not read. Two files with the same campaign id are an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CampaignError([Problem(str(folder), "(folder)", "expected a folder of campaigns")])
    campaigns: list[Campaign] = []
    problems: list[Problem] = []
    first_file: dict[str, Path] = {}
    for path in campaign_files(folder):
        campaign, found = _load_file(path)
        problems += found
        if campaign is None:
            continue
        if campaign.id in first_file:
            problems.append(
                Problem(
                    str(path),
                    "id",
                    f"expected a unique campaign id; {campaign.id!r} is also the id in "
                    f"{first_file[campaign.id]}",
                    campaign.id,
                )
            )
            continue
        first_file[campaign.id] = path
        campaigns.append(campaign)
    if problems:
        raise CampaignError(problems)
    return sorted(campaigns, key=lambda c: c.id)


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    """One campaign as a line of ``reconnect campaigns``-style listings."""

    id: str
    type: str
    status: str
    priority: int
    channels: tuple[str, ...]
    variations: tuple[str, ...]
    """``<id> <weight>%``, with ``(control)`` for control variations."""
    steps: tuple[int, ...]
    """The step count of each variation, in variation order."""

    def cells(self) -> tuple[str, ...]:
        """The row as text cells, in :data:`ROW_HEADER` order."""
        return (
            self.id,
            self.type,
            self.status,
            str(self.priority),
            " > ".join(self.channels),
            ", ".join(self.variations),
            "/".join(map(str, self.steps)),
        )


ROW_HEADER = ("id", "type", "status", "priority", "channels", "variations", "steps")


def campaign_rows(campaigns: Iterable[Campaign]) -> list[CampaignRow]:
    """One row per campaign, by id: type, status, priority, channels, variations and steps."""
    rows = []
    for c in sorted(campaigns, key=lambda c: c.id):
        variations = tuple(
            f"{v.id} {v.weight.normalize():f}%{' (control)' if v.control else ''}"
            for v in c.variations
        )
        rows.append(
            CampaignRow(
                c.id,
                c.type,
                c.status,
                c.priority,
                c.channels,
                variations,
                tuple(len(v.steps) for v in c.variations),
            )
        )
    return rows


def format_campaign_table(rows: Sequence[CampaignRow]) -> str:
    """The rows as an aligned text table with a header line."""
    table = [ROW_HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(ROW_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    )
