"""`/staff/institutions` (central team only): the institutions, a form to add one, and a form to mark one
as succeeded by another (a body abolished or merged by a reform keeps its plans; pages then say
"now: <successor>"). Forms re-render in place with their errors (422); a success redirects (303)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.db import Database
from idmx.enums import Level
from idmx.errors import DomainError
from idmx.i18n import gettext as _
from idmx.institution_admin import forms, services
from idmx.web import FormData, page, see_other

NO_STORE = {"Cache-Control": "no-store"}
PAGE = "staff/institutions/list.html"


def _context(db: Database, me: Any, **extra: Any) -> dict[str, Any]:
    rows = services.listing(db)
    return {
        "me": me,
        "rows": rows,
        "choices": [(r.id, f"{r.acronym} — {r.name_es}") for r in rows],
        "states": services.state_choices(db),
        "levels": [(Level.federal.value, _("Federal")), (Level.state.value, _("State")),
                   (Level.municipal.value, _("Municipal"))],
        "new": dict.fromkeys(("acronym", "name_es", "name_en", "level", "state"), ""), "new_errors": {},
        "succession": dict.fromkeys(("institution", "successor", "dissolved_on"), ""), "succession_errors": {},
        **extra,
    }


class StaffInstitutionController(Controller):
    path = "/staff/institutions"
    guards = [staff_guard]

    @get("/", name="institution_admin:list", opt={"roles": CENTRAL}, sync_to_thread=True)
    def list_institutions(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, PAGE, _context(db, principal_of(request)))

    @post("/", name="institution_admin:create", opt={"roles": CENTRAL}, sync_to_thread=True)
    def create(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Template | Redirect:
        form = forms.parse_new(data, {i for i, _n in services.state_choices(db)})
        if not form.errors:
            try:
                services.create(db, principal_of(request), form)
                return see_other(request.app.route_reverse("institution_admin:list"))
            except DomainError as exc:
                form.errors[exc.field or "acronym"] = exc.message
        context = _context(db, principal_of(request), new=form.raw, new_errors=form.errors)
        return Template(PAGE, context=context, status_code=422, headers=NO_STORE)

    @post("/successor", name="institution_admin:successor", opt={"roles": CENTRAL}, sync_to_thread=True)
    def successor(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Template | Redirect:
        form = forms.parse_succession(data, {r.id for r in services.listing(db)})
        if not form.errors:
            try:
                services.mark_succeeded(db, principal_of(request), form)
                return see_other(request.app.route_reverse("institution_admin:list"))
            except DomainError as exc:
                form.errors[exc.field or "institution"] = exc.message
        context = _context(db, principal_of(request), succession=form.raw, succession_errors=form.errors)
        return Template(PAGE, context=context, status_code=422, headers=NO_STORE)
