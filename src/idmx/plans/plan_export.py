"""An institution's plan as a table shaped like an Institutional Open Data Plan (CSV and XLSX).

Pure: takes plain `PlanRecord`s (no database, no HTTP) so the web export and `idmx export` share it.
Every text cell is neutralised against formula injection (`idmx.exports.safety`); dates stay dates
(ISO text in CSV, typed date cells in XLSX). Labels (status, source, column names) follow the active
language.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from idmx.db import models as m
from idmx.exports.safety import csv_lines, neutralise
from idmx.i18n import gettext as _
from idmx.plans import labels
from idmx.plans.policy import PublicStatus


@dataclass(frozen=True)
class PlanRecord:
    """One plan item as the export needs it."""

    id: int
    title: str
    description: str
    source: m.PlanSource | str
    public_status: PublicStatus | str
    policy_due: date | None = None
    due_date: date | None = None
    late_justification: str = ""
    published_on: date | None = None
    published_url: str = ""
    catalogue_id: str = ""
    legal_basis: str = ""  # the basis's name (and article) in the export's language
    denial_explanation: str = ""


def header() -> list[str]:
    return [
        _("Item"), _("Dataset"), _("Description"), _("Due date"), _("Status"), _("Dataset address (URL)"),
        _("Legal basis of the denial"), _("Explanation of the denial"), _("Catalogue identifier"), _("Source"),
        _("Latest date the policy allows"), _("Justification for a later date"), _("Published on"),
    ]


def rows(records: Iterable[PlanRecord]) -> Iterator[list[Any]]:
    """One list of cells per record, in `header()`'s order; dates as `date`, text as `str`."""
    for r in records:
        yield [
            r.id, r.title, r.description, r.due_date, labels.status_label(r.public_status), r.published_url,
            r.legal_basis, r.denial_explanation, r.catalogue_id, labels.source_label(r.source), r.policy_due,
            r.late_justification, r.published_on,
        ]


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_text(records: Iterable[PlanRecord]) -> Iterator[str]:
    """RFC 4180 CSV, UTF-8 with a byte-order mark, text neutralised; yields one line at a time."""
    return csv_lines(header(), ([_csv_cell(v) for v in row] for row in rows(records)))


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def xlsx_bytes(records: Iterable[PlanRecord], *, sheet_title: str = "Plan") -> bytes:
    """A workbook with one sheet: bold, frozen header; typed cells (dates as dates, ids as numbers)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "".join(ch for ch in sheet_title if ch not in "[]:*?/\\")[:31] or "Plan"
    ws.append([_xlsx_cell(h) for h in header()])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for row in rows(records):
        ws.append([_xlsx_cell(v) for v in row])
    for row_cells in ws.iter_rows(min_row=2):
        for cell in row_cells:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    widths = [8, 40, 50, 12, 20, 40, 40, 40, 20, 20, 14, 40, 12]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = width
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
