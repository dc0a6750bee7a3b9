"""Staff routes of the open-up plan: the list, one item and its four answers, adding datasets.

Institution administrators answer their own institution's items; the central team sees every
institution (`?institution=ID` narrows the list) and may answer too, audited like any staff write.
Moderators are refused (403). A refused answer re-renders the item's page with the message next to
its field: 422 for a bad input, 409 when the item's state does not allow the move.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx import clock
from idmx.accounts.guards import ADMINS, CENTRAL, principal_of, staff_guard
from idmx.accounts.services import StaffPrincipal
from idmx.consultations.services import reference_choices
from idmx.db import Database
from idmx.errors import Conflict
from idmx.plans import forms, labels, services
from idmx.web import FormData, form_int, page, see_other

ANSWERING = {"roles": ADMINS}
LABELS = {"status_label": labels.status_label, "source_label": labels.source_label, "event_label": labels.event_label}


class PlanController(Controller):
    path = "/staff/plan"
    guards = [staff_guard]

    @get("/", name="plan:index", opt=ANSWERING, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        params = request.query_params
        view = services.plan(db, me, institution_id=form_int(params.get("institution")), status=params.get("status"))
        return page(request, "plans/plan/index.html", {
            "me": me, "v": view, "status_options": labels.status_options(), **LABELS,
        })

    # --- one item and its answers ----------------------------------------------------------------------

    @get("/{item_id:int}", name="plan:item", opt=ANSWERING, sync_to_thread=True)
    def item(self, request: Request, item_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._item_page(request, db, principal_of(request), item_id)

    def _item_page(self, request: Request, db: Database, me: StaffPrincipal, item_id: int, *,
                   errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                   form: str = "", status: int = 200) -> Template:
        view = services.item_view(db, me, item_id)
        return page(request, "plans/plan/item.html", {
            "me": me, "v": view, "item": view.item, "errors": errors or {}, "values": values or {}, "form": form,
            "saved": request.query_params.get("saved", ""), "today": clock.today(), **LABELS,
        }, status_code=status)

    def _answer(self, request: Request, db: Database, item_id: int, data: dict[str, Any], form: str,
                move: Callable[[StaffPrincipal], Any]) -> Response:
        me = principal_of(request)
        try:
            move(me)
        except forms.AnswerError as err:
            return self._item_page(request, db, me, item_id, errors={err.field or "status": err.message},
                                   values=data, form=form, status=err.status_code)
        return see_other(request.app.route_reverse("plan:item", item_id=item_id) + "?saved=" + form)

    @post("/{item_id:int}/commit", name="plan:commit", opt=ANSWERING, sync_to_thread=True)
    def commit(self, request: Request, item_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        return self._answer(request, db, item_id, data, "commit",
                            lambda me: services.commit(db, me, item_id, *forms.commit_values(data)))

    @post("/{item_id:int}/publish", name="plan:publish", opt=ANSWERING, sync_to_thread=True)
    def publish(self, request: Request, item_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        return self._answer(request, db, item_id, data, "publish",
                            lambda me: services.publish(db, me, item_id, *forms.publish_values(data)))

    @post("/{item_id:int}/deny", name="plan:deny", opt=ANSWERING, sync_to_thread=True)
    def deny(self, request: Request, item_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        return self._answer(request, db, item_id, data, "deny",
                            lambda me: services.deny(db, me, item_id, *forms.deny_values(data)))

    @post("/{item_id:int}/reopen", name="plan:reopen", opt=ANSWERING, sync_to_thread=True)
    def reopen(self, request: Request, item_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        return self._answer(request, db, item_id, data, "reopen",
                            lambda me: services.reopen(db, me, item_id, forms.reopen_values(data)))

    @post("/{item_id:int}/reject", name="plan:reject", opt={"roles": CENTRAL}, sync_to_thread=True)
    def reject(self, request: Request, item_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        """The central team does not accept a claimed publication (with a public reason)."""
        return self._answer(request, db, item_id, data, "reject",
                            lambda me: services.reject_publication(db, me, item_id, forms.reject_values(data)))

    # --- adding datasets ---------------------------------------------------------------------------------

    @get("/new", name="plan:new", opt=ANSWERING, sync_to_thread=True)
    def new(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        form = forms.OwnForm(institution_id=form_int(request.query_params.get("institution")))
        return self._new_page(request, db, me, form)

    def _new_page(self, request: Request, db: Database, me: StaffPrincipal, form: forms.OwnForm,
                  status: int = 200) -> Template:
        choices = reference_choices(db)
        return page(request, "plans/plan/new.html", {
            "me": me, "form": form, "topics": choices["topics"], "institutions": choices["institutions"],
        }, status_code=status)

    @post("/new", name="plan:create", opt=ANSWERING, sync_to_thread=True)
    def create(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        choices = reference_choices(db)
        form = forms.parse_own(data, me, {t[0] for t in choices["topics"]}, {i[0] for i in choices["institutions"]})
        if form.errors:
            return self._new_page(request, db, me, form, status=422)
        item_id = services.add_own(db, me, form)
        return see_other(request.app.route_reverse("plan:item", item_id=item_id) + "?saved=created")

    @get("/consultations", name="plan:consultations", opt=ANSWERING, sync_to_thread=True)
    def consultations(self, request: Request, db: NamedDependency[Database]) -> Template:
        return self._consultations_page(request, db, principal_of(request))

    def _consultations_page(self, request: Request, db: Database, me: StaffPrincipal, *, error: str = "",
                            status: int = 200) -> Template:
        return page(request, "plans/plan/consultations.html", {
            "me": me, "rows": services.consultation_candidates(db, me), "error": error,
            "added": form_int(request.query_params.get("added")),
        }, status_code=status)

    @post("/proposals/{proposal_id:int}/add", name="plan:add_proposal", opt=ANSWERING, sync_to_thread=True)
    def add_proposal(self, request: Request, proposal_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        try:
            item_id = services.add_proposal(db, me, proposal_id)
        except Conflict as err:
            return self._consultations_page(request, db, me, error=err.message, status=409)
        return see_other(request.app.route_reverse("plan:consultations") + f"?added={item_id}")
