"""Public compliance monitoring: who delivered, institution by institution, and the same table as
CSV, XLSX and JSON (rendered by `idmx.exports.compliance_export`, shared with `idmx export compliance`)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from idmx import clock
from idmx.db import Database
from idmx.exports import compliance_export
from idmx.plans import labels
from idmx.web import page


class MonitoringController(Controller):
    path = "/"

    @get("/monitoring", name="monitoring:index", sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        figures = compliance_export.load(db)
        statuses = [(s.value, labels.status_label(s)) for s in labels.STATUS_ORDER]
        return page(request, "monitoring/index.html", {
            "results": figures.institutions, "total": figures.national, "statuses": statuses,
            "today": clock.today(),
        })

    @get("/monitoring.csv", name="monitoring:csv", sync_to_thread=True)
    def as_csv(self, db: NamedDependency[Database]) -> Response:
        return compliance_export.download(db, "csv").response()

    @get("/monitoring.xlsx", name="monitoring:xlsx", sync_to_thread=True)
    def as_xlsx(self, db: NamedDependency[Database]) -> Response:
        return compliance_export.download(db, "xlsx").response()

    @get("/monitoring.json", name="monitoring:json", sync_to_thread=True)
    def as_json(self, db: NamedDependency[Database]) -> Response:
        return compliance_export.download(db, "json").response()
