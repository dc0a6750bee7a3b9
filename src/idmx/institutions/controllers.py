"""Public plans, no sign-in: which institutions have plans, each institution's plan, and its downloads
(CSV, XLSX, JSON), plus every institution's plan in one file (/institutions/plans.csv|xlsx|json).

Everything in a plan is public (due dates, late justifications, addresses, legal bases and
explanations); the states shown are derived today (Mexico City) by `policy.public_status`.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx.db import Database
from idmx.institutions import services
from idmx.plans import labels
from idmx.web import attachment, page


class InstitutionPlanController(Controller):
    path = "/institutions"

    @get("/", name="institutions:list", sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "institutions/list.html", {
            "rows": services.institutions_overview(db), "status_label": labels.status_label, "statuses": labels.STATUS_ORDER,
        })

    @get("/{acronym:str}/plan", name="institutions:plan", sync_to_thread=True)
    def plan(self, request: Request, acronym: FromPath[str], db: NamedDependency[Database]) -> Template:
        return page(request, "institutions/plan.html", {
            "p": services.public_plan(db, acronym), "status_label": labels.status_label, "source_label": labels.source_label,
        })

    # Every institution's plan in one file. Declared before the per-institution routes for readability
    # only: "/plans.csv" has one segment fewer than "/{acronym}/plan", so they never collide.
    @get("/plans.csv", name="institutions:plans_csv", sync_to_thread=True)
    def plans_csv(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.plan_download(db, None, "csv"))

    @get("/plans.xlsx", name="institutions:plans_xlsx", sync_to_thread=True)
    def plans_xlsx(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.plan_download(db, None, "xlsx"))

    @get("/plans.json", name="institutions:plans_json", sync_to_thread=True)
    def plans_json(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.plan_download(db, None, "json"))

    @get("/{acronym:str}/plan.csv", name="institutions:plan_csv", sync_to_thread=True)
    def plan_csv(self, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        return attachment(services.plan_download(db, acronym, "csv"))

    @get("/{acronym:str}/plan.xlsx", name="institutions:plan_xlsx", sync_to_thread=True)
    def plan_xlsx(self, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        return attachment(services.plan_download(db, acronym, "xlsx"))

    @get("/{acronym:str}/plan.json", name="institutions:plan_json", sync_to_thread=True)
    def plan_json(self, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        return attachment(services.plan_download(db, acronym, "json"))
