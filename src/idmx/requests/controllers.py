"""Public routes of data requests: anyone lists them, reads one, and sends a new one without signing in."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx.db import Database
from idmx.requests import forms, services
from idmx.web import FormData, form_int, page, see_other

# The same limits as proposals: counted per client (no cookie is set here) and per address.
REQUEST_LIMIT = {"rate_limit": "proposal"}


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
