"""The central team's changes to the institutions: each one transaction with its audit record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from idmx import audit
from idmx.accounts.services import StaffPrincipal
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import DomainError
from idmx.i18n import gettext as _
from idmx.institution_admin.forms import NewInstitution, Succession

FIELDS = ["acronym", "name_es", "name_en", "level", "state_id", "successor_id", "dissolved_on"]


@dataclass(frozen=True)
class Row:
    id: int
    acronym: str
    name_es: str
    name_en: str
    level: str
    state: str | None
    successor: str | None
    dissolved_on: date | None


def listing(db: Database) -> list[Row]:
    successor = aliased(m.Institution)
    with db.read() as s:
        return [Row(*r) for r in s.execute(
            select(m.Institution.id, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en,
                   m.Institution.level, m.State.name, successor.acronym, m.Institution.dissolved_on)
            .outerjoin(m.State, m.State.id == m.Institution.state_id)
            .outerjoin(successor, successor.id == m.Institution.successor_id)
            .order_by(m.Institution.acronym)
        )]


def state_choices(db: Database) -> list[tuple[int, str]]:
    with db.read() as s:
        return [(i, n) for i, n in s.execute(select(m.State.id, m.State.name).order_by(m.State.name))]


def create(db: Database, who: StaffPrincipal, form: NewInstitution) -> int:
    try:
        with db.write() as s:
            inst = m.Institution(acronym=form.acronym, name_es=form.name_es, name_en=form.name_en, level=form.level,
                                 state_id=form.state_id)
            s.add(inst)
            s.flush()
            audit.record(s, actor_id=who.id, action="institution.create", obj=("institution", inst.id),
                         after=audit.snapshot(inst, FIELDS))
            return inst.id
    except IntegrityError:  # the unique acronym, checked by the database (two forms at once included)
        raise DomainError(_("An institution with this acronym already exists."), field="acronym") from None


def mark_succeeded(db: Database, who: StaffPrincipal, form: Succession) -> None:
    with db.write() as s:
        inst = s.get(m.Institution, form.institution_id)
        if inst is None or s.get(m.Institution, form.successor_id) is None:
            raise DomainError(_("Choose the institution that was abolished or merged."), field="institution")
        if _leads_back(s, form.successor_id, inst.id):
            raise DomainError(_("That institution already succeeds this one: a chain of successors cannot loop."),
                              field="successor")
        before = audit.snapshot(inst, FIELDS)
        inst.successor_id, inst.dissolved_on = form.successor_id, form.dissolved_on
        audit.record(s, actor_id=who.id, action="institution.succeeded", obj=("institution", inst.id),
                     before=before, after=audit.snapshot(inst, FIELDS))


def _leads_back(s, start: int, target: int) -> bool:
    """Whether following successors from `start` reaches `target` (a loop would hide every current body)."""
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = s.scalar(select(m.Institution.successor_id).where(m.Institution.id == current))
    return False
