"""Staff routes for consultations: list, create and edit, publish, open or close early, preview,
load a fixed list of proposals (text or CSV), and clone as the next round of a series."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Template

from idmx import clock
from idmx.accounts.guards import ADMINS, ALL_STAFF, principal_of, staff_guard
from idmx.consultation_admin import forms, services
from idmx.consultations import rules
from idmx.consultations import services as public
from idmx.db import Database
from idmx.web import FormData, page, see_other

MultipartData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
CSV_MAX_BODY_BYTES = 2_000_000
MANAGE = {"roles": ADMINS}



class StaffConsultationController(Controller):
    path = "/staff/consultations"
    guards = [staff_guard]

    # --- list, create, edit ----------------------------------------------------------------------------

    @get("/", name="staff_consultations:list", opt={"roles": ALL_STAFF}, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        return page(request, "staff/consultations/list.html", {
            "me": me, "rows": services.listing(db, me, clock.now()), "can_manage": me.role in ADMINS,
        })

    @get("/new", name="staff_consultations:new", opt=MANAGE, sync_to_thread=True)
    def new(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        choices = services.choices(db, me)
        return self._new_page(request, choices, forms.blank_form(choices, me.institution_id))

    def _new_page(self, request: Request, choices: forms.Choices, form: forms.ConsultationForm, status: int = 200) -> Template:
        return page(request, "staff/consultations/new.html", {
            "me": principal_of(request), "form": form, "choices": choices, "frozen": False,
        }, status_code=status)

    @post("/", name="staff_consultations:create", opt=MANAGE, sync_to_thread=True)
    def create(self, request: Request, data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        choices = services.choices(db, me)
        form = forms.parse_consultation(data, choices, own_institution_id=me.institution_id,
                                        can_choose_institution=me.is_central)
        if form.valid:
            consultation_id, errors = services.create(db, me, form, clock.now())
            if consultation_id is not None:
                return see_other(request.app.route_reverse("staff_consultations:edit", consultation_id=consultation_id))
            form.errors.update(errors)
        return self._new_page(request, choices, form, status=422)

    @get("/{consultation_id:int}", name="staff_consultations:edit", opt=MANAGE, sync_to_thread=True)
    def edit(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        managed = services.get(db, me, consultation_id)
        choices = services.choices(db, me)
        return self._edit_page(request, managed, choices, services.current_form(managed, choices))

    def _edit_page(self, request: Request, managed: services.Managed, choices: forms.Choices,
                   form: forms.ConsultationForm, status: int = 200) -> Template:
        now = clock.now()
        c = managed.consultation
        share_url = str(request.base_url).rstrip("/") + request.app.route_reverse("consultations:detail", slug=c.slug)
        return page(request, "staff/consultations/edit.html", {
            "me": principal_of(request), "m": managed, "c": c, "form": form, "choices": choices, "now": now,
            "phase": managed.phase(now), "frozen": managed.started(now), "share_url": share_url,
            "saved": request.query_params.get("saved") == "1",
        }, status_code=status)

    @post("/{consultation_id:int}", name="staff_consultations:update", opt=MANAGE, sync_to_thread=True)
    def update(self, request: Request, consultation_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        managed = services.get(db, me, consultation_id)
        choices = services.choices(db, me)
        current = services.current_form(managed, choices)
        now = clock.now()
        form = forms.parse_consultation(data, choices, own_institution_id=me.institution_id,
                                        can_choose_institution=me.is_central, current=current)
        form.errors.update(forms.check_rules(form, current, started=managed.started(now), now=now))
        if form.valid:
            form.errors.update(services.update(db, me, consultation_id, form, choices, now))
        if form.valid:
            return see_other(request.app.route_reverse("staff_consultations:edit", consultation_id=consultation_id) + "?saved=1")
        return self._edit_page(request, managed, choices, form, status=422)

    # --- publication, opening and closing ----------------------------------------------------------------

    def _back(self, request: Request, consultation_id: int) -> Response:
        return see_other(request.app.route_reverse("staff_consultations:edit", consultation_id=consultation_id))

    @post("/{consultation_id:int}/publish", name="staff_consultations:publish", opt=MANAGE, sync_to_thread=True)
    def publish(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        services.publish(db, principal_of(request), consultation_id, clock.now())
        return self._back(request, consultation_id)

    @post("/{consultation_id:int}/open", name="staff_consultations:open", opt=MANAGE, sync_to_thread=True)
    def open_now(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        services.open_now(db, principal_of(request), consultation_id, clock.now())
        return self._back(request, consultation_id)

    @post("/{consultation_id:int}/close", name="staff_consultations:close", opt=MANAGE, sync_to_thread=True)
    def close_now(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        services.close_now(db, principal_of(request), consultation_id, clock.now())
        return self._back(request, consultation_id)

    @get("/{consultation_id:int}/preview", name="staff_consultations:preview", opt={"roles": ALL_STAFF}, sync_to_thread=True)
    def preview(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        view = services.preview(db, principal_of(request), consultation_id)
        now = clock.now()
        page_number = request.query_params.get("page", "")
        query = public.BrowseQuery(order="newest", page=int(page_number) if page_number.isdigit() else 1)
        listing = public.browse(db, view, query, seed=0, token_hash=None, now=now, record_exposure=False)
        return page(request, "staff/consultations/preview.html", {
            "view": view, "c": view.consultation, "phase": rules.phase_when_published(view.consultation, now),
            "listing": listing, "choices": public.reference_choices(db), "has_profile": False,
            "can_manage": principal_of(request).role in ADMINS,
        })

    # --- fixed list of proposals ------------------------------------------------------------------------

    def _fixed_page(self, request: Request, db: Database, consultation_id: int, parsed: forms.FixedList | None = None,
                    source: str = "", status: int = 200) -> Template:
        me = principal_of(request)
        managed = services.get(db, me, consultation_id)
        return page(request, "staff/consultations/proposals.html", {
            "me": me, "m": managed, "c": managed.consultation, "parsed": parsed, "source": source,
            "existing": services.fixed_proposals(db, me, consultation_id), "topics": services.topics(db),
            "columns": forms.CSV_COLUMNS, "loaded": request.query_params.get("loaded"), "max_items": forms.MAX_ITEMS,
        }, status_code=status)

    @get("/{consultation_id:int}/proposals", name="staff_consultations:fixed_list", opt=MANAGE, sync_to_thread=True)
    def fixed_list(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._fixed_page(request, db, consultation_id)

    def _store(self, request: Request, db: Database, consultation_id: int, parsed: forms.FixedList, source: str) -> Response:
        if parsed.valid:
            parsed.problems = services.load_fixed_list(db, principal_of(request), consultation_id, parsed, source, clock.now())
        if parsed.valid:
            url = request.app.route_reverse("staff_consultations:fixed_list", consultation_id=consultation_id)
            return see_other(f"{url}?loaded={len(parsed.items)}")
        return self._fixed_page(request, db, consultation_id, parsed, source, status=422)

    @post("/{consultation_id:int}/proposals", name="staff_consultations:load_text", opt=MANAGE, sync_to_thread=True)
    def load_text(self, request: Request, consultation_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        services.get(db, principal_of(request), consultation_id)  # 404 before reading anything else
        return self._store(request, db, consultation_id, forms.parse_fixed_text(data.get("titles")), "text")

    @post("/{consultation_id:int}/proposals/csv", name="staff_consultations:load_csv", opt=MANAGE, sync_to_thread=True,
          request_max_body_size=CSV_MAX_BODY_BYTES)
    def load_csv(self, request: Request, consultation_id: FromPath[int], data: MultipartData, db: NamedDependency[Database]) -> Response:
        services.get(db, principal_of(request), consultation_id)
        upload = data.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            institutions, topics = services.lookups(db)
            parsed = forms.parse_fixed_csv(upload.file.read(), institutions, topics)
        else:
            parsed = forms.no_file()
        return self._store(request, db, consultation_id, parsed, "csv")

    # --- clone as the next round -------------------------------------------------------------------------

    def _clone_page(self, request: Request, db: Database, consultation_id: int, form: forms.CloneForm, status: int = 200) -> Template:
        me = principal_of(request)
        managed = services.get(db, me, consultation_id)
        return page(request, "staff/consultations/clone.html", {"me": me, "m": managed, "c": managed.consultation, "form": form},
                    status_code=status)

    @get("/{consultation_id:int}/clone", name="staff_consultations:clone_form", opt=MANAGE, sync_to_thread=True)
    def clone_form(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._clone_page(request, db, consultation_id, forms.CloneForm(raw={"slug": "", "opens_at": "", "closes_at": ""}))

    @post("/{consultation_id:int}/clone", name="staff_consultations:clone", opt=MANAGE, sync_to_thread=True)
    def clone(self, request: Request, consultation_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        now = clock.now()
        form = forms.parse_clone(data, now)
        if form.valid:
            new_id, errors = services.clone(db, principal_of(request), consultation_id, form, now)
            if new_id is not None:
                return see_other(request.app.route_reverse("staff_consultations:edit", consultation_id=new_id))
            form.errors.update(errors)
        return self._clone_page(request, db, consultation_id, form, status=422)
