"""`/staff/api-tokens`: institution admins list, create and revoke their institution's API tokens.

The central team sees every institution's tokens and creates tokens for any institution. A new token
is shown once, in the answer to the form that created it (never stored, never shown again).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from idmx.accounts.guards import ADMINS, principal_of, staff_guard
from idmx.accounts.services import StaffPrincipal
from idmx.apitokens import services
from idmx.db import Database
from idmx.errors import DomainError
from idmx.i18n import gettext as _
from idmx.web import FormData, form_int, page, see_other

NO_STORE = {"Cache-Control": "no-store"}


def _context(db: Database, me: StaffPrincipal, **extra: Any) -> dict[str, Any]:
    return {
        "me": me,
        "tokens": services.listing(db, None if me.is_central else me.institution_id),
        "institutions": services.institution_choices(db) if me.is_central else [],
        "form": {"name": "", "institution": ""},
        "errors": {},
        "created": None,
        **extra,
    }


class ApiTokenController(Controller):
    path = "/staff/api-tokens"
    guards = [staff_guard]

    @get("/", name="api_tokens:list", opt={"roles": ADMINS}, sync_to_thread=True)
    def list_tokens(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "staff/api_tokens/list.html", _context(db, principal_of(request)))

    @post("/", name="api_tokens:create", opt={"roles": ADMINS}, sync_to_thread=True)
    def create(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        form = {"name": str(data.get("name") or "")[:200], "institution": str(data.get("institution") or "")}
        try:
            token, acronym = services.create_for(db, me, form)
        except DomainError as exc:
            context = _context(db, me, form=form, errors={exc.field or "name": exc.message})
            return Template("staff/api_tokens/list.html", context=context, status_code=422, headers=NO_STORE)
        context = _context(db, me, created={"token": token, "name": " ".join(form["name"].split()), "institution": acronym})
        return Template("staff/api_tokens/list.html", context=context, status_code=200, headers=NO_STORE)

    @post("/revoke", name="api_tokens:revoke", opt={"roles": ADMINS}, sync_to_thread=True)
    def revoke(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Any:
        me = principal_of(request)
        token_id = form_int(data.get("token_id"))
        if token_id is None:
            context = _context(db, me, errors={"token_id": _("Choose a token to revoke.")})
            return Template("staff/api_tokens/list.html", context=context, status_code=422)
        services.revoke_for(db, me, token_id)
        return see_other(request.app.route_reverse("api_tokens:list"))
