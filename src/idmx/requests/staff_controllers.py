"""The central team's data-request queue: validate and route each request to an institution, or reject it.

Both decisions are final: acting on a request that was already decided answers 409 and changes nothing.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.db import Database
from idmx.requests import forms, services
from idmx.web import FormData, form_int, page, see_other

CENTRAL_ONLY = {"roles": CENTRAL}


class StaffDataRequestController(Controller):
    path = "/staff/requests"
    guards = [staff_guard]

    @get("/", name="staff_requests:list", opt=CENTRAL_ONLY, sync_to_thread=True)
    def queue(self, request: Request, db: NamedDependency[Database]) -> Template:
        params = request.query_params
        status = params.get("status", "received")
        result = services.list_requests(db, status=status, page=form_int(params.get("page")) or 1,
                                        oldest_first=status == "received")
        return page(request, "staff/requests/list.html", {"me": principal_of(request), "result": result,
                                                          "done": params.get("done", "")})

    @get("/{request_id:int}", name="staff_requests:detail", opt=CENTRAL_ONLY, sync_to_thread=True)
    def detail(self, request: Request, request_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._detail_page(request, db, request_id)

    def _detail_page(self, request: Request, db: Database, request_id: int, *,
                     route_form: forms.RouteForm | None = None, reject_form: forms.RejectForm | None = None,
                     status: int = 200) -> Template:
        row = services.get_request(db, request_id)
        if route_form is None:
            route_form = forms.RouteForm(institution_id=services.suggested_route(row, db))
        return page(request, "staff/requests/detail.html", {
            "me": principal_of(request), "r": row, "route_form": route_form,
            "reject_form": reject_form or forms.RejectForm(), "institutions": services.institution_options(db),
        }, status_code=status)

    @post("/{request_id:int}/route", name="staff_requests:route", opt=CENTRAL_ONLY, sync_to_thread=True)
    def route(
        self, request: Request, request_id: FromPath[int], data: FormData, db: NamedDependency[Database]
    ) -> Response:
        services.ensure_open(db, request_id)
        form = forms.parse_route(data, {i for i, *_ in services.institution_options(db)})
        if form.errors:
            return self._detail_page(request, db, request_id, route_form=form, status=422)
        services.route(db, principal_of(request), request_id, form.institution_id or 0, form.note)
        return see_other(request.app.route_reverse("staff_requests:list") + f"?done=routed-{request_id}")

    @post("/{request_id:int}/reject", name="staff_requests:reject", opt=CENTRAL_ONLY, sync_to_thread=True)
    def reject(
        self, request: Request, request_id: FromPath[int], data: FormData, db: NamedDependency[Database]
    ) -> Response:
        services.ensure_open(db, request_id)
        form = forms.parse_reject(data)
        if form.errors:
            return self._detail_page(request, db, request_id, reject_form=form, status=422)
        services.reject(db, principal_of(request), request_id, form.reason)
        return see_other(request.app.route_reverse("staff_requests:list") + f"?done=rejected-{request_id}")
