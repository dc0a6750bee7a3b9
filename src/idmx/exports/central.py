"""The central team's export page, /staff/exports: every public download in one place.

It lists, with a link per format, every published IDMX edition (`idmx.exports.edition_downloads`),
every institution's plan and all plans in one file (`idmx.plans.institution_pages`), the compliance
figures (`idmx.plans.monitoring`) and the open data of every closed consultation
(`idmx.exports.controllers`). The page only links: each download is the public one, built by the same
code as `idmx export`. Central team only (the other roles have their own institution's pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import func, select

from idmx import clock
from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.db import Database
from idmx.db import models as m
from idmx.exports import compliance_export, idmx_list
from idmx.plans import institution_pages, plan_export
from idmx.web import page

ONLY_CENTRAL = {"roles": CENTRAL}


@dataclass(frozen=True)
class EditionEntry:
    series: str
    version: int
    title: str
    published_at: datetime
    items: int


@dataclass(frozen=True)
class PlanEntry:
    acronym: str
    name_es: str
    name_en: str
    items: int


@dataclass(frozen=True)
class ConsultationEntry:
    slug: str
    title_es: str
    title_en: str
    closes_at: datetime

    @property
    def zip_name(self) -> str:
        return f"idmx-{self.slug}-datos.zip"  # the name `consultation_data.ExportInfo.zip_name` serves


@dataclass(frozen=True)
class Catalogue:
    editions: list[EditionEntry]
    plans: list[PlanEntry]
    consultations: list[ConsultationEntry]


def catalogue(db: Database, now: datetime | None = None) -> Catalogue:
    """What there is to download: published editions (newest first), institutions with plan items (by
    acronym), and closed published consultations (most recently closed first)."""
    now = now or clock.now()
    with db.read() as s:
        counts = dict(s.execute(select(m.InfrastructureItem.edition_id, func.count())
                                .group_by(m.InfrastructureItem.edition_id)).all())
        editions = [
            EditionEntry(e.series, e.version, e.title_es, e.published_at, counts.get(e.id, 0))
            for e in s.scalars(select(m.Edition).where(m.Edition.status == m.EditionStatus.published)
                               .order_by(m.Edition.published_at.desc(), m.Edition.series, m.Edition.version.desc()))
        ]
        consultations = [
            ConsultationEntry(c.slug, c.title_es, c.title_en, c.closes_at)
            for c in s.scalars(select(m.Consultation).where(m.Consultation.status == m.ConsultationStatus.published,
                                                            m.Consultation.closes_at <= now)
                               .order_by(m.Consultation.closes_at.desc(), m.Consultation.slug))
        ]
    plans = [PlanEntry(r.institution.acronym, r.institution.name_es, r.institution.name_en, r.total)
             for r in institution_pages.institutions_overview(db)]
    return Catalogue(editions, plans, consultations)


class CentralExportController(Controller):
    path = "/staff/exports"
    guards = (staff_guard,)

    @get("/", name="staff_exports:index", opt=ONLY_CENTRAL, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "exports/central.html", {
            "me": principal_of(request), "cat": catalogue(db),
            "edition_formats": list(idmx_list.FORMATS), "plan_formats": list(plan_export.FORMATS),
            "compliance_formats": list(compliance_export.FORMATS),
        })
