"""Public compliance monitoring: who delivered, institution by institution, and the same table as
CSV, XLSX and JSON (rendered by `idmx.monitoring.compliance`, shared with `idmx export compliance`)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from idmx import clock
from idmx.db import Database
from idmx.monitoring import services
from idmx.plans import labels
from idmx.web import attachment, page


class MonitoringController(Controller):
    path = "/"

    @get("/monitoring", name="monitoring:index", sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        figures = services.figures(db)
        statuses = [(s.value, labels.status_label(s)) for s in labels.STATUS_ORDER]
        return page(request, "monitoring/index.html", {
            "results": figures.institutions, "total": figures.national, "statuses": statuses,
            "today": clock.today(),
        })

    @get("/monitoring.csv", name="monitoring:csv", sync_to_thread=True)
    def as_csv(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.download(db, "csv"))

    @get("/monitoring.xlsx", name="monitoring:xlsx", sync_to_thread=True)
    def as_xlsx(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.download(db, "xlsx"))

    @get("/monitoring.json", name="monitoring:json", sync_to_thread=True)
    def as_json(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.download(db, "json"))
