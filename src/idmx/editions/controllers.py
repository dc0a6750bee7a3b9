"""Routes for IDMX list editions: the central team's workshop under /staff/editions and the public /idmx pages.

Thin handlers: parse the form, call `idmx.plans.editions`, render or redirect (303). Writes to a
published edition are refused with 409 by the services; every POST also checks first, so an invalid
form on a published edition still answers 409 rather than 422.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx import clock
from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.db import Database
from idmx.editions import forms, services
from idmx.errors import Conflict, DomainError
from idmx.i18n import gettext as _
from idmx.web import FormData, form_int, page, see_other

ONLY_CENTRAL = {"roles": CENTRAL}


def _require_draft(db: Database, edition_id: int) -> services.EditionView:
    view = services.get(db, edition_id)
    if not view.is_draft:
        raise Conflict(services.published_message())
    return view


class EditionController(Controller):
    path = "/staff/editions"
    guards = [staff_guard]

    @get("/", name="staff_editions:list", opt=ONLY_CENTRAL, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "plans/editions/list.html", {"me": principal_of(request), "rows": services.listing(db)})

    @get("/new", name="staff_editions:new", opt=ONLY_CENTRAL, sync_to_thread=True)
    def new(self, request: Request) -> Template:
        return self._new_page(request, forms.blank_form())

    def _new_page(self, request: Request, form: forms.EditionForm, status: int = 200) -> Template:
        return page(request, "plans/editions/new.html", {
            "me": principal_of(request), "form": form, "tier_rows": forms.tier_rows(form),
        }, status_code=status)

    @post("/", name="staff_editions:create", opt=ONLY_CENTRAL, sync_to_thread=True)
    def create(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Response:
        form = forms.parse_edition(data, with_series=True)
        if form.valid:
            edition_id = services.create(db, principal_of(request).id, form)
            if edition_id is not None:
                return see_other(request.app.route_reverse("staff_editions:detail", edition_id=edition_id))
        return self._new_page(request, form, status=422)

    # --- one edition -------------------------------------------------------------------------------------------

    def _detail(self, request: Request, db: Database, edition_id: int, *, form: forms.EditionForm | None = None,
                problems: list[str] | None = None, status: int = 200) -> Template:
        view = services.get(db, edition_id)
        form = form or forms.form_of(view.edition, view.tiers)
        query = request.query_params
        return page(request, "plans/editions/detail.html", {
            "me": principal_of(request), "view": view, "e": view.edition, "form": form,
            "tier_rows": forms.tier_rows(form), "problems": problems or [],
            "additions": services.institution_additions(db) if view.is_draft else [],
            "built": query.get("built"), "saved": query.get("saved") == "1", "published": query.get("published") == "1",
            "public_url": request.app.route_reverse("idmx:edition", series=view.edition.series,
                                                    version_label=f"v{view.edition.version}"),
        }, status_code=status)

    @get("/{edition_id:int}", name="staff_editions:detail", opt=ONLY_CENTRAL, sync_to_thread=True)
    def detail(self, request: Request, edition_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._detail(request, db, edition_id)

    @post("/{edition_id:int}/settings", name="staff_editions:settings", opt=ONLY_CENTRAL, sync_to_thread=True)
    def settings(self, request: Request, edition_id: FromPath[int], data: FormData,
                 db: NamedDependency[Database]) -> Response:
        _require_draft(db, edition_id)
        form = forms.parse_edition(data, with_series=False)
        if not form.valid:
            return self._detail(request, db, edition_id, form=form, status=422)
        services.update_settings(db, principal_of(request).id, edition_id, form)
        return see_other(request.app.route_reverse("staff_editions:detail", edition_id=edition_id) + "?saved=1")

    def _runs_page(self, request: Request, db: Database, edition_id: int, form: forms.RunsForm | None = None,
                   status: int = 200) -> Template:
        view = services.get(db, edition_id)
        return page(request, "plans/editions/runs.html", {
            "me": principal_of(request), "view": view, "e": view.edition, "choices": services.run_choices(db, edition_id),
            "form": form,
        }, status_code=status)

    @get("/{edition_id:int}/runs", name="staff_editions:runs_form", opt=ONLY_CENTRAL, sync_to_thread=True)
    def runs_form(self, request: Request, edition_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._runs_page(request, db, edition_id)

    @post("/{edition_id:int}/runs", name="staff_editions:runs", opt=ONLY_CENTRAL, sync_to_thread=True)
    def runs(self, request: Request, edition_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        _require_draft(db, edition_id)
        form = forms.parse_runs(data, services.run_choices(db, edition_id))
        if not form.valid:
            return self._runs_page(request, db, edition_id, form, status=422)
        summary = services.set_runs(db, principal_of(request).id, edition_id, form.selection)
        suffix = f"?built={summary.items}" if summary is not None else "?saved=1"
        return see_other(request.app.route_reverse("staff_editions:detail", edition_id=edition_id) + suffix)

    @post("/{edition_id:int}/build", name="staff_editions:build", opt=ONLY_CENTRAL, sync_to_thread=True)
    def build(self, request: Request, edition_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        summary = services.build(db, principal_of(request).id, edition_id)
        return see_other(request.app.route_reverse("staff_editions:detail", edition_id=edition_id)
                         + f"?built={summary.items}")

    # --- items -------------------------------------------------------------------------------------------------

    def _item_page(self, request: Request, db: Database, edition_id: int, item_id: int,
                   form: forms.ItemForm | None = None, status: int = 200) -> Template:
        view = services.get(db, edition_id)
        row = services.item_of(view, item_id)
        return page(request, "plans/editions/item.html", {
            "me": principal_of(request), "view": view, "e": view.edition, "row": row, "item": row.item,
            "form": form or forms.item_form_of(row.item), "institutions": services.institution_choices(db),
            "topics": services.topic_choices(db), "tiers": [(t.tier, str(t.tier)) for t in view.tiers],
            "others": [r.item for r in view.items if r.item.id != item_id], "saved": request.query_params.get("saved") == "1",
        }, status_code=status)

    @get("/{edition_id:int}/items/{item_id:int}", name="staff_editions:item", opt=ONLY_CENTRAL, sync_to_thread=True)
    def item(self, request: Request, edition_id: FromPath[int], item_id: FromPath[int],
             db: NamedDependency[Database]) -> Template:
        return self._item_page(request, db, edition_id, item_id)

    @post("/{edition_id:int}/items/{item_id:int}", name="staff_editions:item_update", opt=ONLY_CENTRAL,
          sync_to_thread=True)
    def item_update(self, request: Request, edition_id: FromPath[int], item_id: FromPath[int], data: FormData,
                    db: NamedDependency[Database]) -> Response:
        view = _require_draft(db, edition_id)
        services.item_of(view, item_id)
        form = forms.parse_item(data, institutions={i for i, _ in services.institution_choices(db)},
                                   topics={i for i, _ in services.topic_choices(db)}, tiers={t.tier for t in view.tiers})
        if not form.valid:
            return self._item_page(request, db, edition_id, item_id, form, status=422)
        services.update_item(db, principal_of(request).id, edition_id, item_id, form)
        return see_other(request.app.route_reverse("staff_editions:item", edition_id=edition_id, item_id=item_id)
                         + "?saved=1")

    @post("/{edition_id:int}/proposals/{proposal_id:int}/move", name="staff_editions:move", opt=ONLY_CENTRAL,
          sync_to_thread=True)
    def move(self, request: Request, edition_id: FromPath[int], proposal_id: FromPath[int], data: FormData,
             db: NamedDependency[Database]) -> Response:
        _require_draft(db, edition_id)
        target = str(data.get("target") or "").strip()
        key = None if target == "new" else form_int(target)
        if target != "new" and key is None:
            raise DomainError(_("Choose where to move the proposal."), field="target")
        item_id = services.move_proposal(db, principal_of(request).id, edition_id, proposal_id, key)
        return see_other(request.app.route_reverse("staff_editions:item", edition_id=edition_id, item_id=item_id)
                         + "?saved=1")

    # --- publication -------------------------------------------------------------------------------------------

    @post("/{edition_id:int}/publish", name="staff_editions:publish", opt=ONLY_CENTRAL, sync_to_thread=True)
    def publish(self, request: Request, edition_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        problems = services.publish(db, principal_of(request).id, edition_id, clock.now())
        if problems:
            return self._detail(request, db, edition_id, problems=problems, status=422)
        return see_other(request.app.route_reverse("staff_editions:detail", edition_id=edition_id) + "?published=1")

    @post("/{edition_id:int}/additions/{plan_item_id:int}", name="staff_editions:add_plan_item", opt=ONLY_CENTRAL,
          sync_to_thread=True)
    def add_plan_item(self, request: Request, edition_id: FromPath[int], plan_item_id: FromPath[int],
                      db: NamedDependency[Database]) -> Response:
        services.add_plan_item(db, principal_of(request).id, edition_id, plan_item_id)
        return see_other(request.app.route_reverse("staff_editions:detail", edition_id=edition_id) + "#items")

    @post("/{edition_id:int}/revise", name="staff_editions:revise", opt=ONLY_CENTRAL, sync_to_thread=True)
    def revise(self, request: Request, edition_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        new_id = services.revise(db, principal_of(request).id, edition_id)
        return see_other(request.app.route_reverse("staff_editions:detail", edition_id=new_id))


