"""Data requests: the standing public channel and the central team's decisions on it.

Nothing personal is stored with a request: no address, no cookie, no name. The central team either
routes a request to an institution, which adds it to that institution's open-up plan (a plan item
with source "request", answered like any other), or rejects it with a reason that is shown publicly.
A request is decided once: the decision is a conditional UPDATE on status "received", so a second
decision, even a simultaneous one, changes nothing and is refused with a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from idmx import audit, clock
from idmx.accounts.services import StaffPrincipal
from idmx.consultations.services import reference_choices
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.plans import policy
from idmx.plans import services as items
from idmx.requests.forms import RequestForm

PAGE_SIZE = 20
R = m.DataRequest
STATUSES = tuple(s.value for s in m.DataRequestStatus)


# --- reading -------------------------------------------------------------------------------------------


@dataclass
class RequestRow:
    """A request as pages show it, with the names its ids point to."""

    id: int
    kind: str
    title: str
    description: str
    intended_use: str
    status: str
    rejection_reason: str
    created_at: datetime
    reviewed_at: datetime | None
    suggested: tuple[str, str, str] | None  # (acronym, name_es, name_en)
    segment: tuple[str, str] | None  # (name_es, name_en)
    about_item_id: int | None
    about_title: str
    plan_item_id: int | None
    routed_to: tuple[str, str, str] | None  # the institution whose plan holds it


@dataclass
class RequestPage:
    rows: list[RequestRow]
    total: int
    page: int
    pages: int
    status: str  # "" for all
    counts: dict[str, int]


def _query():
    suggested = aliased(m.Institution)
    routed = aliased(m.Institution)
    about = aliased(m.PlanItem)
    plan = aliased(m.PlanItem)
    return (
        select(R, suggested.acronym, suggested.name_es, suggested.name_en, m.Segment.name_es, m.Segment.name_en,
               about.title, routed.acronym, routed.name_es, routed.name_en)
        .outerjoin(suggested, suggested.id == R.suggested_institution_id)
        .outerjoin(m.Segment, m.Segment.id == R.segment_id)
        .outerjoin(about, about.id == R.about_item_id)
        .outerjoin(plan, plan.id == R.plan_item_id)
        .outerjoin(routed, routed.id == plan.institution_id)
    )


def _row(r: Any) -> RequestRow:
    req: m.DataRequest = r[0]
    return RequestRow(
        id=req.id, kind=req.kind.value, title=req.title, description=req.description, intended_use=req.intended_use,
        status=req.status.value, rejection_reason=req.rejection_reason, created_at=req.created_at,
        reviewed_at=req.reviewed_at, suggested=(r[1], r[2], r[3]) if r[1] else None,
        segment=(r[4], r[5]) if r[4] else None, about_item_id=req.about_item_id, about_title=r[6] or "",
        plan_item_id=req.plan_item_id, routed_to=(r[7], r[8], r[9]) if r[7] else None,
    )


def list_requests(db: Database, *, status: str = "", page: int = 1, oldest_first: bool = False) -> RequestPage:
    """One page of requests, newest first (the central team's queue: oldest first), optionally of one status."""
    status = status if status in STATUSES else ""
    where = [R.status == status] if status else []
    with db.read() as s:
        counts = {k.value if hasattr(k, "value") else k: n
                  for k, n in s.execute(select(R.status, func.count()).group_by(R.status))}
        total = sum(counts.get(x, 0) for x in ([status] if status else STATUSES))
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        order = (R.created_at.asc(), R.id.asc()) if oldest_first else (R.created_at.desc(), R.id.desc())
        rows = s.execute(_query().where(*where).order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return RequestPage([_row(r) for r in rows], total, page, pages, status,
                       {x: counts.get(x, 0) for x in STATUSES})


def get_request(db: Database, request_id: int) -> RequestRow:
    with db.read() as s:
        row = s.execute(_query().where(R.id == request_id)).first()
    if row is None:
        raise NotFound(_("This data request does not exist."))
    return _row(row)


def published_items(db: Database) -> list[tuple[int, str, str]]:
    """(plan item id, title, institution acronym) of every published dataset, for problem reports."""
    with db.read() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(m.PlanItem.id, m.PlanItem.title, m.Institution.acronym)
            .join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
            .where(m.PlanItem.status == m.PlanStatus.published)
            .order_by(m.Institution.acronym, m.PlanItem.title, m.PlanItem.id)
        )]


def form_choices(db: Database) -> dict[str, Any]:
    reference = reference_choices(db)
    return {"institutions": reference["institutions"], "segments": reference["segments"],
            "published": published_items(db)}


# --- the public request --------------------------------------------------------------------------------


def create_request(db: Database, form: RequestForm) -> int:
    """Store a valid request: its text and choices only, nothing about who sent it."""
    with db.write() as s:
        req = R(kind=m.DataRequestKind(form.kind), title=form.title, description=form.description,
                intended_use=form.intended_use, suggested_institution_id=form.institution_id,
                segment_id=form.segment_id, about_item_id=form.about_item_id, status=m.DataRequestStatus.received)
        s.add(req)
        s.flush()
        return req.id


# --- the central team's decisions ----------------------------------------------------------------------


def _already_decided(s: Session, request_id: int) -> Conflict:
    status = s.scalar(select(R.status).where(R.id == request_id))
    if status is None:
        raise NotFound(_("This data request does not exist."))
    if status == m.DataRequestStatus.routed:
        return Conflict(_("This request was already validated and routed to an institution. Nothing was changed."))
    return Conflict(_("This request was already rejected. Nothing was changed."))


def ensure_open(db: Database, request_id: int) -> RequestRow:
    """The request, if it still awaits a decision; otherwise a conflict (or not found)."""
    row = get_request(db, request_id)
    if row.status != m.DataRequestStatus.received.value:
        with db.read() as s:
            raise _already_decided(s, request_id)
    return row


def _decide(s: Session, request_id: int, **values: Any) -> None:
    """Move a received request to its decision, or refuse when someone decided it first."""
    changed = s.execute(
        update(R).where(R.id == request_id, R.status == m.DataRequestStatus.received).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _already_decided(s, request_id)


def route(db: Database, me: StaffPrincipal, request_id: int, institution_id: int, note: str = "") -> int:
    """Validate the request and put it in `institution_id`'s open-up plan; returns the new plan item's id.

    The plan item, the request's new status and both audit records land in one transaction. The
    institution has the policy's business days to answer, counted from today in Mexico City.
    """
    with db.write() as s:
        req = s.get(R, request_id)
        if req is None:
            raise NotFound(_("This data request does not exist."))
        if req.status != m.DataRequestStatus.received:
            raise _already_decided(s, request_id)
        item = items.create_item(
            s, institution_id=institution_id, source=m.PlanSource.request, title=req.title,
            description=req.description, today=clock.today(), answer_days=policy.DEFAULT_ANSWER_DAYS,
            policy_due=None, actor_id=me.id, note=note,
        )
        now = clock.now()
        _decide(s, request_id, status=m.DataRequestStatus.routed, plan_item_id=item.id, reviewed_by=me.id,
                reviewed_at=now)
        audit.record(s, actor_id=me.id, action="data_request.route", obj=("data_request", request_id),
                     institution_id=institution_id, before={"status": m.DataRequestStatus.received},
                     after={"status": m.DataRequestStatus.routed, "plan_item_id": item.id,
                            "institution_id": institution_id, **({"note": note} if note else {})},
                     public_note=note)
        return item.id


def reject(db: Database, me: StaffPrincipal, request_id: int, reason: str) -> None:
    """Reject the request with a reason, which the public list and page show."""
    with db.write() as s:
        _decide(s, request_id, status=m.DataRequestStatus.rejected, rejection_reason=reason, reviewed_by=me.id,
                reviewed_at=clock.now())
        audit.record(s, actor_id=me.id, action="data_request.reject", obj=("data_request", request_id),
                     before={"status": m.DataRequestStatus.received},
                     after={"status": m.DataRequestStatus.rejected, "rejection_reason": reason}, public_note=reason)


def institution_options(db: Database) -> list[tuple[int, str, str]]:
    return reference_choices(db)["institutions"]


def suggested_route(row: RequestRow, db: Database) -> int | None:
    """The institution to preselect: the one holding the dataset a problem is about, else the requester's guess."""
    with db.read() as s:
        if row.about_item_id is not None:
            return s.scalar(select(m.PlanItem.institution_id).where(m.PlanItem.id == row.about_item_id))
        return s.scalar(select(R.suggested_institution_id).where(R.id == row.id))
