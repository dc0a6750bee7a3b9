"""The published IDMX list as data: one row per item, from an explicit allow-list of columns.

`edition_export` reads a published edition in one snapshot and returns plain rows that every format
(CSV, XLSX, JSON, DCAT) renders; nothing here knows HTTP. Only published editions are exported: a
draft is the central team's working copy, not public data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from idmx.db import models as m
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.plans import items as plan_items
from idmx.plans import policy

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


def _localised(es: str, en: str, lang: str) -> str:
    return en if lang == "en" and en else es


def find_published(s: Session, series: str, version: int | None = None) -> m.Edition:
    """The given version of a series, or its latest published one; NotFound for drafts and unknowns."""
    query = select(m.Edition).where(m.Edition.series == series, m.Edition.status == m.EditionStatus.published)
    if version is not None:
        query = query.where(m.Edition.version == version)
    edition = s.scalar(query.order_by(m.Edition.version.desc()).limit(1))
    if edition is None:
        raise NotFound(_("There is no published IDMX list at this address."))
    return edition


def edition_export(s: Session, edition: m.Edition, today: date, lang: str = "es") -> EditionExport:
    """Rows of a published edition, in rank order, with each item's public status on `today`."""
    if edition.status != m.EditionStatus.published or edition.published_at is None:
        raise NotFound(_("There is no published IDMX list at this address."))
    previous = s.scalar(select(m.Edition.version).where(m.Edition.id == edition.previous_id)) if edition.previous_id else None
    meta = EditionMeta(
        edition.id, edition.series, edition.version, _localised(edition.title_es, edition.title_en, lang),
        edition.notes_es, edition.published_at, previous,
    )
    item, inst, topic, plan = m.InfrastructureItem, m.Institution, m.Topic, aliased(m.PlanItem)
    query = (
        select(item, inst.acronym, inst.name_es, inst.name_en, topic.code, topic.name_es, topic.name_en, plan)
        .outerjoin(inst, inst.id == item.institution_id)
        .outerjoin(topic, topic.id == item.topic_id)
        .outerjoin(plan, plan.id == item.plan_item_id)
        .where(item.edition_id == edition.id)
        .order_by(item.rank.is_(None), item.rank, item.key)
    )
    out = EditionExport(meta)
    for it, acronym, inst_es, inst_en, topic_code, topic_es, topic_en, pi in s.execute(query):
        answer = plan_items.answer_of(pi) if pi is not None else None
        out.rows.append({
            "rank": it.rank,
            "item_key": it.key,
            "title": it.title,
            "description": it.description,
            "institution_acronym": acronym or "",
            "institution": _localised(inst_es or "", inst_en or "", lang),
            "topic_code": topic_code or "",
            "topic": _localised(topic_es or "", topic_en or "", lang),
            "tier": it.tier,
            "priority": it.priority,
            "ci_low": it.ci_low,
            "ci_high": it.ci_high,
            "policy_due": answer.policy_due if answer else None,
            "due_date": answer.due_date if answer else None,
            "status": policy.public_status(answer, today).value if answer else "",
            "published_on": answer.published_on if answer else None,
            "published_url": answer.published_url if answer else "",
            "catalogue_id": answer.catalogue_id if answer else "",
            "item_path": f"/items/{pi.id}" if pi is not None else "",
        })
    return out


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
    import json

    from idmx.exports import dcat, safety, xlsx

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
