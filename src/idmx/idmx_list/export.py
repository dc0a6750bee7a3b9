"""The published IDMX list as data: one row per item, from an explicit allow-list of columns.

`idmx_list.services.edition_export` reads a published edition in one snapshot into these plain rows,
which every format (CSV, XLSX, JSON, DCAT) renders here; nothing here knows HTTP or the database. Only published editions are exported: a
draft is the central team's working copy, not public data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from idmx.errors import NotFound
from idmx.formats import safety, xlsx
from idmx.i18n import gettext as _
from idmx.idmx_list import dcat

# The columns of the list, in order. Nothing else leaves the database through this export.
COLUMNS: tuple[str, ...] = (
    "rank", "item_key", "title", "description", "institution_acronym", "institution", "topic_code", "topic", "tier",
    "priority", "ci_low", "ci_high", "policy_due", "due_date", "status", "published_on", "published_url",
    "catalogue_id", "item_path",
)


@dataclass(frozen=True)
class EditionMeta:
    id: int
    series: str
    version: int
    title: str
    notes: str
    published_at: datetime
    previous_version: int | None

    @property
    def path(self) -> str:
        return f"/idmx/{self.series}/v{self.version}"

    @property
    def file_stem(self) -> str:
        return f"{self.series}-v{self.version}"


@dataclass
class EditionExport:
    meta: EditionMeta
    rows: list[dict[str, Any]] = field(default_factory=list)


# --- formats -------------------------------------------------------------------------------------------------

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "jsonld": "application/ld+json",
}


def _json_default(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render(export: EditionExport, fmt: str, base_url: str, lang: str = "es") -> Iterator[bytes]:
    """The edition in one of `FORMATS`, as chunks of bytes (the same code for the web and `idmx export`)."""
    if fmt == "csv":
        rows = ([row[c] for c in COLUMNS] for row in export.rows)
        return (line.encode("utf-8") for line in safety.csv_lines(COLUMNS, rows))
    if fmt == "xlsx":
        sheet = xlsx.Sheet(export.meta.file_stem[:31], COLUMNS, ([row[c] for c in COLUMNS] for row in export.rows))
        return xlsx.xlsx_chunks([sheet])
    if fmt == "json":
        meta = export.meta
        document = {"series": meta.series, "version": meta.version, "title": meta.title, "notes": meta.notes,
                    "published_at": meta.published_at, "previous_version": meta.previous_version,
                    "columns": list(COLUMNS), "items": [{c: row[c] for c in COLUMNS} for row in export.rows]}
        return iter([json.dumps(document, ensure_ascii=False, default=_json_default, indent=1).encode("utf-8")])
    if fmt == "jsonld":
        document = dcat.catalogue(export, base_url, lang)
        return iter([json.dumps(document, ensure_ascii=False, default=_json_default, indent=1).encode("utf-8")])
    raise NotFound(_("Unknown export format."))
