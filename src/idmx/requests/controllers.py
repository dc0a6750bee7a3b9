"""Data requests: anyone lists them, reads one and sends a new one without signing in; the central team
validates and routes each to an institution, or rejects it.

Both staff decisions are final: acting on a request that was already decided answers 409 and changes nothing.
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

# The same limits as proposals: counted per client (no cookie is set here) and per address.
REQUEST_LIMIT = {"rate_limit": "proposal"}
CENTRAL_ONLY = {"roles": CENTRAL}


class DataRequestController(Controller):
    path = "/requests"

    @get("/", name="requests:list", sync_to_thread=True)
    def list_requests(self, request: Request, db: NamedDependency[Database]) -> Template:
        params = request.query_params
        result = services.list_requests(db, status=params.get("status", ""), page=form_int(params.get("page")) or 1)
        return page(request, "requests/list.html", {"result": result}, fragment="requests/_list.html")

    @get("/new", name="requests:new", sync_to_thread=True)
    def new(self, request: Request, db: NamedDependency[Database]) -> Template:
        choices = services.form_choices(db)
        about = form_int(request.query_params.get("about"))
        form = forms.RequestForm()
        if about is not None and about in {i for i, *_ in choices["published"]}:
            form.kind, form.about_item_id = "problem", about
        elif request.query_params.get("kind") in forms.KINDS:
            form.kind = request.query_params["kind"]
        return self._form_page(request, form, choices)

    def _form_page(self, request: Request, form: forms.RequestForm, choices: dict, status: int = 200) -> Template:
        return page(request, "requests/new.html", {"form": form, "choices": choices}, status_code=status)

    @post("/new", name="requests:create", sync_to_thread=True, opt=REQUEST_LIMIT)
    def create(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Response:
        choices = services.form_choices(db)
        form = forms.parse_request(
            data, institutions={i for i, *_ in choices["institutions"]}, segments={i for i, *_ in choices["segments"]},
            published_items={i for i, *_ in choices["published"]},
        )
        if not form.valid:
            return self._form_page(request, form, choices, status=422)
        request_id = services.create_request(db, form)
        return see_other(request.app.route_reverse("requests:detail", request_id=request_id) + "?created=1")

    @get("/{request_id:int}", name="requests:detail", sync_to_thread=True)
    def detail(self, request: Request, request_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        row = services.get_request(db, request_id)
        return page(request, "requests/detail.html", {"r": row, "created": request.query_params.get("created") == "1"})


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
