"""When a consultation accepts what (pure): its phase, whether it takes writes, whether results are public.

The one place for these rules; pages, the vote path, the API, exports and staff actions all ask here.
Functions take anything with the consultation's columns (`status`, `opens_at`, `closes_at`,
`results_visibility`): an ORM row, a plain record or a test double.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol

from idmx.enums import ConsultationStatus, ProposalStatus, ResultsVisibility
from idmx.errors import Conflict
from idmx.i18n import gettext as _

__all__ = [
    "Phase", "check_open", "check_votable", "is_open", "phase", "phase_when_published", "results_visible", "started",
]


class Phase(enum.StrEnum):
    draft = "draft"  # not published: invisible to the public
    upcoming = "upcoming"
    open = "open"
    closed = "closed"


class Dated(Protocol):
    status: ConsultationStatus | str
    opens_at: datetime
    closes_at: datetime


class Visible(Dated, Protocol):
    results_visibility: ResultsVisibility | str


def phase(c: Dated, now: datetime) -> Phase:
    if c.status != ConsultationStatus.published:
        return Phase.draft
    return phase_when_published(c, now)


def phase_when_published(c: Dated, now: datetime) -> Phase:
    """The phase respondents see (or will see: staff preview a draft as if it were published)."""
    if now < c.opens_at:
        return Phase.upcoming
    return Phase.open if now < c.closes_at else Phase.closed


def started(c: Dated, now: datetime) -> bool:
    """Published and past its opening date: the rules that shape its results are frozen."""
    return c.status == ConsultationStatus.published and c.opens_at <= now


def is_open(c: Dated, now: datetime) -> bool:
    return phase(c, now) == Phase.open


def results_visible(c: Visible, now: datetime) -> bool:
    """Live results are public while the consultation runs; the others once it has closed."""
    if c.status != ConsultationStatus.published:
        return False
    return c.results_visibility == ResultsVisibility.live or now >= c.closes_at


def check_open(c: Dated, now: datetime) -> None:
    """Writes are accepted only between opening and closing, by the server's clock."""
    if now < c.opens_at:
        raise Conflict(_("This consultation has not opened yet. Nothing was saved."))
    if now >= c.closes_at:
        raise Conflict(_("This consultation is closed. Nothing was saved."))


def check_votable(status: ProposalStatus | str) -> None:
    if status == ProposalStatus.merged:
        raise Conflict(_("This proposal was merged into another one; vote for that one instead. Nothing was saved."))
    if status != ProposalStatus.published:
        raise Conflict(_("This proposal is not open for votes. Nothing was saved."))
