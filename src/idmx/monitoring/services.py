"""Compliance figures, read: every plan item's answer, summarised per institution and nationally on a day
(`idmx.monitoring.compliance`), for /monitoring, its downloads, the central export page and
`idmx export compliance`; and their history, one snapshot per institution and day (the worker's
``snapshots`` job), for each institution's scorecard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
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


# --- history: one snapshot per institution and day -----------------------------------------------------------

_COUNT_COLUMNS = [s.value for s in compliance.STATUSES]


def take_snapshot(db: Database, today: date | None = None) -> int:
    """Store each institution's figures for `today` unless that day is stored already; returns rows added.

    The first run of a day stores it (the worker runs hourly); a second run, or a second worker, adds
    nothing (ON CONFLICT DO NOTHING on the day and institution).
    """
    today = today or clock.today()
    with db.read() as s:
        results = compliance.summarise(load_rows(s), today)
    if not results:
        return 0
    now = clock.now()
    values = [{"day": today, "institution_id": r.institution_id, "taken_at": now,
               **{name: getattr(r, name) for name in _COUNT_COLUMNS}} for r in results]
    with db.write() as s:
        table = m.ComplianceSnapshot.__table__
        stmt = insert_for(s, table).values(values).on_conflict_do_nothing(
            index_elements=["day", "institution_id"]).returning(table.c.id)
        return len(s.execute(stmt).all())


def history(db: Database, institution_id: int | None = None) -> list[compliance.HistoryPoint]:
    """An institution's daily figures (or the national sum), oldest first."""
    columns = [getattr(m.ComplianceSnapshot, name) for name in _COUNT_COLUMNS]
    query = select(m.ComplianceSnapshot.day, *columns).order_by(m.ComplianceSnapshot.day)
    if institution_id is not None:
        query = query.where(m.ComplianceSnapshot.institution_id == institution_id)
    with db.read() as s:
        rows = [(r[0], dict(zip(_COUNT_COLUMNS, r[1:], strict=True))) for r in s.execute(query)]
    return compliance.history_points(rows)


@dataclass
class Scorecard:
    institution: m.Institution
    today: compliance.InstitutionCompliance | None  # None: no plan items
    history: list[compliance.HistoryPoint]
    chart: compliance.Chart | None


def institution_by_acronym(db: Database, acronym: str) -> m.Institution:
    with db.read() as s:
        institution = s.scalar(select(m.Institution).where(m.Institution.acronym == acronym))
    if institution is None:
        raise NotFound(_("There is no institution with that acronym."))
    return institution


def scorecard(db: Database, acronym: str, on: date | None = None) -> Scorecard:
    institution = institution_by_acronym(db, acronym)
    current = institutions(db, on, institution.id)
    points = history(db, institution.id)
    return Scorecard(institution, current[0] if current else None, points,
                     compliance.trend_chart(points) if points else None)


def history_download(db: Database, fmt: str, acronym: str | None = None) -> Download:
    """The daily history of one institution (or the national sum) as CSV or JSON."""
    if fmt not in ("csv", "json"):
        raise NotFound(_("Unknown export format."))
    institution = institution_by_acronym(db, acronym) if acronym else None
    points = history(db, institution.id if institution else None)
    scope = institution.acronym if institution else "national"
    return Download(f"idmx-compliance-history-{scope}.{fmt}", compliance.FORMATS[fmt],
                    list(compliance.render_history(points, fmt, scope)))
