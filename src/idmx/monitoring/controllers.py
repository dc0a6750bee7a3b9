"""Public compliance monitoring: who delivered, institution by institution, and the same table as
CSV, XLSX and JSON (rendered by `idmx.monitoring.compliance`, shared with `idmx export compliance`);
each institution's scorecard with its history (an SVG chart and the same figures as a table), and the
history as CSV and JSON."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
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

    @get("/monitoring/history.csv", name="monitoring:history_csv", sync_to_thread=True)
    def history_csv(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.history_download(db, "csv"))

    @get("/monitoring/history.json", name="monitoring:history_json", sync_to_thread=True)
    def history_json(self, db: NamedDependency[Database]) -> Response:
        return attachment(services.history_download(db, "json"))

    @get("/monitoring/{acronym:str}", name="monitoring:scorecard", sync_to_thread=True)
    def scorecard(self, request: Request, acronym: FromPath[str], db: NamedDependency[Database]) -> Template:
        card = services.scorecard(db, acronym)
        statuses = [(s.value, labels.status_label(s)) for s in labels.STATUS_ORDER]
        return page(request, "monitoring/scorecard.html", {"card": card, "statuses": statuses, "today": clock.today()})

    @get("/monitoring/{acronym:str}/history.csv", name="monitoring:scorecard_csv", sync_to_thread=True)
    def scorecard_csv(self, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        return attachment(services.history_download(db, "csv", acronym))

    @get("/monitoring/{acronym:str}/history.json", name="monitoring:scorecard_json", sync_to_thread=True)
    def scorecard_json(self, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        return attachment(services.history_download(db, "json", acronym))
