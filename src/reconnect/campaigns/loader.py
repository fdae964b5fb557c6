"""Campaign folders -> validated campaigns, or one error that lists every problem; listings.

A folder of YAML files (one campaign per file) is loaded all or nothing: every file is
validated, duplicate ids across files are found, and if anything is wrong a single
:class:`~reconnect.campaigns.validation.CampaignError` lists each problem as ``<file> (campaign
<id>): <field path>: <what was expected>``, so no job ever runs on a half-valid set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconnect.campaigns.types import Campaign, load_file
from reconnect.campaigns.validation import CampaignError, Problem

CAMPAIGN_SUFFIXES = (".yaml", ".yml")


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
        campaign, found = load_file(path)
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
