"""The central team's calendar page: the year's non-working days, national and per institution."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from idmx import clock
from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.calendar import forms, services
from idmx.db import Database
from idmx.errors import Conflict
from idmx.web import FormData, form_int, page, see_other

CENTRAL_ONLY = {"roles": CENTRAL}


class CalendarController(Controller):
    path = "/staff/calendar"
    guards = [staff_guard]

    @get("/", name="calendar:index", opt=CENTRAL_ONLY, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        year = form_int(request.query_params.get("year")) or clock.today().year
        return self._page(request, db, year if 1900 < year < 2200 else clock.today().year, forms.DayForm())

    def _page(self, request: Request, db: Database, year: int, form: forms.DayForm, *, error: str = "",
              status: int = 200) -> Template:
        return page(request, "staff/calendar/index.html", {
            "me": principal_of(request), "v": services.calendar_view(db, year), "form": form, "error": error,
            "saved": request.query_params.get("saved", ""),
        }, status_code=status)

    @post("/", name="calendar:add", opt=CENTRAL_ONLY, sync_to_thread=True)
    def add(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Response:
        form = forms.parse_day(data, services.institution_ids(db))
        year = form.day.year if form.day else clock.today().year
        if form.errors:
            return self._page(request, db, year, form, status=422)
        try:
            services.add_day(db, principal_of(request), form)
        except Conflict as err:
            return self._page(request, db, year, form, error=err.message, status=409)
        return see_other(request.app.route_reverse("calendar:index") + f"?year={year}&saved=added")

    @post("/delete", name="calendar:delete", opt=CENTRAL_ONLY, sync_to_thread=True)
    def delete(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Response:
        day_id = form_int(data.get("day_id"))
        year = form_int(data.get("year")) or clock.today().year
        if day_id is not None:
            services.remove_day(db, principal_of(request), day_id)
        return see_other(request.app.route_reverse("calendar:index") + f"?year={year}&saved=removed")
