"""Moderation routes: the queue of each consultation, one proposal's page and its actions, duplicates.

Handlers parse the form, call `moderation_services` (which scopes every id to the staff member's
institution and audits every write), and render or redirect with 303. Bulk actions answer htmx with
the queue fragment and plain browsers with a redirect.
"""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx.accounts.guards import ALL_STAFF, principal_of, staff_guard
from idmx.accounts.services import StaffPrincipal
from idmx.consultations.forms import ProposalForm, parse_proposal
from idmx.consultations.services import reference_choices
from idmx.db import Database
from idmx.i18n import gettext as _
from idmx.moderation import services
from idmx.web import FormData, form_int, page, safe_next, see_other, wants_fragment

MODERATORS = {"roles": ALL_STAFF}




class ModerationController(Controller):
    path = "/staff/moderation"
    guards = [staff_guard]

    @get("/", name="moderation:index", opt=MODERATORS, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        return page(request, "staff/moderation/index.html", {"me": me, "rows": services.consultations_overview(db, me)})

    # --- the queue ---------------------------------------------------------------------------------------

    @get("/{consultation_id:int}", name="moderation:queue", opt=MODERATORS, sync_to_thread=True)
    def queue(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        params = request.query_params
        done = (form_int(params.get("done")) or 0, form_int(params.get("skipped")) or 0) if "done" in params else None
        return self._queue_page(request, db, principal_of(request), consultation_id, done=done)

    def _queue_page(self, request: Request, db: Database, me: StaffPrincipal, consultation_id: int, *,
                    done: tuple[int, int] | None = None, errors: dict[str, str] | None = None,
                    reason: str = "", checked: list[int] | None = None, status: int = 200) -> Template:
        """The queue page, or only the queue (table and bulk controls) for htmx. `done`: (changed, skipped)."""
        q = services.queue(db, me, consultation_id)
        context = {"me": me, "q": q, "c": q.consultation, "done": done, "errors": errors or {}, "reason": reason,
                   "checked": set(checked or [])}
        return page(request, "staff/moderation/queue.html", context, fragment="staff/moderation/_queue.html",
                    status_code=status)

    @post("/{consultation_id:int}/bulk", name="moderation:bulk", opt=MODERATORS, sync_to_thread=True)
    def bulk(self, request: Request, consultation_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        ids, action = services.parse_ids(data.get("ids")), data.get("action")
        errors: dict[str, str] = {}
        if not ids:
            errors["ids"] = _("Select at least one proposal.")
        if action not in ("approve", "hide"):
            errors["action"] = _("Choose an action.")
        reason, reason_error = services.clean_reason(data.get("reason"))
        if action == "hide" and reason_error:
            errors["reason"] = reason_error
        if errors:
            return self._queue_page(request, db, me, consultation_id, errors=errors, reason=reason, checked=ids, status=422)
        result = services.bulk(db, me, consultation_id, ids or [], str(action), reason)
        if wants_fragment(request):
            return self._queue_page(request, db, me, consultation_id, done=(len(result.done), len(result.skipped)))
        query = urlencode({"done": len(result.done), "skipped": len(result.skipped)})
        return see_other(request.app.route_reverse("moderation:queue", consultation_id=consultation_id) + "?" + query)

    @get("/{consultation_id:int}/flags", name="moderation:flags", opt=MODERATORS, sync_to_thread=True)
    def flags(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        me = principal_of(request)
        found = services.suspicious(db, me, consultation_id)
        return page(request, "staff/moderation/flags.html", {"me": me, "c": found.consultation, "found": found})

    # --- duplicates and merging --------------------------------------------------------------------------

    @get("/{consultation_id:int}/duplicates", name="moderation:duplicates", opt=MODERATORS, sync_to_thread=True)
    def duplicates(self, request: Request, consultation_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        """Candidate duplicate groups, best first; each proposal merges into its group's survivor in one click.

        `?keep=ID` (repeatable) makes a published proposal its group's survivor; the merge forms come back
        here with the same choices.
        """
        me = principal_of(request)
        keep = [k for k in (form_int(v) for v in request.query_params.getall("keep", [])[:50]) if k is not None]
        c, groups = services.duplicate_clusters(db, me, consultation_id, keep=keep)
        here = request.app.route_reverse("moderation:duplicates", consultation_id=consultation_id)
        return page(request, "staff/moderation/duplicates.html", {
            "me": me, "c": c, "clusters": groups, "merged": request.query_params.get("merged") == "1",
            "keep": keep, "back": here + "?" + urlencode([("merged", 1), *(("keep", k) for k in keep)]),
        })

    @post("/{consultation_id:int}/merge", name="moderation:merge", opt=MODERATORS, sync_to_thread=True)
    def merge(self, request: Request, consultation_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        survivor, merged = form_int(data.get("survivor")), form_int(data.get("merged"))
        if merged is None:
            # Out of scope is a 404 whatever the form says; in scope, a missing choice is a form error.
            return self._queue_page(request, db, me, consultation_id, status=422,
                                    errors={"merged": _("Choose the duplicate to merge.")})
        if survivor is None:
            errors = {"survivor": _("Choose the proposal that remains.")}
            return self._proposal_page(request, db, me, merged, errors=errors, status=422)
        services.merge(db, me, survivor, merged, consultation_id=consultation_id)
        default = request.app.route_reverse("moderation:proposal", proposal_id=survivor) + "?saved=merged"
        return see_other(safe_next(data.get("next"), default, prefix="/staff/"))

    # --- one proposal ------------------------------------------------------------------------------------

    @get("/proposals/{proposal_id:int}", name="moderation:proposal", opt=MODERATORS, sync_to_thread=True)
    def proposal(self, request: Request, proposal_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return self._proposal_page(request, db, principal_of(request), proposal_id)

    def _proposal_page(self, request: Request, db: Database, me: StaffPrincipal, proposal_id: int, *,
                       form: ProposalForm | None = None, errors: dict[str, str] | None = None, reason: str = "",
                       status: int = 200) -> Template:
        view = services.proposal_view(db, me, proposal_id)
        p = view.proposal
        form = form or ProposalForm(title=p.title, description=p.description, institution_id=p.institution_id,
                                    topic_id=p.topic_id)
        return page(request, "staff/moderation/proposal.html", {
            "me": me, "v": view, "p": p, "c": view.consultation, "form": form, "errors": errors or {},
            "reason": reason, "choices": reference_choices(db), "saved": request.query_params.get("saved", ""),
        }, status_code=status)

    def _back(self, request: Request, proposal_id: int, saved: str) -> Response:
        return see_other(request.app.route_reverse("moderation:proposal", proposal_id=proposal_id) + "?saved=" + saved)

    @post("/proposals/{proposal_id:int}/approve", name="moderation:approve", opt=MODERATORS, sync_to_thread=True)
    def approve(self, request: Request, proposal_id: FromPath[int], db: NamedDependency[Database]) -> Response:
        services.approve(db, principal_of(request), proposal_id)
        return self._back(request, proposal_id, "approved")

    @post("/proposals/{proposal_id:int}/hide", name="moderation:hide", opt=MODERATORS, sync_to_thread=True)
    def hide(self, request: Request, proposal_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        reason, error = services.clean_reason(data.get("reason"))
        if error:
            return self._proposal_page(request, db, me, proposal_id, errors={"reason": error}, reason=reason, status=422)
        services.hide(db, me, proposal_id, reason)
        return self._back(request, proposal_id, "hidden")

    @post("/proposals/{proposal_id:int}/edit", name="moderation:edit", opt=MODERATORS, sync_to_thread=True)
    def edit(self, request: Request, proposal_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        me = principal_of(request)
        choices = reference_choices(db)
        form = parse_proposal({**data, "intended_use": "", "website": ""},
                              {i for i, *_ in choices["institutions"]}, {i for i, *_ in choices["topics"]})
        if not form.valid:
            return self._proposal_page(request, db, me, proposal_id, form=form, status=422)
        changed = services.edit(db, me, proposal_id, form)
        return self._back(request, proposal_id, "edited" if changed else "unchanged")

    @post("/reports/{report_id:int}/dismiss", name="moderation:dismiss", opt=MODERATORS, sync_to_thread=True)
    def dismiss(self, request: Request, report_id: FromPath[int], data: FormData, db: NamedDependency[Database]) -> Response:
        proposal_id = services.dismiss_report(db, principal_of(request), report_id)
        default = request.app.route_reverse("moderation:proposal", proposal_id=proposal_id) + "?saved=dismissed"
        return see_other(safe_next(data.get("next"), default, prefix="/staff/"))
