"""The institution's open-up plan, staff side: list its items, answer them, add datasets.

Every lookup by id goes through `_scoped`: an institution's staff find only their own institution's
items (another institution's id is reported as missing, 404); the central team finds every item and
may answer for any institution (each write is audited with who did it, by `items.apply`). Moves go
through `idmx.plans.policy`; a refused move raises `AnswerError` naming the form field it concerns,
and nothing is stored (the whole write is one transaction).

Dates count in Mexico City (`clock.today()`), the federal government's calendar.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idmx import clock
from idmx.accounts.services import StaffPrincipal
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, DomainError, NotFound
from idmx.fields import clean_text
from idmx.i18n import gettext as _
from idmx.plans import items, labels, policy
from idmx.plans.labels import status_label  # noqa: F401  (re-exported for callers of this module)
from idmx.plans.policy import PublicStatus
from idmx.ranking.runs import latest_run

TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX, NOTE_MAX, JUSTIFICATION_MAX = 5, 200, 4000, 1000, 4000
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AnswerError(DomainError):
    """A refused answer: 422 for a bad input (`field` names it), 409 when the item's state forbids the move."""

    def __init__(self, message: str, field: str | None):
        super().__init__(message, field=field)
        self.status_code = 409 if field == "status" else 422



# --- parsing ----------------------------------------------------------------------------------------------


def parse_date(raw: Any) -> date | None:
    """A strict ISO date (yyyy-mm-dd, what `<input type="date">` sends); None when empty or malformed."""
    text = clean_text(raw)
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _date_field(raw: Any) -> date:
    if not clean_text(raw):
        raise AnswerError(_("Give a due date."), "due_date")
    value = parse_date(raw)
    if value is None:
        raise AnswerError(_("Write the date as yyyy-mm-dd, for example 2027-03-31."), "due_date")
    return value


def _bounded(raw: Any, name: str, limit: int) -> str:
    text = clean_text(raw)
    if len(text) > limit:
        raise AnswerError(_("At most %(max)s characters (you wrote %(n)s).") % {"max": limit, "n": len(text)}, name)
    return text


# --- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    item: m.PlanItem
    status: PublicStatus
    institution: str  # acronym


@dataclass
class PlanView:
    institution: m.Institution | None  # None: the central team looking at every institution
    rows: list[Row]
    counts: dict[PublicStatus, int]
    total: int
    status_filter: PublicStatus | None
    institutions: list[tuple[int, str]] = field(default_factory=list)  # for the central team's picker


def _scoped(query, me: StaffPrincipal):
    return query if me.is_central else query.where(m.PlanItem.institution_id == me.institution_id)


def institution_choices(s: Session) -> list[tuple[int, str]]:
    return [(i, f"{a} · {n}") for i, a, n in s.execute(
        select(m.Institution.id, m.Institution.acronym, m.Institution.name_es).order_by(m.Institution.acronym))]


def plan(db: Database, me: StaffPrincipal, *, institution_id: int | None = None, status: str | None = None,
         on: date | None = None) -> PlanView:
    """The plan's items with their public status today, counted per status and optionally filtered."""
    on = on or clock.today()
    wanted = me.institution_id if not me.is_central else institution_id
    with db.read() as s:
        institution = s.get(m.Institution, wanted) if wanted is not None else None
        query = select(m.PlanItem, m.Institution.acronym).join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
        query = _scoped(query, me)
        if institution is not None:
            query = query.where(m.PlanItem.institution_id == institution.id)
        all_rows = [Row(item, policy.public_status(items.answer_of(item), on), acronym)
                    for item, acronym in s.execute(query.order_by(m.PlanItem.id))]
        choices = institution_choices(s) if me.is_central else []
    try:
        status_filter = PublicStatus(status) if status else None
    except ValueError:
        status_filter = None
    counts = Counter(r.status for r in all_rows)
    shown = [r for r in all_rows if status_filter is None or r.status == status_filter]
    return PlanView(institution, shown, {st: counts.get(st, 0) for st in labels.STATUS_ORDER}, len(all_rows),
                    status_filter, choices)


@dataclass
class ItemView:
    item: m.PlanItem
    institution: m.Institution
    status: PublicStatus
    history: list[m.PlanEvent]
    legal_bases: list[m.LegalBasis]
    legal_basis: m.LegalBasis | None
    actors: dict[int, str]


def item_view(db: Database, me: StaffPrincipal, item_id: int, *, on: date | None = None) -> ItemView:
    on = on or clock.today()
    with db.read() as s:
        item = _load(s, me, item_id)
        institution = s.get(m.Institution, item.institution_id)
        history = items.history(s, item.id)
        actor_ids = {e.actor_id for e in history if e.actor_id is not None}
        actors = {uid: email for uid, email in s.execute(
            select(m.StaffUser.id, m.StaffUser.email).where(m.StaffUser.id.in_(actor_ids)))} if actor_ids else {}
        bases = list(s.scalars(select(m.LegalBasis).order_by(m.LegalBasis.id)))
    assert institution is not None
    basis = next((b for b in bases if b.id == item.legal_basis_id), None)
    return ItemView(item, institution, policy.public_status(items.answer_of(item), on), history, bases, basis, actors)


def _load(s: Session, me: StaffPrincipal, item_id: int, *, lock: bool = False) -> m.PlanItem:
    query = _scoped(select(m.PlanItem).where(m.PlanItem.id == item_id), me)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    item = s.scalar(query)
    if item is None:
        raise NotFound(_("There is no plan item at this address."))
    return item


# --- answering --------------------------------------------------------------------------------------------


def _apply(db: Database, me: StaffPrincipal, item_id: int, move) -> policy.Event:
    with db.write() as s:
        item = _load(s, me, item_id, lock=True)
        try:
            return items.apply(s, item, move, actor_id=me.id)
        except policy.TransitionError as err:
            raise AnswerError(labels.transition_message(str(err)), err.field) from err


def commit(db: Database, me: StaffPrincipal, item_id: int, data: dict[str, Any], *, on: date | None = None) -> policy.Event:
    """Commit to (or move) a due date; later than the policy allows needs a justification (public)."""
    on = on or clock.today()
    due = _date_field(data.get("due_date"))
    justification = _bounded(data.get("justification"), "justification", JUSTIFICATION_MAX)
    return _apply(db, me, item_id, lambda a: policy.commit(a, due, on, justification))


def publish(db: Database, me: StaffPrincipal, item_id: int, data: dict[str, Any], *, on: date | None = None) -> policy.Event:
    on = on or clock.today()
    url = clean_text(data.get("url"))
    catalogue_id = clean_text(data.get("catalogue_id"))
    return _apply(db, me, item_id, lambda a: policy.publish(a, url, on, catalogue_id))


def deny(db: Database, me: StaffPrincipal, item_id: int, data: dict[str, Any]) -> policy.Event:
    raw = clean_text(data.get("legal_basis"))
    basis_id: int | None = int(raw) if raw.isdigit() else None
    explanation = _bounded(data.get("explanation"), "explanation", 4000)
    if basis_id is not None:
        with db.read() as s:
            if s.get(m.LegalBasis, basis_id) is None:
                basis_id = None
    return _apply(db, me, item_id, lambda a: policy.deny(a, basis_id, explanation))


def reopen(db: Database, me: StaffPrincipal, item_id: int, data: dict[str, Any], *, on: date | None = None) -> policy.Event:
    on = on or clock.today()
    note = _bounded(data.get("note"), "note", NOTE_MAX)
    with db.read() as s:
        days = items.answer_days(s, item_id)
    return _apply(db, me, item_id, lambda a: policy.reopen(a, on, days, note))


# --- adding datasets --------------------------------------------------------------------------------------


@dataclass
class OwnForm:
    title: str = ""
    description: str = ""
    topic_id: int | None = None
    institution_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)


def parse_own(data: dict[str, Any], me: StaffPrincipal, topic_ids: set[int], institution_ids: set[int]) -> OwnForm:
    form = OwnForm(title=clean_text(data.get("title")), description=clean_text(data.get("description")))
    if not TITLE_MIN <= len(form.title) <= TITLE_MAX:
        form.errors["title"] = _("The title needs between %(min)s and %(max)s characters.") % {"min": TITLE_MIN, "max": TITLE_MAX}
    if len(form.description) > DESCRIPTION_MAX:
        form.errors["description"] = _("At most %(max)s characters (you wrote %(n)s).") % {
            "max": DESCRIPTION_MAX, "n": len(form.description)}
    topic = clean_text(data.get("topic"))
    if topic:
        form.topic_id = int(topic) if topic.isdigit() and int(topic) in topic_ids else None
        if form.topic_id is None:
            form.errors["topic"] = _("Choose a topic from the list.")
    if me.is_central:
        raw = clean_text(data.get("institution"))
        form.institution_id = int(raw) if raw.isdigit() and int(raw) in institution_ids else None
        if form.institution_id is None:
            form.errors["institution"] = _("Choose the institution whose plan gets this dataset.")
    else:
        form.institution_id = me.institution_id
    return form


def add_own(db: Database, me: StaffPrincipal, form: OwnForm, *, on: date | None = None) -> int:
    """A dataset the institution adds itself; no policy date applies. It feeds the next IDMX edition."""
    assert form.institution_id is not None and not form.errors
    with db.write() as s:
        item = items.create(s, institution_id=form.institution_id, source=m.PlanSource.own, title=form.title,
                            description=form.description, topic_id=form.topic_id, today=on or clock.today(),
                            policy_due=None, actor_id=me.id)
        return item.id


def own_items_for_next_edition(s: Session) -> list[m.PlanItem]:
    """Items institutions added themselves or received as data requests that no IDMX edition lists yet.

    "Listed" means an `InfrastructureItem` of any edition points at the plan item (`plan_item_id`).
    """
    listed = select(m.InfrastructureItem.plan_item_id).where(m.InfrastructureItem.plan_item_id.is_not(None))
    return list(s.scalars(
        select(m.PlanItem)
        .where(m.PlanItem.source.in_([m.PlanSource.own, m.PlanSource.request]), m.PlanItem.id.not_in(listed))
        .order_by(m.PlanItem.institution_id, m.PlanItem.id)
    ))


@dataclass
class Candidate:
    proposal: m.Proposal
    rank: int | None
    score: float | None


@dataclass
class ClosedConsultation:
    consultation: m.Consultation
    institution: str
    candidates: list[Candidate]
    ranked: bool
    in_plan: int


def consultation_candidates(db: Database, me: StaffPrincipal, *, now: datetime | None = None) -> list[ClosedConsultation]:
    """The institution's closed consultations with their published proposals not yet in a plan, best first."""
    now = now or clock.now()
    with db.read() as s:
        query = (select(m.Consultation, m.Institution.acronym)
                 .join(m.Institution, m.Institution.id == m.Consultation.institution_id)
                 .where(m.Consultation.status == m.ConsultationStatus.published, m.Consultation.closes_at <= now)
                 .order_by(m.Consultation.closes_at.desc(), m.Consultation.id))
        if not me.is_central:
            query = query.where(m.Consultation.institution_id == me.institution_id)
        consultations = s.execute(query).all()
        in_plan = select(m.PlanItem.proposal_id).where(m.PlanItem.proposal_id.is_not(None))
        result = []
        for c, acronym in consultations:
            proposals = list(s.scalars(select(m.Proposal).where(
                m.Proposal.consultation_id == c.id, m.Proposal.status == m.ProposalStatus.published,
                m.Proposal.id.not_in(in_plan)).order_by(m.Proposal.id)))
            added = s.scalar(select(func.count()).select_from(m.PlanItem).join(
                m.Proposal, m.Proposal.id == m.PlanItem.proposal_id).where(m.Proposal.consultation_id == c.id)) or 0
            result.append((c, acronym, proposals, added))
    out = []
    for c, acronym, proposals, added in result:
        run = latest_run(db, c.id)
        by_id = {int(r["proposal_id"]): r for r in (run.results if run else [])}
        candidates = [Candidate(p, by_id.get(p.id, {}).get("rank"), by_id.get(p.id, {}).get("score")) for p in proposals]
        candidates.sort(key=lambda cand: (cand.rank is None, cand.rank or 0, cand.proposal.id))
        out.append(ClosedConsultation(c, acronym, candidates, run is not None, added))
    return out


def add_proposal(db: Database, me: StaffPrincipal, proposal_id: int, *, now: datetime | None = None) -> int:
    """Put a proposal of the institution's closed consultation into its plan (once per proposal)."""
    now = now or clock.now()
    with db.write() as s:
        query = (select(m.Proposal, m.Consultation).join(m.Consultation, m.Consultation.id == m.Proposal.consultation_id)
                 .where(m.Proposal.id == proposal_id, m.Consultation.institution_id.is_not(None)))
        if not me.is_central:
            query = query.where(m.Consultation.institution_id == me.institution_id)
        row = s.execute(query).first()
        if row is None:
            raise NotFound(_("There is no proposal at this address."))
        p, c = row
        if c.status != m.ConsultationStatus.published or c.closes_at > now:
            raise Conflict(_("Proposals can be added to the plan once their consultation has closed."))
        if p.status != m.ProposalStatus.published:
            raise Conflict(_("Only published proposals can be added to the plan."))
        existing = s.scalar(select(m.PlanItem.id).where(m.PlanItem.proposal_id == p.id))
        if existing is not None:
            raise Conflict(_("This proposal is already in the plan (item %(id)s); nothing was added.") % {"id": existing})
        assert c.institution_id is not None
        try:
            with s.begin_nested():
                item = items.create(s, institution_id=c.institution_id, source=m.PlanSource.consultation, title=p.title,
                                    description=p.description, topic_id=p.topic_id, proposal_id=p.id,
                                    today=clock.local_date(now), policy_due=None, actor_id=me.id)
        except IntegrityError as err:  # another request added it at the same moment
            raise Conflict(_("This proposal is already in the plan; nothing was added.")) from err
        return item.id
