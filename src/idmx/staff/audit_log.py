"""The audit log for central administrators: every staff action, filtered and paged, each with a compact diff."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import func, select

from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.consultations.forms import clean_text
from idmx.db import Database
from idmx.db import models as m
from idmx.i18n import DISPLAY_TZ
from idmx.i18n import gettext as _
from idmx.staff.moderation_services import changes
from idmx.web import page

PAGE_SIZE = 50
SYSTEM = "system"  # actor filter: actions without a staff member (command line, seeds)
CENTRAL_TEAM = "central"  # institution filter: actions of the central team


@dataclass
class AuditFilters:
    actor: str = ""
    institution: str = ""
    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: Any) -> str:
        """This filter set as a query string, with `changes` applied (e.g. another page)."""
        values = {**{k: v for k, v in self.raw.items() if v and k not in self.errors}, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _parse_date(raw: str, name: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Write a date as YYYY-MM-DD.")
        return None


def parse_filters(params: Mapping[str, Any]) -> AuditFilters:
    keys = ("actor", "institution", "action", "object_type", "object_id", "from", "to", "page")
    raw = {k: clean_text(params.get(k))[:100] for k in keys}
    errors: dict[str, str] = {}
    for key in ("actor", "institution"):
        if raw[key] and not raw[key].isdigit() and raw[key] not in (SYSTEM, CENTRAL_TEAM):
            errors[key] = _("Choose an option from the list.")
    object_id = int(raw["object_id"]) if raw["object_id"].isdigit() else None
    if raw["object_id"] and object_id is None:
        errors["object_id"] = _("Write a whole number.")
    date_from = _parse_date(raw["from"], "from", errors)
    date_to = _parse_date(raw["to"], "to", errors)
    if date_from and date_to and date_from > date_to:
        errors["to"] = _("The end date must not be before the start date.")
        date_to = None
    return AuditFilters(
        actor="" if "actor" in errors else raw["actor"],
        institution="" if "institution" in errors else raw["institution"],
        action=raw["action"], object_type=raw["object_type"], object_id=object_id, date_from=date_from,
        date_to=date_to, page=int(raw["page"]) if raw["page"].isdigit() and int(raw["page"]) > 0 else 1,
        raw={k: v for k, v in raw.items() if k != "page"}, errors=errors,
    )


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


class AuditLogController(Controller):
    path = "/staff/audit"
    guards = [staff_guard]

    @get("/", name="audit:list", opt={"roles": CENTRAL}, sync_to_thread=True)
    def list_events(self, request: Request, db: NamedDependency[Database]) -> Template:
        filters = parse_filters(request.query_params)
        result = search(db, filters)
        context = {"me": principal_of(request), "f": filters, "result": result, "choices": filter_choices(db),
                   "system": SYSTEM, "central": CENTRAL_TEAM}
        return page(request, "staff/audit/list.html", context, fragment="staff/audit/_events.html",
                    status_code=422 if filters.errors else 200)
