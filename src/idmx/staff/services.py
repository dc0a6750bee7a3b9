"""Staff reads: the dashboard's consultations and the central team's audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from idmx.accounts import scope
from idmx.accounts.services import StaffPrincipal
from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m
from idmx.i18n import DISPLAY_TZ
from idmx.moderation.services import changes
from idmx.staff.forms import CENTRAL_TEAM, SYSTEM, AuditFilters

PAGE_SIZE = 50


def dashboard_rows(db: Database, me: StaffPrincipal, now: datetime) -> list[tuple[m.Consultation, str | None, int, rules.Phase]]:
    """The consultations this staff member may see, newest first, with their pending proposals and phase."""
    pending = (
        select(m.Proposal.consultation_id, func.count().label("n"))
        .where(m.Proposal.status == m.ProposalStatus.pending)
        .group_by(m.Proposal.consultation_id)
        .subquery()
    )
    query = scope.consultations(
        select(m.Consultation, m.Institution.acronym, func.coalesce(pending.c.n, 0))
        .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
        .outerjoin(pending, pending.c.consultation_id == m.Consultation.id)
        .order_by(m.Consultation.opens_at.desc()),
        me,
    )
    with db.read() as s:
        return [(c, acronym, pending, rules.phase(c, now)) for c, acronym, pending in s.execute(query)]


def _day_start(day: date) -> datetime:
    """Dates are typed in Mexico City time, as the log shows them."""
    return datetime.combine(day, time.min, tzinfo=DISPLAY_TZ)


def _conditions(f: AuditFilters) -> list[Any]:
    e = m.AuditEvent
    where: list[Any] = []
    if f.actor == SYSTEM:
        where.append(e.actor_id.is_(None))
    elif f.actor:
        where.append(e.actor_id == int(f.actor))
    if f.institution == CENTRAL_TEAM:
        where.append(e.institution_id.is_(None))
    elif f.institution:
        where.append(e.institution_id == int(f.institution))
    if f.action:
        where.append(e.action == f.action)
    if f.object_type:
        where.append(e.object_type == f.object_type)
    if f.object_id is not None:
        where.append(e.object_id == f.object_id)
    if f.date_from:
        where.append(e.at >= _day_start(f.date_from))
    if f.date_to:
        where.append(e.at < _day_start(f.date_to + timedelta(days=1)))
    return where


@dataclass
class AuditPage:
    events: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def search(db: Database, f: AuditFilters) -> AuditPage:
    where = _conditions(f)
    with db.read() as s:
        total = s.scalar(select(func.count()).select_from(m.AuditEvent).where(*where)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        f.page = min(f.page, pages)
        rows = s.execute(
            select(m.AuditEvent, m.StaffUser.email, m.Institution.acronym)
            .outerjoin(m.StaffUser, m.StaffUser.id == m.AuditEvent.actor_id)
            .outerjoin(m.Institution, m.Institution.id == m.AuditEvent.institution_id)
            .where(*where)
            .order_by(m.AuditEvent.at.desc(), m.AuditEvent.id.desc())
            .limit(PAGE_SIZE)
            .offset((f.page - 1) * PAGE_SIZE)
        ).all()
    events = [
        {"id": e.id, "at": e.at, "actor": email, "institution": acronym, "action": e.action,
         "object_type": e.object_type, "object_id": e.object_id, "note": e.public_note,
         "changes": changes(e.before, e.after)}
        for e, email, acronym in rows
    ]
    return AuditPage(events, total, f.page, pages)


def filter_choices(db: Database) -> dict[str, list[Any]]:
    with db.read() as s:
        return {
            "actors": s.execute(select(m.StaffUser.id, m.StaffUser.email).order_by(m.StaffUser.email)).all(),
            "institutions": s.execute(select(m.Institution.id, m.Institution.acronym).order_by(m.Institution.acronym)).all(),
            "actions": list(s.scalars(select(m.AuditEvent.action).distinct().order_by(m.AuditEvent.action))),
            "object_types": list(s.scalars(select(m.AuditEvent.object_type).distinct().order_by(m.AuditEvent.object_type))),
        }
