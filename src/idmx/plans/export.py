"""An institution's plan as a table shaped like an Institutional Open Data Plan (CSV, XLSX and JSON).

Pure: takes plain `PlanRecord`s (no database, no HTTP) so the web downloads, the central export page
and `idmx export plan|plans` share it. The columns are an explicit allow-list (`KEYS`, and `header()`
for their labels): nothing else about a plan item leaves through here. Every text cell is neutralised
against formula injection (`idmx.exports.safety`, `idmx.exports.xlsx`); dates stay dates (ISO text in
CSV and JSON, typed date cells in XLSX). Labels (status, source, column names) follow the active
language; JSON carries the stable codes instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from idmx.enums import PlanSource
from idmx.errors import NotFound
from idmx.formats import xlsx
from idmx.formats.safety import csv_lines
from idmx.i18n import gettext as _
from idmx.plans import labels
from idmx.plans.policy import PublicStatus

if TYPE_CHECKING:
    from idmx.db.models import Institution

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": xlsx.XLSX_MEDIA_TYPE,
    "json": "application/json",
}

# Machine names of the columns (JSON keys), in `header()`'s order.
# Every coded value comes with its code beside its label (status, legal basis, source).
KEYS: tuple[str, ...] = (
    "item_id", "title", "description", "due_date", "status", "status_label", "published_url", "legal_basis_code",
    "legal_basis", "denial_explanation", "catalogue_id", "source", "source_label", "policy_due", "late_justification",
    "published_on",
)
INSTITUTION_KEYS: tuple[str, ...] = ("institution_acronym", "institution")
_WIDTHS = [8, 40, 50, 12, 20, 14, 40, 40, 24, 40, 20, 20, 10, 14, 40, 12]


@dataclass(frozen=True)
class PlanRecord:
    """One plan item as the export needs it."""

    id: int
    title: str
    description: str
    source: PlanSource | str
    public_status: PublicStatus | str
    policy_due: date | None = None
    due_date: date | None = None
    late_justification: str = ""
    published_on: date | None = None
    published_url: str = ""
    catalogue_id: str = ""
    legal_basis: str = ""  # the basis's name (and article) in the export's language
    legal_basis_code: str = ""  # its code (`legal_bases.code`), the same in every language
    denial_explanation: str = ""
    institution_acronym: str = ""  # shown only in the all-plans table
    institution: str = ""  # the institution's name in the export's language


def header(with_institution: bool = False) -> list[str]:
    first = [_("Institution acronym"), _("Institution")] if with_institution else []
    return first + [
        _("Item"), _("Dataset"), _("Description"), _("Due date"), _("Status"), _("Status code"),
        _("Dataset address (URL)"), _("Legal basis of the denial"), _("Legal basis code"), _("Explanation of the denial"),
        _("Catalogue identifier"), _("Source"), _("Source code"), _("Latest date the policy allows"),
        _("Justification for a later date"), _("Published on"),
    ]


def rows(records: Iterable[PlanRecord], with_institution: bool = False) -> Iterator[list[Any]]:
    """One list of cells per record, in `header()`'s order; dates as `date`, text as `str`."""
    for r in records:
        first = [r.institution_acronym, r.institution] if with_institution else []
        yield first + [
            r.id, r.title, r.description, r.due_date, labels.status_label(r.public_status), _code(r.public_status),
            r.published_url, r.legal_basis, r.legal_basis_code, r.denial_explanation, r.catalogue_id,
            labels.source_label(r.source), _code(r.source), r.policy_due, r.late_justification, r.published_on,
        ]


def _code(value: Any) -> str:
    return getattr(value, "value", value)


def item_dict(r: PlanRecord, with_institution: bool = False) -> dict[str, Any]:
    """A record under `KEYS` (JSON): stable codes for status, legal basis and source, each with its label."""
    first = {"institution_acronym": r.institution_acronym, "institution": r.institution} if with_institution else {}
    return first | {
        "item_id": r.id, "title": r.title, "description": r.description, "due_date": r.due_date,
        "status": _code(r.public_status), "status_label": labels.status_label(r.public_status),
        "published_url": r.published_url, "legal_basis_code": r.legal_basis_code, "legal_basis": r.legal_basis,
        "denial_explanation": r.denial_explanation, "catalogue_id": r.catalogue_id, "source": _code(r.source),
        "source_label": labels.source_label(r.source), "policy_due": r.policy_due, "late_justification": r.late_justification, "published_on": r.published_on,
    }


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_text(records: Iterable[PlanRecord], with_institution: bool = False) -> Iterator[str]:
    """RFC 4180 CSV, UTF-8 with a byte-order mark, text neutralised; yields one line at a time."""
    return csv_lines(header(with_institution), ([_csv_cell(v) for v in row] for row in rows(records, with_institution)))


def _json_default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render(records: Iterable[PlanRecord], fmt: str, *, on: date, institution: Institution | None = None,
           institution_name: str = "", sheet_title: str = "Plan") -> Iterator[bytes]:
    """The plan in one of `FORMATS`, as chunks of bytes.

    With an `institution`, one institution's plan; without, the plans of every institution, each row
    naming its institution. `on` is the day the public statuses were derived for (JSON says so).
    """
    with_institution = institution is None
    if fmt == "csv":
        return (line.encode("utf-8") for line in csv_text(records, with_institution))
    if fmt == "xlsx":
        return _xlsx_chunks(records, with_institution, sheet_title)
    if fmt == "json":
        document: dict[str, Any] = {}
        if institution is not None:
            document["institution"] = {"acronym": institution.acronym, "name": institution_name}
        document |= {
            "statuses_on": on,
            "columns": list((INSTITUTION_KEYS if with_institution else ()) + KEYS),
            "items": [item_dict(r, with_institution) for r in records],
        }
        return iter([json.dumps(document, ensure_ascii=False, default=_json_default, indent=1).encode("utf-8")])
    raise NotFound(_("Unknown export format."))


def _xlsx_chunks(records: Iterable[PlanRecord], with_institution: bool, sheet_title: str) -> Iterator[bytes]:
    widths = ([12, 40] if with_institution else []) + _WIDTHS
    title = "".join(ch for ch in sheet_title if ch not in "[]:*?/\\")[:31] or "Plan"
    return xlsx.xlsx_chunks([xlsx.Sheet(title, header(with_institution), rows(records, with_institution), widths)])


def xlsx_bytes(records: Iterable[PlanRecord], *, sheet_title: str = "Plan") -> bytes:
    """A workbook with one sheet: bold, frozen header; typed cells (dates as dates, ids as numbers)."""
    return b"".join(_xlsx_chunks(records, False, sheet_title))
