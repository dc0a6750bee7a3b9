"""Public compliance monitoring: who delivered, institution by institution, and the same table as CSV."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Stream, Template

from idmx.db import Database
from idmx.exports.safety import csv_lines
from idmx.plans import compliance, labels
from idmx.web import page


def _load(db: Database) -> tuple[list[compliance.InstitutionCompliance], compliance.StatusCounts]:
    results = compliance.load(db)
    return results, compliance.national(results)


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


class MonitoringController(Controller):
    path = "/"

    @get("/monitoring", name="monitoring:index", sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        results, total = _load(db)
        statuses = [(s.value, labels.status_label(s)) for s in labels.STATUS_ORDER]
        return page(request, "monitoring/index.html", {
            "results": results, "total": total, "statuses": statuses, "today": compliance.today_in_mexico(),
        })

    @get("/monitoring.csv", name="monitoring:csv", sync_to_thread=True)
    def as_csv(self, db: NamedDependency[Database]) -> Response:
        results, _total = _load(db)
        names = compliance.field_names()
        body = csv_lines(names, (
            [_rate(r.delivery_rate) if n == "delivery_rate" else getattr(r, n) for n in names] for r in results
        ))
        today = compliance.today_in_mexico().isoformat()
        headers = {"Content-Disposition": f'attachment; filename="idmx-monitoring-{today}.csv"'}
        return Stream(body, media_type="text/csv; charset=utf-8", headers=headers)
