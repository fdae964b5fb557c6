"""Schedule slots in a campaign's time zone (R-TRIG-3), safe across daylight-saving changes.

Times are UTC microseconds since the epoch, the unit detection works in. A slot is "the send hour
on an allowed weekday" in local time. On the day clocks spring forward the local hour may not
exist (02:00 in Berlin): the slot is the instant that wall time would be without the jump, i.e.
one hour later on the new clock (03:00 CEST). On the day clocks fall back an hour occurs twice:
the slot is its first occurrence. Either way every day has exactly one slot: none is skipped or
doubled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reconnect.micros import from_micros, to_micros


def slot_on(day: date, hour: int, zone: ZoneInfo) -> int:
    """The instant of ``hour``:00 local time on ``day`` (see the module note on DST days)."""
    local = datetime.combine(day, time(hour), tzinfo=zone)  # fold=0: first occurrence / pre-jump
    return to_micros(local.astimezone(UTC))


def next_slot(at: int, weekdays: tuple[int, ...], hour: int, zone: ZoneInfo) -> int:
    """The first slot at or after ``at`` (R-TRIG-3): an allowed weekday, ``hour`` local time."""
    day = from_micros(at).astimezone(zone).date() - timedelta(days=1)
    for _ in range(9):  # one week of candidates plus the day before and after
        if day.weekday() in weekdays:
            slot = slot_on(day, hour, zone)
            if slot >= at:
                return slot
        day += timedelta(days=1)
    raise ValueError(f"no allowed weekday in {weekdays}")  # pragma: no cover - validated at load


def slots_between(
    start: int, end: int, weekdays: tuple[int, ...], hour: int, zone: ZoneInfo
) -> Iterator[int]:
    """Every slot in ``[start, end)``, in time order."""
    if start >= end:
        return
    slot = next_slot(start, weekdays, hour, zone)
    while slot < end:
        yield slot
        # The next slot is on a later local day: look from the start of the following local day.
        local_day = from_micros(slot).astimezone(zone).date() + timedelta(days=1)
        slot = next_slot(slot_on(local_day, 0, zone), weekdays, hour, zone)
