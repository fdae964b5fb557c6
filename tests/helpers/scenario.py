"""Run small hand-made scenarios (and the worked examples of spec/vectors.yaml) end to end:
landing files -> ingest -> feeds -> detect -> send, then read step eligibility and messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from tests.helpers.paths import SPEC_DIR

from reconnect.campaigns import Campaign, parse_campaign
from reconnect.lake.landing import events_dir, feed_sync_dir, subscribers_sync_dir
from reconnect.settings import Settings

# Keys the vectors put at the campaign's top level that sit under ``trigger`` in our format.
_TRIGGER_KEYS = ("interaction", "change", "min_drop_percent", "min_drop_amount", "product")


def vectors() -> list[dict[str, Any]]:
    """The worked examples of ``spec/vectors.yaml``."""
    return list(yaml.safe_load((SPEC_DIR / "vectors.yaml").read_text()))


def ts(text: str) -> datetime:
    """An ISO-8601 UTC text as a naive UTC datetime (how Spark hands timestamps back)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def campaign(raw: dict[str, Any]) -> Campaign:
    """A vector's campaign in our format (docs/campaigns.md)."""
    data = dict(raw)
    trigger = dict(data.pop("trigger", {}) or {})
    for key in _TRIGGER_KEYS:
        if key in data:
            trigger[key] = data.pop(key)
    if trigger:
        data["trigger"] = trigger
    data.setdefault("name", data["id"])
    return parse_campaign(data, f"vector campaign {data['id']}")


@dataclass
class Scenario:
    """Inputs of one scenario in the vectors' shape."""

    campaigns: list[Campaign]
    events: list[list[Any]] = field(default_factory=list)
    product_feed: list[dict[str, Any]] = field(default_factory=list)
    user_feed: list[dict[str, Any]] = field(default_factory=list)
    subscribers: dict[str, list[list[str]]] = field(default_factory=dict)

    @classmethod
    def of_vector(cls, v: dict[str, Any]) -> Scenario:
        """A vector's inputs."""
        return cls(
            [campaign(c) for c in v["campaigns"]],
            v.get("events", []),
            v.get("product_feed", []),
            v.get("user_feed", []),
            v.get("subscribers", {}),
        )

    def event_rows(self) -> list[dict[str, Any]]:
        """DATA.md events; ids e1, e2, ... in row order."""
        rows = []
        for i, (t, user, etype, fields) in enumerate(self.events, start=1):
            row = {"event_id": f"e{i}", "event_time": t, "user_id": user, "event_type": etype}
            row.update(fields or {})
            rows.append(row)
        return rows

    def write_feeds(self, landing: Path) -> None:
        """Product, user and subscriber syncs into the landing zone."""
        for feed, syncs in (("product_feed", self.product_feed), ("user_feed", self.user_feed)):
            for sync in syncs:
                folder = feed_sync_dir(landing, feed, ts(sync["sync_time"]))  # type: ignore[arg-type]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "part.jsonl").write_text(
                    "".join(json.dumps(r) + "\n" for r in sync["rows"])
                )
        first = min((r[0] for r in self.events), default="2026-01-01T00:00:00Z")
        at = ts(first[:10] + "T00:00:00Z")
        for channel, rows in self.subscribers.items():
            folder = subscribers_sync_dir(landing, channel, at)  # type: ignore[arg-type]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "list.csv").write_text(
                "cuid,address\n" + "".join(f"{c},{a}\n" for c, a in rows)
            )

    def write_events(self, landing: Path, rows: list[dict[str, Any]], name: str) -> None:
        """One events file."""
        folder = events_dir(landing)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_pipeline(
    spark: Any, settings: Settings, campaigns: list[Campaign], send: bool = True
) -> None:
    """ingest -> feeds -> detect (-> send), each to the end of what has landed."""
    from reconnect.detect.pipeline import run_detect
    from reconnect.feeds.pipeline import run_feed_changes
    from reconnect.ingest.pipeline import run_ingest
    from reconnect.send.pipeline import run_send

    run_ingest(spark, settings)
    run_feed_changes(spark, settings)
    run_detect(spark, settings, campaigns)
    if send:
        run_send(spark, settings, campaigns)


def run_scenario(spark: Any, settings: Settings, s: Scenario, send: bool = True) -> None:
    """The whole scenario as one landing and one run."""
    landing = Path(settings.paths.landing)
    s.write_feeds(landing)
    s.write_events(landing, s.event_rows(), "events.jsonl")
    run_pipeline(spark, settings, s.campaigns, send)


def messages(spark: Any, settings: Settings) -> list[dict[str, Any]]:
    """Step eligibility rows as dicts, in a stable order."""
    from reconnect.lake.tables import GOLD_STEP_ELIGIBILITY

    rows = spark.read.format("delta").load(GOLD_STEP_ELIGIBILITY.location(settings)).collect()
    out = [r.asDict(recursive=True) for r in rows]
    return sorted(
        out, key=lambda r: (r["campaign_id"], r["user_key"], r["due_at"], r["step_number"])
    )


def sent_messages(spark: Any, settings: Settings) -> list[dict[str, Any]]:
    """gold.messages rows as dicts, in a stable order."""
    from reconnect.lake.tables import GOLD_MESSAGES

    rows = spark.read.format("delta").load(GOLD_MESSAGES.location(settings)).collect()
    return sorted(
        (r.asDict(recursive=True) for r in rows),
        key=lambda r: (r["campaign_id"], r["person_key"], r["due_at"], r["step_number"]),
    )
