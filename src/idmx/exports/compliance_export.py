"""The compliance figures (who delivered) as CSV, XLSX and JSON: one place for /monitoring.csv|xlsx|json,
the central export page and `idmx export compliance`.

The columns are `compliance.field_names()` (an allow-list: ids, acronym, names, the counts per public
status, total, due and delivery rate), with the figures of `compliance.load`, so every format agrees
with the monitoring page. CSV writes the rate with four decimals (as it always has); XLSX stores it as
a number; JSON as a number or null, with the national totals and the day the statuses are for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from idmx import clock
from idmx.db import Database
from idmx.errors import NotFound
from idmx.exports import xlsx
from idmx.exports.download import Download
from idmx.exports.safety import csv_lines
from idmx.i18n import gettext as _
from idmx.plans import compliance

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": xlsx.XLSX_MEDIA_TYPE,
    "json": "application/json",
}


@dataclass(frozen=True)
class Figures:
    on: date
    institutions: list[compliance.InstitutionCompliance]
    national: compliance.StatusCounts


def load(db: Database, on: date | None = None) -> Figures:
    on = on or clock.today()
    results = compliance.load(db, on)
    return Figures(on, results, compliance.national(results))


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def render(figures: Figures, fmt: str) -> Iterator[bytes]:
    """The figures in one of `FORMATS`, as chunks of bytes."""
    names = compliance.field_names()
    if fmt == "csv":
        rows = ([_rate(r.delivery_rate) if n == "delivery_rate" else getattr(r, n) for n in names]
                for r in figures.institutions)
        return (line.encode("utf-8") for line in csv_lines(names, rows))
    if fmt == "xlsx":
        rows = ([getattr(r, n) for n in names] for r in figures.institutions)
        return xlsx.xlsx_chunks([xlsx.Sheet(f"idmx-monitoring-{figures.on.isoformat()}"[:31], names, rows)])
    if fmt == "json":
        document: dict[str, Any] = {
            "statuses_on": figures.on.isoformat(),
            "columns": names,
            "institutions": [{n: getattr(r, n) for n in names} for r in figures.institutions],
            "national": asdict(figures.national),
        }
        return iter([json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")])
    raise NotFound(_("Unknown export format."))


def download(db: Database, fmt: str, on: date | None = None) -> Download:
    """Today's figures in `fmt`, rendered now: /monitoring.csv|xlsx|json and `idmx export compliance`."""
    if fmt not in FORMATS:
        raise NotFound(_("Unknown export format."))
    figures = load(db, on)
    return Download(f"idmx-monitoring-{figures.on.isoformat()}.{fmt}", FORMATS[fmt], list(render(figures, fmt)))
