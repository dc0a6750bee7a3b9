"""Compliance figures, read: every plan item's answer, summarised per institution and nationally on a day
(`idmx.monitoring.compliance`), for /monitoring, its downloads, the central export page and
`idmx export compliance`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import NotFound
from idmx.formats.download import Download
from idmx.i18n import gettext as _
from idmx.monitoring import compliance
from idmx.plans import policy


def figures(db: Database, on: date | None = None) -> compliance.Figures:
    on = on or clock.today()
    results = institutions(db, on)
    return compliance.Figures(on, results, compliance.national(results))


def download(db: Database, fmt: str, on: date | None = None) -> Download:
    """Today's figures in `fmt`, rendered now: /monitoring.csv|xlsx|json and `idmx export compliance`."""
    if fmt not in compliance.FORMATS:
        raise NotFound(_("Unknown export format."))
    current = figures(db, on)
    return Download(f"idmx-monitoring-{current.on.isoformat()}.{fmt}", compliance.FORMATS[fmt],
                    list(compliance.render(current, fmt)))


_ANSWER_COLUMNS = [getattr(m.PlanItem, name) for name in policy.ANSWER_FIELDS]


def load_rows(s: Session, institution_id: int | None = None) -> list[compliance.ItemRow]:
    """Every plan item (or one institution's) with its institution, as `summarise` takes them."""
    query = (
        select(m.Institution.id, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en, *_ANSWER_COLUMNS)
        .join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
        .order_by(m.PlanItem.id)
    )
    if institution_id is not None:
        query = query.where(m.PlanItem.institution_id == institution_id)
    return [
        compliance.ItemRow(institution_id=r[0], acronym=r[1], name_es=r[2], name_en=r[3],
                answer=policy.Answer(**dict(zip(policy.ANSWER_FIELDS, r[4:], strict=True))))
        for r in s.execute(query)
    ]


def institutions(db: Database, today: date | None = None, institution_id: int | None = None) -> list[compliance.InstitutionCompliance]:
    """Every institution's figures (or one's) on `today` (default: today in Mexico City)."""
    with db.read() as s:
        rows = load_rows(s, institution_id)
    return compliance.summarise(rows, today or clock.today())
