"""Public participation routes. Handlers parse, call a service, and render a page or an htmx partial."""

from __future__ import annotations

import random
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx import clock
from idmx.consultations import forms, services, voting
from idmx.consultations.participants import Participant
from idmx.db import Database
from idmx.settings import Settings
from idmx.web import FormData, form_int, page, safe_next, see_other, wants_fragment
from idmx.web import respondents as identity

VOTE_LIMIT = {"rate_limit": "vote"}
PROPOSAL_LIMIT = {"rate_limit": "proposal"}





def _with_cookie(response: Response, who: identity.Identity, settings: Settings) -> Response:
    return identity.remember(response, who, secure=settings.production)


def _participant(request: Request, who: identity.Identity) -> Participant:
    return Participant(who.hash, *identity.client_keys(request))


def _seed(who: identity.Identity) -> int:
    return int(who.hash[:8], 16)


class ConsultationController(Controller):
    path = "/c/{slug:str}"

    @get("/", name="consultations:detail", sync_to_thread=True)
    def detail(
        self, request: Request, slug: FromPath[str], db: NamedDependency[Database], settings: NamedDependency[Settings],
        arrivals: NamedDependency[services.Arrivals],
    ) -> Response:
        view = services.get_consultation(db, slug)
        who = identity.identify(request)
        now = clock.now()
        query = services.BrowseQuery(
            q=forms.clean_text(request.query_params.get("q"))[:200],
            topic=form_int(request.query_params.get("topic")),
            institution=form_int(request.query_params.get("institution")),
            order=request.query_params.get("order", "random"),
            page=form_int(request.query_params.get("page")) or 1,
        )
        participant = _participant(request, who)
        listing = services.browse(
            db, view, query, seed=_seed(who), token_hash=who.hash, now=now,
            # Only browsers that kept our cookie are respondents; crawlers never become one.
            record_exposure=not who.new, who=participant, arrivals=arrivals,
        )
        context = {
            "view": view,
            "c": view.consultation,
            "phase": view.phase(now),
            "listing": listing,
            "choices": services.reference_choices(db),
            "has_profile": services.has_profile(db, view.id, who.hash),
        }
        response = page(request, "consultations/consultation.html", context, fragment="consultations/_proposal_list.html")
        if listing.shown:  # after the page is sent: a page never waits for the database's writer
            response.background = BackgroundTask(services.record_shown, db, view.id, participant, listing.shown, arrivals)
        return _with_cookie(response, who, settings)

    @get("/propose", name="consultations:propose_form", sync_to_thread=True)
    def propose_form(self, request: Request, slug: FromPath[str], db: NamedDependency[Database]) -> Template:
        view = services.get_consultation(db, slug)
        return self._propose_page(request, db, view, forms.ProposalForm())

    def _propose_page(self, request: Request, db: Database, view, form: forms.ProposalForm, status: int = 200, *,
                      similar: list[dict[str, Any]] | None = None) -> Template:
        """The proposal form; with `similar`, the check before saving: those proposals, and the form kept."""
        confirm = form.title if similar else (form.confirmed_title if form.confirmed_different else "")
        return page(
            request,
            "consultations/propose.html",
            {"view": view, "c": view.consultation, "phase": view.phase(clock.now()), "form": form,
             "choices": services.reference_choices(db), "similar": similar or [], "confirm": confirm},
            status_code=status,
        )

    @post("/propose", name="consultations:propose", sync_to_thread=True, opt=PROPOSAL_LIMIT)
    def propose(
        self, request: Request, slug: FromPath[str], data: FormData, db: NamedDependency[Database],
        settings: NamedDependency[Settings],
        arrivals: NamedDependency[services.Arrivals],
    ) -> Response:
        view = services.get_consultation(db, slug)
        choices = services.reference_choices(db)
        form = forms.parse_proposal(
            data, {i for i, *_ in choices["institutions"]}, {i for i, *_ in choices["topics"]}
        )
        if not form.valid:
            return self._propose_page(request, db, view, form, status=422)
        now = clock.now()
        # Before anything is saved: proposals that look like the same request, to support instead (without
        # JavaScript this page is the only place the respondent sees them). The form comes back filled in,
        # with its title confirmed, so sending it again saves it.
        similar = services.similar_before_saving(db, view, form, now)
        if similar:
            return self._propose_page(request, db, view, form, similar=similar)
        who = identity.identify(request)
        proposal = services.create_proposal(db, view, _participant(request, who), form, now, arrivals)
        url = request.app.route_reverse("consultations:proposal", slug=slug, proposal_id=proposal.id)
        return _with_cookie(see_other(url + "?created=1"), who, settings)

    @get("/similar", name="consultations:similar", sync_to_thread=True)
    def similar(self, request: Request, slug: FromPath[str], db: NamedDependency[Database]) -> Template:
        view = services.get_consultation(db, slug)
        text = forms.clean_text(request.query_params.get("title"))[:200]
        matches = services.similar_proposals(db, view.id, text)
        # The title these hints were shown for: sent with the form, it counts as "mine is different".
        shown_for = " ".join(text.split()) if matches else ""
        return page(request, "consultations/_similar.html", {"view": view, "c": view.consultation, "matches": matches,
                                                              "phase": view.phase(clock.now()), "confirm": shown_for})

    @get("/proposals/{proposal_id:int}", name="consultations:proposal", sync_to_thread=True)
    def proposal(self, request: Request, slug: FromPath[str], proposal_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        view = services.get_consultation(db, slug)
        token = identity.token_from(request)
        now = clock.now()
        detail = services.proposal_detail(db, view, proposal_id, identity.hash_token(token) if token else None, now)
        return page(request, "consultations/proposal.html", {
            "view": view, "c": view.consultation, "phase": view.phase(now), "d": detail,
            "p": detail.proposal, "created": request.query_params.get("created") == "1",
        })

    @post("/proposals/{proposal_id:int}/vote", name="consultations:vote", sync_to_thread=True, opt=VOTE_LIMIT)
    def vote(
        self, request: Request, slug: FromPath[str], proposal_id: FromPath[int], data: FormData,
        db: NamedDependency[Database], settings: NamedDependency[Settings],
        arrivals: NamedDependency[services.Arrivals],
    ) -> Response:
        who = identity.identify(request)
        now = clock.now()
        c, mode, stored, support = voting.cast(db, slug, proposal_id, _participant(request, who), data, now, arrivals)
        default = request.app.route_reverse("consultations:detail", slug=slug)
        # The page the vote came from: the form's field, or the query string for buttons that borrow
        # another form (the similar-proposals list inside the proposal form).
        back = safe_next(data.get("next") or request.query_params.get("next"), default)
        if wants_fragment(request) and request.headers.get("hx-trigger-name") == "support_instead":
            # The similar-proposal hint: go to the proposal the respondent chose to support.
            response: Response = Response("", headers={"HX-Redirect": back})
        elif wants_fragment(request):
            response = page(request, mode.partial, {"c": c, "item": {"id": proposal_id, "my_vote": stored},
                                                         "phase": c.phase(now), "saved": True,
                                                         "next_url": back.split("#")[0],
                                                         # the new count, swapped into the page out of band
                                                         "support": support})
        else:
            response = see_other(back)
        return _with_cookie(response, who, settings)

    @get("/pair", name="consultations:pair", sync_to_thread=True)
    def pair(self, request: Request, slug: FromPath[str], db: NamedDependency[Database], settings: NamedDependency[Settings]) -> Response:
        view = services.get_consultation(db, slug)
        who = identity.identify(request)
        pair = services.next_pair(db, view.consultation, who.hash, random.Random())
        response = page(
            request, "consultations/pair.html",
            {"view": view, "c": view.consultation, "phase": view.phase(clock.now()), "pair": pair},
            fragment="consultations/_pair.html",
        )
        return _with_cookie(response, who, settings)

    @post("/pair", name="consultations:pair_vote", sync_to_thread=True, opt=VOTE_LIMIT)
    def pair_vote(
        self, request: Request, slug: FromPath[str], data: FormData, db: NamedDependency[Database],
        settings: NamedDependency[Settings],
        arrivals: NamedDependency[services.Arrivals],
    ) -> Response:
        view = services.get_consultation(db, slug)
        who = identity.identify(request)
        services.record_pair(db, view.consultation, _participant(request, who), data, clock.now(), arrivals)
        if wants_fragment(request):
            pair = services.next_pair(db, view.consultation, who.hash, random.Random())
            response: Response = page(request, "consultations/_pair.html", {
                "view": view, "c": view.consultation, "phase": view.phase(clock.now()), "pair": pair, "saved": True})
        else:
            response = see_other(request.app.route_reverse("consultations:pair", slug=slug) + "?saved=1")
        return _with_cookie(response, who, settings)

    @get("/profile", name="consultations:profile_form", sync_to_thread=True)
    def profile_form(self, request: Request, slug: FromPath[str], db: NamedDependency[Database]) -> Template:
        view = services.get_consultation(db, slug)
        token = identity.token_from(request)
        current = services.get_profile(db, view.id, identity.hash_token(token) if token else None)
        form = forms.ProfileForm()
        if current is not None:
            form = forms.ProfileForm(
                segment_id=current.segment_id, state_id=current.state_id, organisation=current.organisation,
                use_who=current.use_who, use_purpose=current.use_purpose, use_benefit=current.use_benefit,
            )
        return self._profile_page(request, db, view, form, next_url=request.query_params.get("next", ""))

    def _profile_page(self, request: Request, db: Database, view, form: forms.ProfileForm, next_url: str = "", status: int = 200) -> Template:
        return page(request, "consultations/profile.html", {
            "view": view, "c": view.consultation, "phase": view.phase(clock.now()), "form": form,
            "choices": services.reference_choices(db), "next": safe_next(next_url, ""),
        }, status_code=status)

    @post("/profile", name="consultations:profile", sync_to_thread=True, opt=PROPOSAL_LIMIT)
    def profile(
        self, request: Request, slug: FromPath[str], data: FormData, db: NamedDependency[Database],
        settings: NamedDependency[Settings],
        arrivals: NamedDependency[services.Arrivals],
    ) -> Response:
        view = services.get_consultation(db, slug)
        choices = services.reference_choices(db)
        default = request.app.route_reverse("consultations:detail", slug=slug)
        if data.get("skip"):
            return see_other(safe_next(data.get("next"), default))
        form = forms.parse_profile(
            data, {i for i, *_ in choices["segments"]}, {i for i, *_ in choices["states"]},
            segment_required=view.consultation.segment_required,
        )
        if not form.valid:
            return self._profile_page(request, db, view, form, next_url=str(data.get("next", "")), status=422)
        who = identity.identify(request)
        services.save_profile(db, view.consultation, _participant(request, who), form, clock.now(), arrivals)
        return _with_cookie(see_other(safe_next(data.get("next"), default)), who, settings)


class ReportController(Controller):
    path = "/c/{slug:str}/proposals/{proposal_id:int}/report"

    @get("/", name="consultations:report_form", sync_to_thread=True)
    def report_form(self, request: Request, slug: FromPath[str], proposal_id: FromPath[int],
                    db: NamedDependency[Database]) -> Template:
        view = services.get_consultation(db, slug)
        target = services.reportable(db, view.id, proposal_id)
        return self._page(request, view, target, forms.ReportForm(), sent=request.query_params.get("sent") == "1")

    def _page(self, request: Request, view: services.ConsultationView, target: dict[str, Any], form: forms.ReportForm, *,
              sent: bool = False, status: int = 200) -> Template:
        now = clock.now()
        context = {"view": view, "c": view.consultation, "phase": view.phase(now), "target": target,
                   "form": form, "sent": sent}
        return page(request, "consultations/report.html", context, fragment="consultations/_report_form.html",
                    status_code=status)

    @post("/", name="consultations:report", sync_to_thread=True, opt={"rate_limit": "proposal"})
    def report(self, request: Request, slug: FromPath[str], proposal_id: FromPath[int], data: FormData,
               db: NamedDependency[Database]) -> Response:
        view = services.get_consultation(db, slug)
        target = services.reportable(db, view.id, proposal_id)
        form = forms.parse_report(data)
        if not form.valid:
            return self._page(request, view, target, form, status=422)
        token = identity.token_from(request)
        services.create_report(db, view.id, proposal_id, identity.hash_token(token) if token else None, form,
                      clock.now())
        if wants_fragment(request):
            return self._page(request, view, target, forms.ReportForm(), sent=True)
        url = request.app.route_reverse("consultations:report_form", slug=slug, proposal_id=proposal_id)
        return see_other(url + "?sent=1")
