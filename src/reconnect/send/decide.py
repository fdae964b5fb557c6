"""The sender's per-person decision: one pass over a person's due messages in send-time order.

Everything that depends on the order of sends (caps, R-CAP-1..4) is decided here, in plain
Python, after Spark has joined each message with what is known at its send time (audience,
priority preemption, identifiers, consent and addresses; :mod:`reconnect.send.settle`).

The order of checks for one message (docs/sending.md, "Order of checks"):

1. detection's verdict: ``CANCELLED`` (exit condition, R-EXIT-1) and ``SUPERSEDED`` (R-REL-1)
   stay; cancelled by a cancel-all-others campaign becomes ``SUPPRESSED`` /
   ``CANCELLED_BY_PRIORITY`` (R-PRIO-3, R-SEND-2);
2. the audience at send time (``AUDIENCE_EXIT``);
3. an empty product payload (``EMPTY_PAYLOAD``, R-REL-2);
4. a higher-priority active journey (``PRIORITY_PREEMPTED``, R-PRIO-2);
5. the channels in the campaign's order (R-CHAN-1): content, identifier (``NO_IDENTIFIER``,
   R-OPT-2), consent (``NOT_OPTED_IN``, R-OPT-1), quiet hours of a fallback channel
   (``QUIET_HOURS``), campaign cap (``FREQUENCY_CAP_CAMPAIGN``, R-CAP-2), global cap
   (``FREQUENCY_CAP_GLOBAL``, R-CAP-1); the first channel that passes is used, and when none
   does the reason is the first channel's;
6. a control variation records the send it would have made as ``CONTROL_GROUP`` (R-AB-2) and
   uses no cap slot.

Messages of one person are taken by (send time, campaign priority, due time, message id): at one
instant, the higher-priority campaign gets the last cap slot (R-CAP-4). A sender batch holds
every message whose send time lies in its range, so the result does not depend on batching.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconnect.campaigns import Campaign
from reconnect.settings import QuietHours, SenderSettings, parse_interval
from reconnect.vocabulary import (
    CAMPAIGN_TYPES,
    CANCELLED,
    CHANNELS,
    CUSTOM_CANCEL_ALL,
    SENT,
    SUPERSEDED,
    SUPPRESSED,
)

# R-PRIO-2: the priority class whose messages are never preempted, and the class whose
# campaigns do not compete with each other (custom without cancel-all-others).
NEVER_PREEMPTED = CAMPAIGN_TYPES["user_attribute_change"].priority_class
NOT_COMPETING = CAMPAIGN_TYPES["custom"].priority_class
_FEED_ADDRESS = {"email": "email", "sms": "phone", "web_push": "", "app_push": ""}
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def priority_class(campaign: Campaign) -> str:
    """The R-PRIO-1 class of a campaign: its type, with custom split by cancel_all_others."""
    if getattr(campaign, "cancel_all_others", False):
        return CUSTOM_CANCEL_ALL
    return CAMPAIGN_TYPES[campaign.type].priority_class


def priority_ranks(campaigns: Sequence[Campaign], sender: SenderSettings) -> dict[str, int]:
    """Campaign id -> rank, 0 the highest: class order, then ``priority``, then id (R-PRIO-1)."""
    order = {c: i for i, c in enumerate(sender.priority_order)}
    ranked = sorted(campaigns, key=lambda c: (order[priority_class(c)], c.priority, c.id))
    return {c.id: i for i, c in enumerate(ranked)}


# --- time zones and quiet hours (R-QUIET-1) -----------------------------------------------------


def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The user's time zone, else the campaign's (an unknown name falls back too)."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def in_quiet(quiet: QuietHours, at: datetime, tz: ZoneInfo) -> bool:
    """Whether ``at`` (UTC) falls in the quiet hours, read on the wall clock of ``tz``."""
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute
    start, end = quiet.minutes("start"), quiet.minutes("end")
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def quiet_end(quiet: QuietHours, at: datetime, tz: ZoneInfo) -> datetime:
    """The end of the quiet hours that hold ``at`` (UTC), DST-safe.

    The end is a wall-clock time: on the local day of ``at`` if it is still ahead, else on the
    next day. A wall-clock end that does not exist (clocks jump forward) moves forward with the
    jump; one that exists twice takes its first occurrence.
    """
    local = at.astimezone(tz)
    hh, mm = divmod(quiet.minutes("end"), 60)
    day = local.date()
    if local.hour * 60 + local.minute >= quiet.minutes("end"):
        day += timedelta(days=1)
    naive = datetime(day.year, day.month, day.day, hh, mm)
    end = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if end.astimezone(tz).replace(tzinfo=None) != naive:  # in a gap: the clock jumped over it
        end = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return end


def send_time(
    due_at: datetime, channel: str | None, tz: ZoneInfo, sender: SenderSettings
) -> datetime:
    """R-QUIET-1: the due time, or the end of the primary channel's quiet hours holding it."""
    quiet = sender.quiet_hours.get(channel) if channel else None
    if quiet is None or not in_quiet(quiet, due_at, tz):
        return due_at
    return quiet_end(quiet, due_at, tz)


# --- one person's pass ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRules:
    """What the per-person pass needs to know about one campaign."""

    id: str
    name: str
    type: str
    timezone: str
    rank: int
    channels: tuple[str, ...]
    caps: dict[str, tuple[int, int]]  # channel -> (count, window in microseconds)
    # (variation id, step number) -> channel -> template fields
    templates: dict[tuple[str, int], dict[str, dict[str, str]]]

    @classmethod
    def of(cls, campaign: Campaign, rank: int) -> CampaignRules:
        """The rules of ``campaign``; a control step without templates counts as having all."""
        templates: dict[tuple[str, int], dict[str, dict[str, str]]] = {}
        for v in campaign.variations:
            for n, step in enumerate(v.steps, start=1):
                templates[(v.id, n)] = {
                    c: {k: t for k, t in step.templates[c].model_dump().items() if t is not None}
                    for c in campaign.channels
                    if c in step.templates
                }
        caps = {
            ch: (cap.count, int(cap.window.total_seconds()) * 1_000_000)
            for ch, cap in campaign.caps.items()
        }
        return cls(
            campaign.id,
            campaign.name,
            campaign.type,
            campaign.timezone,
            rank,
            campaign.channels,
            caps,
            templates,
        )

    def content(self, variation_id: str, step: int, is_control: bool) -> dict[str, dict[str, str]]:
        """Channel -> template fields of one step (control steps: every channel, no fields)."""
        found = self.templates.get((variation_id, step), {})
        if is_control and not found:
            return {c: {} for c in self.channels}
        return found


@dataclass
class Counters:
    """A person's sends per channel (global) and per (campaign, channel), in time order."""

    by_channel: dict[str, deque[int]] = field(default_factory=dict)
    by_campaign: dict[tuple[str, str], deque[int]] = field(default_factory=dict)

    def add(self, campaign_id: str, channel: str, at: int) -> None:
        """Record one send at ``at`` (microseconds)."""
        self.by_channel.setdefault(channel, deque()).append(at)
        self.by_campaign.setdefault((campaign_id, channel), deque()).append(at)

    @staticmethod
    def count(times: deque[int] | None, at: int, window: int) -> int:
        """Sends in the rolling window (at - window, at]; the window excludes its start."""
        if not times:
            return 0
        return sum(1 for t in times if at - window < t <= at)


@dataclass(frozen=True)
class Decision:
    """The terminal state of one message."""

    state: str
    reason: str | None
    channel: str | None = None
    address: str | None = None


def _valid_address(channel: str, address: str | None) -> bool:
    if not address:
        return False
    if channel == "sms":
        return bool(_E164.match(address))
    if channel == "email":
        return "@" in address
    return True


def choose_channel(
    m: Mapping[str, Any],
    rules: CampaignRules,
    counters: Counters,
    sender: SenderSettings,
    global_window: int,
) -> Decision:
    """R-CHAN-1 over the campaign's channels at the message's send time."""
    at: int = m["send_at"]
    content = rules.content(m["variation_id"], m["step_number"], m["is_control"])
    tz = zone((m.get("user_attributes") or {}).get("timezone"), rules.timezone)
    first: str | None = None
    for channel in rules.channels:
        if channel not in content:
            continue
        i = CHANNELS.index(channel)
        address = m["address"][i] or (m.get("user_attributes") or {}).get(_FEED_ADDRESS[channel])
        quiet = sender.quiet_hours.get(channel)
        cap = rules.caps.get(channel)
        if not m["identified"][i] or (m["consent"][i] and not _valid_address(channel, address)):
            reason = "NO_IDENTIFIER"
        elif not m["consent"][i]:
            reason = "NOT_OPTED_IN"
        elif quiet is not None and in_quiet(quiet, _dt(at), tz):
            reason = "QUIET_HOURS"
        elif (
            cap
            and Counters.count(counters.by_campaign.get((rules.id, channel)), at, cap[1]) >= cap[0]
        ):
            reason = "FREQUENCY_CAP_CAMPAIGN"
        elif Counters.count(counters.by_channel.get(channel), at, global_window) >= (
            sender.global_cap_count
        ):
            reason = "FREQUENCY_CAP_GLOBAL"
        else:
            return Decision(SENT, None, channel, address)
        first = first or reason
    return Decision(SUPPRESSED, first or "NO_IDENTIFIER")


def decide(
    m: Mapping[str, Any],
    rules: CampaignRules,
    counters: Counters,
    sender: SenderSettings,
    global_window: int,
) -> Decision:
    """The terminal state of one message (the module note gives the order of checks)."""
    if m["state"] == CANCELLED and m["reason"] == "CANCELLED_BY_PRIORITY":
        return Decision(SUPPRESSED, "CANCELLED_BY_PRIORITY")
    if m["state"] in (CANCELLED, SUPERSEDED):
        return Decision(m["state"], m["reason"])
    if not m["audience_ok"]:
        return Decision(SUPPRESSED, "AUDIENCE_EXIT")
    if CAMPAIGN_TYPES[rules.type].carries_products and not m["payload"]:
        return Decision(SUPPRESSED, "EMPTY_PAYLOAD")
    if m["preempted"]:
        return Decision(SUPPRESSED, "PRIORITY_PREEMPTED")
    d = choose_channel(m, rules, counters, sender, global_window)
    if d.state == SENT:
        if m["is_control"]:
            return Decision(SUPPRESSED, "CONTROL_GROUP", d.channel, d.address)
        assert d.channel is not None
        counters.add(rules.id, d.channel, m["send_at"])
    return d


def order_key(m: Mapping[str, Any], ranks: Mapping[str, int]) -> tuple[int, int, int, str]:
    """R-CAP-4: send time, then campaign priority, then due time, then message id."""
    return (m["send_at"], ranks[m["campaign_id"]], m["due_at"], m["message_id"])


def decide_person(
    history: Iterable[Mapping[str, Any]],
    messages: Iterable[Mapping[str, Any]],
    rules: Mapping[str, CampaignRules],
    sender: SenderSettings,
) -> Iterator[tuple[Mapping[str, Any], Decision]]:
    """Decide one person's messages, given their earlier sends (``history``) in the cap window."""
    counters = Counters()
    for h in sorted(history, key=lambda h: h["send_at"]):
        counters.add(h["campaign_id"], h["channel"], h["send_at"])
    ranks = {k: r.rank for k, r in rules.items()}
    global_window = parse_interval(sender.global_cap_window) * 1_000_000
    for m in sorted(messages, key=lambda m: order_key(m, ranks)):
        yield m, decide(m, rules[m["campaign_id"]], counters, sender, global_window)


def history_reach(rules: Iterable[CampaignRules], sender: SenderSettings) -> timedelta:
    """How far back earlier sends matter: the longest cap window."""
    longest = max(
        [parse_interval(sender.global_cap_window) * 1_000_000]
        + [w for r in rules for _, w in r.caps.values()]
    )
    return timedelta(microseconds=longest)


def _dt(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
