"""UTC microseconds since the epoch: the unit the per-user and per-person Python passes work in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """An aware datetime as UTC microseconds since the epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def from_micros(micros: int) -> datetime:
    """UTC microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)
