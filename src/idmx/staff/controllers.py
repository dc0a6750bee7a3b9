"""The staff dashboard (consultations, and what is due) and the central team's audit log."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from idmx import clock
from idmx.accounts.guards import ADMINS, ALL_STAFF, CENTRAL, principal_of, staff_guard
from idmx.db import Database
from idmx.reminders import services as reminders
from idmx.staff import forms, services
from idmx.web import page


class StaffController(Controller):
    path = "/staff"
    guards = [staff_guard]

    @get("/", name="staff:dashboard", opt={"roles": ALL_STAFF}, sync_to_thread=True)
    def dashboard(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        # What is due comes first for those who answer for the plan (moderators have no plan to keep).
        due = reminders.due_items(db, me) if me.role in ADMINS else None
        return page(request, "staff/dashboard.html",
                    {"me": me, "rows": services.dashboard_rows(db, me, clock.now()), "due": due, "due_shown": 5})


class AuditLogController(Controller):
    path = "/staff/audit"
    guards = [staff_guard]

    @get("/", name="audit:list", opt={"roles": CENTRAL}, sync_to_thread=True)
    def list_events(self, request: Request, db: NamedDependency[Database]) -> Template:
        filters = forms.parse_filters(request.query_params)
        result = services.search(db, filters)
        context = {"me": principal_of(request), "f": filters, "result": result, "choices": services.filter_choices(db),
                   "system": forms.SYSTEM, "central": forms.CENTRAL_TEAM}
        return page(request, "staff/audit/list.html", context, fragment="staff/audit/_events.html",
                    status_code=422 if filters.errors else 200)
