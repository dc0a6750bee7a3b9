"""The one clock: every "now" and "today" of the platform comes from here.

Deadlines, opening and closing times, rate-limit windows and audit records all read `now()` (an aware
UTC datetime) or `today()` (the calendar date in Mexico City, where the federal government counts its
days). Nothing else calls `datetime.now()`, so a test or a command can move time for everything at once:

    with clock.frozen(datetime(2027, 3, 1, 18, tzinfo=UTC)):   # tests: time stands still
        ...
    clock.install(clock.OffsetClock(timedelta(days=60)))         # `idmx --now ...`: time runs, shifted

The installed clock is process-wide (not per request): background jobs, services and handlers must all
agree on what day it is. Pure: no framework, no database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "MEXICO_CITY",
    "Clock",
    "FixedClock",
    "OffsetClock",
    "SystemClock",
    "current",
    "frozen",
    "install",
    "local_date",
    "now",
    "parse_moment",
    "today",
]

# Deadlines count in the federal government's days (Mexico City time); the database stores UTC.
MEXICO_CITY = ZoneInfo("America/Mexico_City")


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class OffsetClock:
    """The system clock moved by a fixed offset: time keeps running (demos, `idmx --now`)."""

    offset: timedelta

    @classmethod
    def starting_at(cls, moment: datetime) -> OffsetClock:
        return cls(moment - datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class FixedClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, moment: datetime) -> None:
        self._moment = _aware(moment)

    def now(self) -> datetime:
        return self._moment

    def set(self, moment: datetime) -> None:
        self._moment = _aware(moment)

    def advance(self, delta: timedelta) -> datetime:
        self._moment += delta
        return self._moment


_current: Clock = SystemClock()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a clock needs an aware datetime (with a time zone)")
    return moment.astimezone(UTC)


def current() -> Clock:
    return _current


def install(clock: Clock) -> Clock:
    """Make `clock` the process's clock; returns the previous one so a caller can put it back."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def frozen(moment: datetime) -> Iterator[FixedClock]:
    fixed = FixedClock(moment)
    previous = install(fixed)
    try:
        yield fixed
    finally:
        install(previous)


def now() -> datetime:
    """The current moment, aware, in UTC."""
    return _current.now()


def local_date(moment: datetime) -> date:
    """The calendar date in Mexico City at `moment`."""
    return moment.astimezone(MEXICO_CITY).date()


def today() -> date:
    """Today's date in Mexico City."""
    return local_date(now())


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time for `--now` / IDMX_NOW; a bare date means noon in Mexico City, a naive
    time is Mexico City time. Raises ValueError with a readable message."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r} (e.g. 2027-03-01 or 2027-03-01T09:30-06:00)") from None
    if len(text) == 10:  # a date alone: midday, far from any day boundary
        moment = moment.replace(hour=12)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=MEXICO_CITY)
    return moment.astimezone(UTC)
