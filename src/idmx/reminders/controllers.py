"""The staff page of what is due: overdue items and those due within ten business days."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from idmx import clock
from idmx.accounts.guards import ADMINS, principal_of, staff_guard
from idmx.db import Database
from idmx.reminders import services
from idmx.web import page


class DueController(Controller):
    path = "/staff/due"
    guards = [staff_guard]

    @get("/", name="due:index", opt={"roles": ADMINS}, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        rows = services.due_items(db, me)
        return page(request, "staff/due/index.html", {"me": me, "rows": rows, "today": clock.today()})


