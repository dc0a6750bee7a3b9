"""Deadlines and the plan-item state machine: pure functions over plain data, no database, no HTTP.

Business days are Monday to Friday except the statutory rest days of the Ley Federal del Trabajo, from
the `holidays` package (1 January, the Monday holidays of February, March and November, 1 May,
16 September, 25 December, and 1 October of inauguration years), which the law fixes for every year,
and the further non-working days given as `off_days` (a set of dates: the official calendar the central
team keeps in the database, `idmx.calendar.services.off_days`, plus the institution's own days). Due
dates never fall on a non-working day: computed ones roll forward, and a commitment to one is refused.

A plan item's stored answer is one of pending, committed, published, denied (`PlanStatus`). Every
allowed move is a function here that returns the new answer and the event recording it, and refuses
anything else with `TransitionError`; services persist both in one transaction. What the public sees
(`public_status`) is derived from the stored answer and today's date, so "overdue" can never drift
from "due date passed and not published".
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import holidays
import numpy as np

from idmx.enums import PlanStatus

DEFAULT_ANSWER_DAYS = 20
NON_WORKING_DUE_DATE = ("The due date falls on a Saturday, a Sunday or an official non-working day: "
                        "choose a working day.")
# Default tiers: (tier, business days from publication to the latest due date, default last rank).
DEFAULT_TIERS: tuple[tuple[int, int, int | None], ...] = ((1, 65, 10), (2, 130, 30), (3, 250, None))


# --- business days -------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> tuple[np.datetime64, ...]:
    return tuple(np.datetime64(day) for day in holidays.country_holidays("MX", years=year))


def federal_holidays(start: date, end: date) -> list[np.datetime64]:
    """Federal rest days between two dates (inclusive), across year ends."""
    return [d for year in range(start.year, end.year + 1) for d in _holidays_of(year)]


OffDays = Collection[date] | None


def _rest(start: date, end: date, off_days: OffDays) -> list[np.datetime64]:
    statutory = federal_holidays(start, end)
    return statutory + [np.datetime64(d) for d in off_days] if off_days else statutory


def add_business_days(start: date, days: int, off_days: OffDays = None) -> date:
    """The date `days` business days after `start` (a non-business `start` counts from the next one)."""
    if days < 0:
        raise ValueError("days must be zero or more")
    # Generous window: 250 business days never span more than ~ 1.5 calendar years.
    window_end = start + timedelta(days=days * 2 + 30)
    rest = _rest(start, window_end, off_days)
    return np.busday_offset(np.datetime64(start), days, roll="forward", holidays=rest).astype(date)


def business_days_between(start: date, end: date, off_days: OffDays = None) -> int:
    """Business days in [start, end): 0 when end <= start."""
    if end <= start:
        return 0
    return int(np.busday_count(np.datetime64(start), np.datetime64(end), holidays=_rest(start, end, off_days)))


def is_business_day(day: date, off_days: OffDays = None) -> bool:
    return bool(np.is_busday(np.datetime64(day), holidays=_rest(day, day, off_days)))


def next_business_day(day: date, off_days: OffDays = None) -> date:
    """`day` itself when it is a business day, else the first one after it."""
    return add_business_days(day, 0, off_days)


# --- the plan item's answer ----------------------------------------------------------------------------------


class PublicStatus(enum.StrEnum):
    pending = "pending"  # assigned, still within the time to answer
    unanswered = "unanswered"
    committed = "committed"
    overdue = "overdue"
    published_on_time = "published_on_time"
    published_late = "published_late"
    denied = "denied"


class TransitionError(ValueError):
    """A move the state machine does not allow, or an answer missing what it requires. `field` names the input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Answer:
    """An item's stored answer, as the state machine sees it (mirrors the PlanItem columns)."""

    status: PlanStatus = PlanStatus.pending
    answer_by: date | None = None
    policy_due: date | None = None
    due_date: date | None = None
    late_justification: str = ""
    published_url: str = ""
    catalogue_id: str = ""
    published_on: date | None = None
    legal_basis_id: int | None = None
    denial_explanation: str = ""


@dataclass(frozen=True)
class Event:
    kind: str
    from_status: PlanStatus | None
    to_status: PlanStatus
    details: dict[str, Any] = field(default_factory=dict)


ANSWER_FIELDS = [f for f in Answer.__dataclass_fields__]


def _require(condition: bool, message: str, field_name: str | None = None) -> None:
    if not condition:
        raise TransitionError(message, field_name)


def _event(kind: str, before: Answer, after: Answer, **details: Any) -> Event:
    return Event(kind, before.status, after.status, {k: v for k, v in details.items() if v not in (None, "")})


def created(answer: Answer) -> Event:
    """The first event of every item's history."""
    return Event("created", None, answer.status, {k: v for k, v in (
        ("answer_by", answer.answer_by), ("policy_due", answer.policy_due)) if v is not None})


def commit(a: Answer, due_date: date | None, today: date, justification: str = "",
           off_days: OffDays = None) -> tuple[Answer, Event]:
    """Commit to (or move) a publication date, on a business day. Later than the policy allows needs a
    written justification."""
    _require(a.status in (PlanStatus.pending, PlanStatus.committed),
             "Only an unanswered or committed item can get a due date.", "status")
    _require(due_date is not None, "Give a due date.", "due_date")
    assert due_date is not None
    _require(due_date >= today, "The due date cannot be in the past.", "due_date")
    _require(is_business_day(due_date, off_days), NON_WORKING_DUE_DATE, "due_date")
    justification = justification.strip()
    late = a.policy_due is not None and due_date > a.policy_due
    _require(not late or bool(justification),
             "This date is later than the policy allows: explain why in the justification.", "justification")
    new = replace(a, status=PlanStatus.committed, due_date=due_date, late_justification=justification if late else "")
    kind = "committed" if a.status == PlanStatus.pending else "due_date_changed"
    return new, _event(kind, a, new, due_date=due_date, previous_due_date=a.due_date,
                       late_justification=new.late_justification)


def valid_dataset_url(url: str) -> bool:
    parts = urlsplit(url)
    return url.startswith(("http://", "https://")) and bool(parts.netloc) and " " not in url and len(url) <= 2000


def publish(a: Answer, url: str, today: date, catalogue_id: str = "") -> tuple[Answer, Event]:
    """Mark published with the dataset's address; a published item may correct its address later."""
    _require(a.status in (PlanStatus.pending, PlanStatus.committed, PlanStatus.published),
             "A denied item must be reopened before it can be published.", "status")
    url = url.strip()
    _require(valid_dataset_url(url), "Give the dataset's address, starting with http:// or https://.", "url")
    catalogue_id = catalogue_id.strip()
    _require(len(catalogue_id) <= 200, "The catalogue identifier is too long (200 characters at most).", "catalogue_id")
    published_on = a.published_on if a.status == PlanStatus.published else today
    new = replace(a, status=PlanStatus.published, published_url=url, catalogue_id=catalogue_id,
                  published_on=published_on)
    kind = "published" if a.status != PlanStatus.published else "url_changed"
    return new, _event(kind, a, new, url=url, catalogue_id=catalogue_id, published_on=published_on)


def deny(a: Answer, legal_basis_id: int | None, explanation: str) -> tuple[Answer, Event]:
    """Deny with a legal basis and an explanation; both are required and both are public."""
    _require(a.status in (PlanStatus.pending, PlanStatus.committed),
             "Only an unanswered or committed item can be denied.", "status")
    _require(legal_basis_id is not None, "Choose the legal basis of the denial.", "legal_basis")
    explanation = explanation.strip()
    _require(bool(explanation), "Explain the denial.", "explanation")
    _require(len(explanation) <= 4000, "The explanation is too long (4,000 characters at most).", "explanation")
    new = replace(a, status=PlanStatus.denied, legal_basis_id=legal_basis_id, denial_explanation=explanation,
                  due_date=None, late_justification="")
    return new, _event("denied", a, new, legal_basis_id=legal_basis_id, explanation=explanation)


def reopen(a: Answer, today: date, answer_days: int, note: str = "", off_days: OffDays = None) -> tuple[Answer, Event]:
    """Take a denial back: the item is unanswered again, with a fresh time to answer."""
    _require(a.status == PlanStatus.denied, "Only a denied item can be reopened.", "status")
    new = replace(a, status=PlanStatus.pending, legal_basis_id=None, denial_explanation="",
                  answer_by=add_business_days(today, answer_days, off_days))
    return new, _event("reopened", a, new, note=note.strip(), answer_by=new.answer_by)


def _unpublish(a: Answer) -> Answer:
    """The answer before the publication: committed to its date, or unanswered when it had none."""
    status = PlanStatus.committed if a.due_date is not None else PlanStatus.pending
    return replace(a, status=status, published_url="", catalogue_id="", published_on=None)


def reject_publication(a: Answer, reason: str) -> tuple[Answer, Event]:
    """The central team does not accept a claimed publication: the item is open again, the reason public."""
    _require(a.status == PlanStatus.published, "Only a published item can have its publication rejected.", "status")
    reason = reason.strip()
    _require(bool(reason), "Say why the publication is rejected.", "reason")
    _require(len(reason) <= 4000, "The explanation is too long (4,000 characters at most).", "reason")
    new = _unpublish(a)
    return new, _event("publication_rejected", a, new, url=a.published_url, reason=reason)


def link_broken(a: Answer, problem: str) -> tuple[Answer, Event]:
    """The published address no longer serves the data (the worker's check): the item is open again."""
    _require(a.status == PlanStatus.published, "Only a published item can have a broken link.", "status")
    new = _unpublish(a)
    return new, _event("link_broken", a, new, url=a.published_url, problem=problem.strip()[:500])


def public_status(a: Answer, today: date) -> PublicStatus:
    """What the public sees today."""
    if a.status == PlanStatus.denied:
        return PublicStatus.denied
    if a.status == PlanStatus.published:
        deadline = a.due_date or a.policy_due
        late = deadline is not None and a.published_on is not None and a.published_on > deadline
        return PublicStatus.published_late if late else PublicStatus.published_on_time
    if a.status == PlanStatus.committed:
        assert a.due_date is not None
        return PublicStatus.overdue if today > a.due_date else PublicStatus.committed
    if a.answer_by is not None and today > a.answer_by:
        return PublicStatus.unanswered
    return PublicStatus.pending


def replay(start: Answer, events: list[Event]) -> PlanStatus:
    """The stored status the history leads to: the last event's, or the start's when there are none."""
    status = start.status
    for event in events:
        if event.from_status is not None and event.from_status != status:
            raise ValueError(f"history jumps from {status} to an event starting at {event.from_status}")
        status = event.to_status
    return status
