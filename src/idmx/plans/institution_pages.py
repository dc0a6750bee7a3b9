"""Public plans, no sign-in: which institutions have plans, each institution's plan, and its CSV/XLSX export.

Everything in a plan is public (due dates, late justifications, addresses, legal bases and
explanations); the states shown are derived today (Mexico City) by `policy.public_status`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream, Template
from sqlalchemy import func, select

from idmx import i18n
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.plans import items, labels, plan_export, policy
from idmx.plans.answers import today
from idmx.plans.policy import PublicStatus
from idmx.web import page

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionRow:
    institution: m.Institution
    total: int
    counts: dict[PublicStatus, int]


def institutions_overview(db: Database, *, on: date | None = None) -> list[InstitutionRow]:
    """Every institution that has plan items, with its items counted per public status."""
    on = on or today()
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


def institution_by_acronym(s, acronym: str) -> m.Institution:
    inst = s.scalar(select(m.Institution).where(func.upper(m.Institution.acronym) == acronym.upper()))
    if inst is None:
        raise NotFound(_("There is no institution with this acronym."))
    return inst


def public_plan(db: Database, acronym: str, *, on: date | None = None) -> PublicPlan:
    on = on or today()
    with db.read() as s:
        inst = institution_by_acronym(s, acronym)
        bases = {b.id: b for b in s.scalars(select(m.LegalBasis))}
        plan_items = list(s.scalars(select(m.PlanItem).where(m.PlanItem.institution_id == inst.id).order_by(m.PlanItem.id)))
    rows = [PublicItem(i, policy.public_status(items.answer_of(i), on), bases.get(i.legal_basis_id or -1))
            for i in plan_items]
    counts = Counter(r.status for r in rows)
    return PublicPlan(inst, rows, {st: counts.get(st, 0) for st in labels.STATUS_ORDER})


def _basis_name(basis: m.LegalBasis | None) -> str:
    if basis is None:
        return ""
    name = basis.name_en if i18n.current() == "en" and basis.name_en else basis.name_es
    return f"{name} ({basis.article})" if basis.article else name


def export_records(plan: PublicPlan) -> list[plan_export.PlanRecord]:
    return [
        plan_export.PlanRecord(
            id=r.item.id, title=r.item.title, description=r.item.description, source=r.item.source,
            public_status=r.status, policy_due=r.item.policy_due, due_date=r.item.due_date,
            late_justification=r.item.late_justification, published_on=r.item.published_on,
            published_url=r.item.published_url, catalogue_id=r.item.catalogue_id,
            legal_basis=_basis_name(r.legal_basis), denial_explanation=r.item.denial_explanation,
        )
        for r in plan.items
    ]


# --- routes ---------------------------------------------------------------------------------------------------


def _filename(acronym: str, ext: str) -> str:
    safe = "".join(ch for ch in acronym if ch.isalnum() or ch in "-_") or "plan"
    return f"plan-{safe.lower()}-{today().isoformat()}.{ext}"


class InstitutionPlanController(Controller):
    path = "/institutions"

    @get("/", name="institutions:list", sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "institutions/list.html", {
            "rows": institutions_overview(db), "status_label": labels.status_label, "statuses": labels.STATUS_ORDER,
        })

    @get("/{acronym:str}/plan", name="institutions:plan", sync_to_thread=True)
    def plan(self, request: Request, acronym: FromPath[str], db: NamedDependency[Database]) -> Template:
        return page(request, "institutions/plan.html", {
            "p": public_plan(db, acronym), "status_label": labels.status_label, "source_label": labels.source_label,
        })

    @get("/{acronym:str}/plan.csv", name="institutions:plan_csv", sync_to_thread=True)
    def plan_csv(self, request: Request, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        plan = public_plan(db, acronym)
        lines = list(plan_export.csv_text(export_records(plan)))  # rendered here, in the request's language
        return Stream(iter(lines), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{_filename(plan.institution.acronym, "csv")}"'})

    @get("/{acronym:str}/plan.xlsx", name="institutions:plan_xlsx", sync_to_thread=True)
    def plan_xlsx(self, request: Request, acronym: FromPath[str], db: NamedDependency[Database]) -> Response:
        plan = public_plan(db, acronym)
        body = plan_export.xlsx_bytes(export_records(plan), sheet_title=plan.institution.acronym)
        return Response(body, media_type=XLSX_TYPE, headers={
            "Content-Disposition": f'attachment; filename="{_filename(plan.institution.acronym, "xlsx")}"'})
