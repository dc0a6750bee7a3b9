"""Public plans, read: which institutions have plans, each institution's plan with every item's state today
(Mexico City), and the same rows as downloads (`idmx.plans.export` renders them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import NotFound
from idmx.formats.download import Download
from idmx.i18n import gettext as _
from idmx.i18n import localised
from idmx.plans import export as plan_export
from idmx.plans import labels, policy
from idmx.plans import services as items
from idmx.plans.policy import PublicStatus


@dataclass(frozen=True)
class InstitutionRow:
    institution: m.Institution
    total: int
    counts: dict[PublicStatus, int]


def institutions_overview(db: Database, *, on: date | None = None) -> list[InstitutionRow]:
    """Every institution that has plan items, with its items counted per public status."""
    on = on or clock.today()
    with db.read() as s:
        institutions = {i.id: i for i in s.scalars(select(m.Institution).where(
            m.Institution.id.in_(select(m.PlanItem.institution_id).distinct())))}
        counts: dict[int, Counter[PublicStatus]] = {i: Counter() for i in institutions}
        for item in s.scalars(select(m.PlanItem)):
            counts[item.institution_id][policy.public_status(items.answer_of(item), on)] += 1
    rows = [InstitutionRow(inst, sum(counts[inst.id].values()),
                           {st: counts[inst.id].get(st, 0) for st in labels.STATUS_ORDER})
            for inst in institutions.values()]
    return sorted(rows, key=lambda r: r.institution.acronym)


@dataclass(frozen=True)
class PublicItem:
    item: m.PlanItem
    status: PublicStatus
    legal_basis: m.LegalBasis | None


@dataclass(frozen=True)
class PublicPlan:
    institution: m.Institution
    items: list[PublicItem]
    counts: dict[PublicStatus, int]
    # The body that took over an abolished institution's functions (its plan stays here, under the old name).
    successor: m.Institution | None = None


def institution_by_acronym(s, acronym: str) -> m.Institution:
    inst = s.scalar(select(m.Institution).where(func.upper(m.Institution.acronym) == acronym.upper()))
    if inst is None:
        raise NotFound(_("There is no institution with this acronym."))
    return inst


def public_plan(db: Database, acronym: str, *, on: date | None = None) -> PublicPlan:
    on = on or clock.today()
    with db.read() as s:
        inst = institution_by_acronym(s, acronym)
        bases = {b.id: b for b in s.scalars(select(m.LegalBasis))}
        plan_items = list(s.scalars(select(m.PlanItem).where(m.PlanItem.institution_id == inst.id).order_by(m.PlanItem.id)))
        successor = s.get(m.Institution, inst.successor_id) if inst.successor_id else None
    rows = [PublicItem(i, policy.public_status(items.answer_of(i), on), bases.get(i.legal_basis_id or -1))
            for i in plan_items]
    counts = Counter(r.status for r in rows)
    return PublicPlan(inst, rows, {st: counts.get(st, 0) for st in labels.STATUS_ORDER}, successor)


def all_plans(db: Database, *, on: date | None = None) -> list[PublicPlan]:
    """Every institution's public plan (those with items), by acronym: the all-plans download."""
    on = on or clock.today()
    with db.read() as s:
        bases = {b.id: b for b in s.scalars(select(m.LegalBasis))}
        found = s.execute(select(m.PlanItem, m.Institution).join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
                          .order_by(m.Institution.acronym, m.PlanItem.id)).all()
    plans: dict[int, list[PublicItem]] = {}
    institutions: dict[int, m.Institution] = {}
    for item, inst in found:
        institutions[inst.id] = inst
        plans.setdefault(inst.id, []).append(
            PublicItem(item, policy.public_status(items.answer_of(item), on), bases.get(item.legal_basis_id or -1)))
    result = []
    for inst_id, rows in plans.items():
        counts = Counter(r.status for r in rows)
        result.append(PublicPlan(institutions[inst_id], rows, {st: counts.get(st, 0) for st in labels.STATUS_ORDER}))
    return result


def _basis_name(basis: m.LegalBasis | None) -> str:
    if basis is None:
        return ""
    name = localised(basis.name_es, basis.name_en)
    return f"{name} ({basis.article})" if basis.article else name


def export_records(plan: PublicPlan) -> list[plan_export.PlanRecord]:
    """The plan's rows from the export's allow-list (`plan_export.PlanRecord`), in the active language."""
    inst = plan.institution
    return [
        plan_export.PlanRecord(
            id=r.item.id, title=r.item.title, description=r.item.description, source=r.item.source,
            public_status=r.status, policy_due=r.item.policy_due, due_date=r.item.due_date,
            late_justification=r.item.late_justification, published_on=r.item.published_on,
            published_url=r.item.published_url, catalogue_id=r.item.catalogue_id,
            legal_basis=_basis_name(r.legal_basis), legal_basis_code=r.legal_basis.code if r.legal_basis else "",
            denial_explanation=r.item.denial_explanation,
            institution_acronym=inst.acronym, institution=localised(inst.name_es, inst.name_en),
        )
        for r in plan.items
    ]


def _filename(acronym: str, ext: str, on: date) -> str:
    safe = "".join(ch for ch in acronym if ch.isalnum() or ch in "-_") or "plan"
    return f"plan-{safe.lower()}-{on.isoformat()}.{ext}"


def plan_download(db: Database, acronym: str | None, fmt: str, *, on: date | None = None) -> Download:
    """One institution's plan (or, with `acronym=None`, every institution's) in `fmt`, rendered now in the
    active language: the web downloads and `idmx export plan|plans` both call this."""
    if fmt not in plan_export.FORMATS:
        raise NotFound(_("Unknown export format."))
    on = on or clock.today()
    if acronym is None:
        records = [r for plan in all_plans(db, on=on) for r in export_records(plan)]
        body = plan_export.render(records, fmt, on=on, sheet_title=_("Plans"))
        return Download(f"plans-{on.isoformat()}.{fmt}", plan_export.FORMATS[fmt], list(body))
    plan = public_plan(db, acronym, on=on)
    inst = plan.institution
    body = plan_export.render(export_records(plan), fmt, on=on, institution=inst,
                              institution_name=localised(inst.name_es, inst.name_en), sheet_title=inst.acronym)
    return Download(_filename(inst.acronym, fmt, on), plan_export.FORMATS[fmt], list(body))
