"""The official calendar: the days on which no deadline falls.

National days (``institution_id`` NULL) are the federal government's, declared each year (the statutory
rest days and the days of the annual agreement published in the DOF); an institution may have days of
its own on top. The central team keeps both (`/staff/calendar`); `idmx seed` loads
``seeds/non_working_days.json`` for every year that has no national day yet, so a year the central team
has edited is never overwritten.

Deadline arithmetic stays pure (`idmx.plans.policy` takes the days as a set): `off_days` reads them.
The statutory rest days count whatever the table says (the law fixes them; `policy` adds them itself),
so a year nobody has declared yet still skips them; the seed lists them too, so the page shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, extract, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idmx import audit
from idmx.accounts.services import StaffPrincipal
from idmx.calendar.forms import DayForm
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.paths import seeds_dir

SEED_FILE = "non_working_days.json"


def off_days(s: Session, institution_id: int | None = None) -> frozenset[date]:
    """The national non-working days plus, given an institution, its own."""
    query = select(m.NonWorkingDay.day).where(
        or_(m.NonWorkingDay.institution_id.is_(None), m.NonWorkingDay.institution_id == institution_id)
        if institution_id is not None else m.NonWorkingDay.institution_id.is_(None))
    return frozenset(s.scalars(query))


def off_days_by_institution(s: Session) -> tuple[frozenset[date], dict[int, frozenset[date]]]:
    """The national days and each institution's full set (national plus its own), in two queries' worth."""
    national: set[date] = set()
    own: dict[int, set[date]] = {}
    for day, institution_id in s.execute(select(m.NonWorkingDay.day, m.NonWorkingDay.institution_id)):
        if institution_id is None:
            national.add(day)
        else:
            own.setdefault(institution_id, set()).add(day)
    frozen = frozenset(national)
    return frozen, {i: frozen | days for i, days in own.items()}


def seed(db: Database) -> int:
    """Load the seed file's national days for each year without any; returns the days added."""
    with open(seeds_dir() / SEED_FILE, encoding="utf-8") as fh:
        rows = [{**row, "day": date.fromisoformat(row["day"])} for row in json.load(fh)]
    with db.write() as s:
        years = {int(y) for y in s.scalars(select(extract("year", m.NonWorkingDay.day))
                                           .where(m.NonWorkingDay.institution_id.is_(None)).distinct())}
        new = [row for row in rows if row["day"].year not in years]
        s.add_all(m.NonWorkingDay(institution_id=None, **row) for row in new)
        return len(new)


@dataclass(frozen=True)
class DayRow:
    id: int
    day: date
    name_es: str
    name_en: str
    institution: str  # acronym, "" for a national day


@dataclass
class CalendarView:
    year: int
    years: list[int]
    days: list[DayRow]
    institutions: list[tuple[int, str, str]]


def calendar_view(db: Database, year: int) -> CalendarView:
    with db.read() as s:
        rows = s.execute(
            select(m.NonWorkingDay, m.Institution.acronym)
            .outerjoin(m.Institution, m.Institution.id == m.NonWorkingDay.institution_id)
            .where(extract("year", m.NonWorkingDay.day) == year)
            .order_by(m.NonWorkingDay.day, m.Institution.acronym.is_not(None), m.Institution.acronym)
        ).all()
        years = sorted({int(y) for y in s.scalars(select(extract("year", m.NonWorkingDay.day)).distinct())} | {year})
        institutions = [(i, a, n) for i, a, n in s.execute(
            select(m.Institution.id, m.Institution.acronym, m.Institution.name_es).order_by(m.Institution.acronym))]
    days = [DayRow(d.id, d.day, d.name_es, d.name_en, acronym or "") for d, acronym in rows]
    return CalendarView(year, years, days, institutions)


def institution_ids(db: Database) -> set[int]:
    with db.read() as s:
        return set(s.scalars(select(m.Institution.id)))


def add_day(db: Database, me: StaffPrincipal, form: DayForm) -> int:
    """Declare a non-working day (audited). The same day twice for the same scope is a conflict."""
    assert form.day is not None and not form.errors
    try:
        with db.write() as s:
            row = m.NonWorkingDay(day=form.day, institution_id=form.institution_id, name_es=form.name_es,
                                  name_en=form.name_en)
            s.add(row)
            s.flush()
            audit.record(s, actor_id=me.id, action="calendar.add", obj=("non_working_day", row.id),
                         institution_id=form.institution_id,
                         after={"day": form.day, "name_es": form.name_es, "institution_id": form.institution_id})
            return row.id
    except IntegrityError as err:
        raise Conflict(_("That day is already a non-working day here; nothing was added.")) from err


def remove_day(db: Database, me: StaffPrincipal, day_id: int) -> None:
    """Take a day out of the calendar (audited). Dates already computed keep their value."""
    with db.write() as s:
        row = s.get(m.NonWorkingDay, day_id)
        if row is None:
            raise NotFound(_("There is no such non-working day."))
        audit.record(s, actor_id=me.id, action="calendar.remove", obj=("non_working_day", row.id),
                     institution_id=row.institution_id,
                     before={"day": row.day, "name_es": row.name_es, "institution_id": row.institution_id})
        s.execute(delete(m.NonWorkingDay).where(m.NonWorkingDay.id == day_id))
