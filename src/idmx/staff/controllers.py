"""The staff dashboard."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import func, select

from idmx.accounts.guards import ALL_STAFF, principal_of, staff_guard
from idmx.db import Database
from idmx.db import models as m
from idmx.staff import scope
from idmx.web import page


class StaffController(Controller):
    path = "/staff"
    guards = [staff_guard]

    @get("/", name="staff:dashboard", opt={"roles": ALL_STAFF}, sync_to_thread=True)
    def dashboard(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
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
            rows = s.execute(query).all()
        now = datetime.now(timezone.utc)
        return page(request, "staff/dashboard.html", {"me": me, "rows": rows, "now": now})
