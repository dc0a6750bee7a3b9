"""The JSON API under /api/v1: public reads, and plan answers with a per-institution API token.

Handlers are thin: parse parameters -> one query or service -> a cacheable JSON response. Errors are
JSON (`idmx.api.http`), with the offending field named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from litestar import Controller, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from idmx import clock
from idmx.api import http, services
from idmx.api import schemas as out
from idmx.api.pagination import DEFAULT_PER_PAGE, PageParam, PerPageParam, Window, links
from idmx.apitokens import services as tokens
from idmx.db import Database
from idmx.i18n import gettext as _
from idmx.plans.policy import PublicStatus
from idmx.web.limits import Limit

WRITES_PER_HOUR = 1200
NO_STORE = {"Cache-Control": "no-store"}

# Free-text parameters are restricted to the characters their values use, so nothing odd (NUL bytes,
# which PostgreSQL refuses in text) reaches a query.
ACRONYM_RE = r"^[A-Za-z0-9&._-]{1,30}$"
Acronym = Annotated[str | None, QueryParameter(pattern=ACRONYM_RE, description="Institution acronym, e.g. SEMARNAT.")]
AcronymPath = Annotated[str, PathParameter(pattern=ACRONYM_RE, description="Institution acronym, e.g. SEMARNAT.")]
Slug = Annotated[str, PathParameter(pattern=r"^[a-z0-9-]{1,80}$", description="The consultation's address.")]
Status = Annotated[PublicStatus | None, QueryParameter(description="Public status of the institution's answer.")]
# Ids beyond a 32-bit integer exist in no table; refusing them early keeps drivers from overflowing.
Id = Annotated[int, PathParameter(ge=1, le=2_147_483_647)]
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


def _page(request: Request, cls: type, found: services.Found, window: Window, **kwargs: Any) -> Response[Any]:
    link = links(request, window, found.total)
    content = cls(total=found.total, page=window.page, per_page=window.per_page, items=found.items,
                  next=link.next, prev=link.prev)
    return http.cached(request, content, headers={"Link": link.header}, **kwargs)


# --- public reads ----------------------------------------------------------------------------------------------


class ConsultationsApi(Controller):
    path = "/consultations"
    tags = ["consultations"]

    @get("/", name="api:consultations",
         summary="List consultations", sync_to_thread=True, responses=http.READ_RESPONSES)
    def list_consultations(
        self, request: Request, db: NamedDependency[Database], page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE, institution: Acronym = None,
        phase: FromQuery[Literal["upcoming", "open", "closed"] | None] = None,
    ) -> Response[out.ConsultationPage]:
        """Published consultations, newest first; filter by the institution that runs them and by phase."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.consultations(s, window, clock.now(), institution, phase)
        return _page(request, out.ConsultationPage, found, window)

    @get("/{slug:str}", name="api:consultation",
         summary="Get a consultation", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def consultation(self, request: Request, db: NamedDependency[Database], slug: Slug) -> Response[out.Consultation]:
        """One published consultation."""
        with db.read() as s:
            return http.cached(request, services.consultation(s, slug, clock.now()))

    @get("/{slug:str}/proposals", name="api:proposals",
         summary="List a consultation's proposals", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def proposals(
        self, request: Request, db: NamedDependency[Database], slug: Slug, page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE, institution: Acronym = None,
        topic: Annotated[str | None, QueryParameter(pattern=r"^[a-z0-9_-]{1,60}$", description="Topic code.")] = None,
    ) -> Response[out.ProposalPage]:
        """Published proposals; `counts` only while the consultation shows its results (live, or after closing)."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.proposals(s, slug, window, clock.now(), institution, topic)
        return _page(request, out.ProposalPage, found, window)

    @get("/{slug:str}/runs", name="api:runs",
         summary="List a consultation's ranking runs", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def runs(
        self, request: Request, db: NamedDependency[Database], slug: Slug, page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE,
    ) -> Response[out.RunPage]:
        """Ranking runs, newest first; 404 while the consultation's results are not public."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.runs(s, slug, window, clock.now())
        return _page(request, out.RunPage, found, window)

    @get("/{slug:str}/runs/{run_id:int}", name="api:run",
         summary="Get a ranking run", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def run(self, request: Request, db: NamedDependency[Database], slug: Slug, run_id: Id) -> Response[out.Run]:
        """One ranking run: parameters, input fingerprint, results and summary. Runs never change."""
        with db.read() as s:
            found = services.run(s, slug, run_id, clock.now())
        return http.cached(request, found, last_modified=found.created_at, max_age=http.IMMUTABLE_MAX_AGE)


class EditionsApi(Controller):
    path = "/editions"
    tags = ["editions"]

    @get("/", name="api:editions",
         summary="List IDMX editions", sync_to_thread=True, responses=http.READ_RESPONSES)
    def list_editions(
        self, request: Request, db: NamedDependency[Database], page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE,
        series: Annotated[str | None, QueryParameter(pattern=r"^[A-Za-z0-9._-]{1,80}$",
                                                     description="Series, e.g. idmx-2027.")] = None,
    ) -> Response[out.EditionPage]:
        """Published IDMX editions (every version), newest first."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.editions(s, window, series)
        return _page(request, out.EditionPage, found, window)

    @get("/{edition_id:int}", name="api:edition",
         summary="Get an IDMX edition", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def edition(self, request: Request, db: NamedDependency[Database], edition_id: Id) -> Response[out.EditionDetail]:
        """One published edition with its deadline tiers and the ranking runs it draws on."""
        with db.read() as s:
            found = services.edition(s, edition_id)
        return http.cached(request, found, last_modified=found.published_at)

    @get("/{edition_id:int}/items", name="api:edition_items",
         summary="List an edition's items", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def items(
        self, request: Request, db: NamedDependency[Database], edition_id: Id, page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE, institution: Acronym = None,
        tier: Annotated[int | None, QueryParameter(ge=1, le=9, description="Deadline tier.")] = None,
        status: Status = None,
    ) -> Response[out.EditionItemPage]:
        """The edition's prioritised items by rank, with each institution's answer (public status, due dates)."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.edition_items(s, edition_id, window, tier=tier, institution=institution,
                                          status=status.value if status else None)
        return _page(request, out.EditionItemPage, found, window)


class InstitutionsApi(Controller):
    path = "/institutions"
    tags = ["institutions"]

    @get("/", name="api:institutions",
         summary="List institutions", sync_to_thread=True, responses=http.READ_RESPONSES)
    def list_institutions(
        self, request: Request, db: NamedDependency[Database], page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE,
        level: FromQuery[Literal["federal", "state", "municipal"] | None] = None,
        state_code: Annotated[str | None, QueryParameter(name="state", pattern=r"^[0-9]{2}$",
                                                         description="INEGI code of the state.")] = None,
    ) -> Response[out.InstitutionPage]:
        """Institutions by acronym."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.institutions(s, window, level, state_code)
        return _page(request, out.InstitutionPage, found, window)

    @get("/{acronym:str}", name="api:institution",
         summary="Get an institution", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def institution(self, request: Request, db: NamedDependency[Database],
                    acronym: AcronymPath) -> Response[out.Institution]:
        """One institution."""
        with db.read() as s:
            return http.cached(request, services.institution(s, acronym))

    @get("/{acronym:str}/plan", name="api:institution_plan",
         summary="List an institution's plan items", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def plan(
        self, request: Request, db: NamedDependency[Database], acronym: AcronymPath, page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE, status: Status = None,
        source: FromQuery[Literal["idmx", "consultation", "own", "request"] | None] = None,
    ) -> Response[out.PlanItemPage]:
        """The institution's open-up plan: every item with its answer and public status."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.plan_items(s, window, institution=acronym, status=status.value if status else None,
                                       source=source)
            modified = services.plans_last_modified(s, acronym)
        return _page(request, out.PlanItemPage, found, window, last_modified=modified)


class PlansApi(Controller):
    path = "/"
    tags = ["plans"]

    @get("/plan-items", name="api:plan_items",
         summary="List plan items", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def plan_items(
        self, request: Request, db: NamedDependency[Database], page: PageParam = 1,
        per_page: PerPageParam = DEFAULT_PER_PAGE, institution: Acronym = None, status: Status = None,
        source: FromQuery[Literal["idmx", "consultation", "own", "request"] | None] = None,
    ) -> Response[out.PlanItemPage]:
        """Plan items of every institution; filter by institution, public status and source."""
        window = Window(page, per_page)
        with db.read() as s:
            found = services.plan_items(s, window, institution=institution, status=status.value if status else None,
                                       source=source)
        return _page(request, out.PlanItemPage, found, window)

    @get("/plan-items/{item_id:int}", name="api:plan_item",
         summary="Get a plan item and its history", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def plan_item(self, request: Request, db: NamedDependency[Database], item_id: Id) -> Response[out.PlanItemDetail]:
        """One plan item, the editions that list it, and its full public history."""
        with db.read() as s:
            found = services.plan_item(s, item_id)
        return http.cached(request, found, last_modified=found.item.updated_at)

    @get("/compliance", name="api:compliance",
         summary="Compliance figures", sync_to_thread=True, responses=http.DETAIL_RESPONSES)
    def compliance(
        self, request: Request, db: NamedDependency[Database], institution: Acronym = None,
        level: FromQuery[Literal["federal", "state", "municipal"] | None] = None,
    ) -> Response[out.Compliance]:
        """Plan items per institution and public status today (on time, late, overdue, denied, unanswered...)."""
        with db.read() as s:
            return http.cached(request, services.compliance(s, institution=institution, level=level))

    @get("/legal-bases", name="api:legal_bases",
         summary="List legal bases for denials", sync_to_thread=True, responses=http.READ_RESPONSES)
    def legal_bases(self, request: Request, db: NamedDependency[Database]) -> Response[out.LegalBasisPage]:
        """The legal bases a denial may cite (use the `code` in a deny answer)."""
        with db.read() as s:
            return http.cached(request, out.LegalBasisPage(items=services.legal_bases(s)))


# --- plan answers with a token --------------------------------------------------------------------------------


async def token_guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Authenticate `Authorization: Bearer <token>` and count the write against the token's hourly limit."""
    raw = tokens.bearer(connection.headers.get("authorization"))
    principal = await to_thread.run_sync(tokens.authenticate, connection.app.state.db, raw) if raw else None
    if principal is None:
        raise NotAuthorizedException(_("Send a valid API token: Authorization: Bearer <token>."))
    limit = Limit("api_write", "token", WRITES_PER_HOUR, 3600)
    await connection.app.state.limiter.acheck("api_write", {"token": str(principal.id)}, [limit])
    connection.state.api_token = principal


class PlanAnswersApi(Controller):
    path = "/plan-items/{item_id:int}"
    tags = ["plan answers"]
    guards = [token_guard]

    def _answer(self, request: Request, db: Database, item_id: int, action: str, data: object) -> Response[Any]:
        services.answer(db, request.state.api_token, item_id, action, data)
        with db.read() as s:
            found = services.plan_item(s, item_id)
        return Response(found, headers=NO_STORE)

    @post("/commit", name="api:commit", summary="Commit to a due date", status_code=200,
          sync_to_thread=True, security=SECURITY, responses=http.WRITE_RESPONSES)
    def commit(self, request: Request, db: NamedDependency[Database], item_id: Id,
               data: JSONBody[out.CommitBody]) -> Response[out.PlanItemDetail]:
        """Commit to a publication date, or move it (a date after the policy's needs a justification)."""
        return self._answer(request, db, item_id, "commit", data)

    @post("/publish", name="api:publish", summary="Mark published", status_code=200,
          sync_to_thread=True, security=SECURITY, responses=http.WRITE_RESPONSES)
    def publish(self, request: Request, db: NamedDependency[Database], item_id: Id,
                data: JSONBody[out.PublishBody]) -> Response[out.PlanItemDetail]:
        """Mark the dataset published at its address (http or https)."""
        return self._answer(request, db, item_id, "publish", data)

    @post("/deny", name="api:deny", summary="Deny with a legal basis", status_code=200,
          sync_to_thread=True, security=SECURITY, responses=http.WRITE_RESPONSES)
    def deny(self, request: Request, db: NamedDependency[Database], item_id: Id,
             data: JSONBody[out.DenyBody]) -> Response[out.PlanItemDetail]:
        """Deny with a legal basis (its code) and an explanation, both public."""
        return self._answer(request, db, item_id, "deny", data)

    @post("/reopen", name="api:reopen", summary="Reopen a denial", status_code=200,
          sync_to_thread=True, security=SECURITY, responses=http.WRITE_RESPONSES)
    def reopen(self, request: Request, db: NamedDependency[Database], item_id: Id,
               data: JSONBody[out.ReopenBody]) -> Response[out.PlanItemDetail]:
        """Take a denial back (logged); the item is unanswered again with a fresh time to answer."""
        return self._answer(request, db, item_id, "reopen", data)


def api_router() -> Router:
    """A fresh router per app (tests build many apps); it puts the API, and only it, in the OpenAPI schema."""
    return Router(
        path="/api/v1",
        route_handlers=[ConsultationsApi, EditionsApi, InstitutionsApi, PlansApi, PlanAnswersApi],
        exception_handlers=http.EXCEPTION_HANDLERS,
        include_in_schema=True,
    )
