"""The institution's open-up plan, staff side: list its items, answer them, add datasets.

Every lookup by id goes through `_scoped`: an institution's staff find only their own institution's
items (another institution's id is reported as missing, 404); the central team finds every item and
may answer for any institution (each write is audited with who did it, by `apply_move`). Moves go
through `idmx.plans.policy`; a refused move raises `AnswerError` naming the form field it concerns,
and nothing is stored (the whole write is one transaction).

Dates count in Mexico City (`clock.today()`), the federal government's calendar.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idmx import audit, clock, i18n
from idmx.accounts.services import StaffPrincipal
from idmx.calendar import services as calendar
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.notify import links
from idmx.notify import services as outbox
from idmx.plans import labels, messages, policy
from idmx.plans.forms import AnswerError, OwnForm
from idmx.plans.policy import PublicStatus
from idmx.ranking.services import latest_run

# --- parsing ----------------------------------------------------------------------------------------------


# --- the plan-item store: the one place that writes `PlanItem.status` ------------------------------------
#
# Callers (edition publishing, the institution's plan, routed data requests, the API) decide *what* to do through
# `idmx.plans.policy`; these functions store the result, the public history event, the audit record and the
# followers' notifications in the caller's transaction, so none can land without the others.

ANSWER_COLUMNS = policy.ANSWER_FIELDS


def answer_of(item: m.PlanItem) -> policy.Answer:
    return policy.Answer(**{name: getattr(item, name) for name in ANSWER_COLUMNS})


def create_item(
    s: Session,
    *,
    institution_id: int,
    source: m.PlanSource,
    title: str,
    today: date,
    answer_days: int = policy.DEFAULT_ANSWER_DAYS,
    policy_due: date | None = None,
    description: str = "",
    topic_id: int | None = None,
    proposal_id: int | None = None,
    actor_id: int | None = None,
    note: str = "",
) -> m.PlanItem:
    """Add an item to an institution's plan with its "created" event; the time to answer starts today."""
    item = m.PlanItem(
        institution_id=institution_id, source=source, title=title, description=description, topic_id=topic_id,
        proposal_id=proposal_id, status=m.PlanStatus.pending, assigned_on=today,
        answer_by=policy.add_business_days(today, answer_days, calendar.off_days(s, institution_id)),
        policy_due=policy_due,
    )
    s.add(item)
    s.flush()
    event = policy.created(answer_of(item))
    details = {**event.details, "source": source.value, **({"note": note} if note else {})}
    _store_event(s, item, replace(event, details=details), actor_id)
    audit.record(s, actor_id=actor_id, action="plan_item.create", obj=("plan_item", item.id),
                 institution_id=institution_id, after={"title": title, "source": source, **details})
    return item


def answer_days(s: Session, item_id: int) -> int:
    """The business days an institution has to answer this item: the setting of the newest published
    edition that lists it (the one its deadline came from), or the default for items outside editions."""
    days = s.scalar(
        select(m.Edition.answer_business_days)
        .join(m.InfrastructureItem, m.InfrastructureItem.edition_id == m.Edition.id)
        .where(m.InfrastructureItem.plan_item_id == item_id, m.Edition.status == m.EditionStatus.published)
        .order_by(m.Edition.published_at.desc(), m.Edition.id.desc())
        .limit(1)
    )
    return int(days) if days is not None else policy.DEFAULT_ANSWER_DAYS


def apply_move(
    s: Session,
    item: m.PlanItem,
    move: Callable[[policy.Answer], tuple[policy.Answer, policy.Event]],
    *,
    actor_id: int | None,
) -> policy.Event:
    """Run one state-machine move on `item` and store everything it implies. Raises TransitionError."""
    before = answer_of(item)
    after, event = move(before)
    for name in ANSWER_COLUMNS:
        setattr(item, name, getattr(after, name))
    item.updated_at = clock.now()
    if event.kind in ("published", "url_changed"):  # a new address is checked afresh (`idmx.verification`)
        item.link_checked_at, item.link_outcome = None, ""
    _store_event(s, item, event, actor_id)
    audit.record(
        s, actor_id=actor_id, action=f"plan_item.{event.kind}", obj=("plan_item", item.id),
        institution_id=item.institution_id, before=_changed(before, after), after=_changed(after, before),
    )
    enqueue_item_update(s, item, event)
    return event


def _changed(a: policy.Answer, b: policy.Answer) -> dict[str, Any]:
    return {name: getattr(a, name) for name in ANSWER_COLUMNS if getattr(a, name) != getattr(b, name)}


def _store_event(s: Session, item: m.PlanItem, event: policy.Event, actor_id: int | None) -> None:
    s.add(m.PlanEvent(
        plan_item_id=item.id, at=clock.now(), actor_id=actor_id, kind=event.kind,
        from_status=event.from_status.value if event.from_status else None, to_status=event.to_status.value,
        details=audit.plain(event.details),
    ))


def item_history(s: Session, item_id: int) -> list[m.PlanEvent]:
    return list(s.scalars(select(m.PlanEvent).where(m.PlanEvent.plan_item_id == item_id).order_by(m.PlanEvent.id)))


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
        all_rows = [Row(item, policy.public_status(answer_of(item), on), acronym)
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
    checks: list[m.PublicationCheck] = field(default_factory=list)


def item_view(db: Database, me: StaffPrincipal, item_id: int, *, on: date | None = None) -> ItemView:
    on = on or clock.today()
    with db.read() as s:
        item = _load(s, me, item_id)
        institution = s.get(m.Institution, item.institution_id)
        history = item_history(s, item.id)
        actor_ids = {e.actor_id for e in history if e.actor_id is not None}
        actors = {uid: email for uid, email in s.execute(
            select(m.StaffUser.id, m.StaffUser.email).where(m.StaffUser.id.in_(actor_ids)))} if actor_ids else {}
        bases = list(s.scalars(select(m.LegalBasis).order_by(m.LegalBasis.id)))
        checks = publication_checks(s, item.id)
    assert institution is not None
    basis = next((b for b in bases if b.id == item.legal_basis_id), None)
    return ItemView(item, institution, policy.public_status(answer_of(item), on), history, bases, basis, actors,
                    checks)


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
    """Run `move(answer, off_days)` on the item, with its institution's non-working days."""
    with db.write() as s:
        item = _load(s, me, item_id, lock=True)
        days = calendar.off_days(s, item.institution_id)
        try:
            return apply_move(s, item, lambda a: move(a, days), actor_id=me.id)
        except policy.TransitionError as err:
            raise AnswerError(labels.transition_message(str(err)), err.field) from err


def commit(db: Database, me: StaffPrincipal, item_id: int, due: date, justification: str, *,
           on: date | None = None) -> policy.Event:
    """Commit to (or move) a due date; later than the policy allows needs a justification (public)."""
    on = on or clock.today()
    return _apply(db, me, item_id, lambda a, days: policy.commit(a, due, on, justification, days))


def publish(db: Database, me: StaffPrincipal, item_id: int, url: str, catalogue_id: str, *,
            on: date | None = None) -> policy.Event:
    on = on or clock.today()
    return _apply(db, me, item_id, lambda a, days: policy.publish(a, url, on, catalogue_id))


def deny(db: Database, me: StaffPrincipal, item_id: int, basis_id: int | None, explanation: str) -> policy.Event:
    if basis_id is not None:
        with db.read() as s:
            if s.get(m.LegalBasis, basis_id) is None:
                basis_id = None
    return _apply(db, me, item_id, lambda a, days: policy.deny(a, basis_id, explanation))


def reject_publication(db: Database, me: StaffPrincipal, item_id: int, reason: str) -> policy.Event:
    """The central team does not accept a claimed publication: the item is open again and its staff are told."""
    with db.write() as s:
        item = _load(s, me, item_id, lock=True)
        try:
            event = apply_move(s, item, lambda a: policy.reject_publication(a, reason), actor_id=me.id)
        except policy.TransitionError as err:
            raise AnswerError(labels.transition_message(str(err)), err.field) from err
        enqueue_institution_reopened(s, item, event)
        return event


def enqueue_institution_reopened(s: Session, item: m.PlanItem, event: policy.Event) -> int:
    """Tell the institution's administrators (in Spanish) that a published item is open again, and why."""
    emails = list(s.scalars(select(m.StaffUser.email).where(
        m.StaffUser.institution_id == item.institution_id, m.StaffUser.role == m.Role.institution_admin,
        m.StaffUser.is_active.is_(True)).order_by(m.StaffUser.id)))
    token = i18n.activate("es")
    try:
        subject = messages.reopened_subject(event.kind, item.title)
        body = messages.reopened_body(item, event.kind, dict(event.details), f"/staff/plan/{item.id}")
    finally:
        i18n.deactivate(token)
    for email in emails:
        outbox.add(s, email, subject, body)
    return len(emails)


def publication_checks(s: Session, item_id: int, limit: int = 5) -> list[m.PublicationCheck]:
    return list(s.scalars(select(m.PublicationCheck).where(m.PublicationCheck.plan_item_id == item_id)
                          .order_by(m.PublicationCheck.id.desc()).limit(limit)))


def reopen(db: Database, me: StaffPrincipal, item_id: int, note: str, *, on: date | None = None) -> policy.Event:
    on = on or clock.today()
    with db.read() as s:
        days = answer_days(s, item_id)
    return _apply(db, me, item_id, lambda a, off: policy.reopen(a, on, days, note, off))


# --- adding datasets --------------------------------------------------------------------------------------


def add_own(db: Database, me: StaffPrincipal, form: OwnForm, *, on: date | None = None) -> int:
    """A dataset the institution adds itself; no policy date applies. It feeds the next IDMX edition."""
    assert form.institution_id is not None and not form.errors
    with db.write() as s:
        item = create_item(s, institution_id=form.institution_id, source=m.PlanSource.own, title=form.title,
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
                item = create_item(s, institution_id=c.institution_id, source=m.PlanSource.consultation, title=p.title,
                                    description=p.description, topic_id=p.topic_id, proposal_id=p.id,
                                    today=clock.local_date(now), policy_due=None, actor_id=me.id)
        except IntegrityError as err:  # another request added it at the same moment
            raise Conflict(_("This proposal is already in the plan; nothing was added.")) from err
        return item.id


def enqueue_item_update(s: Session, item: m.PlanItem, event) -> int:
    """Queue one message per confirmed follower of `item` about `event`; returns how many."""
    followers = s.execute(
        select(m.Follow.id, m.Follow.email, m.Follow.language, m.Follow.token_hash)
        .where(m.Follow.plan_item_id == item.id, m.Follow.confirmed_at.is_not(None))
        .order_by(m.Follow.id)
    ).all()
    if not followers:
        return 0
    details = dict(getattr(event, "details", None) or {})
    basis = s.get(m.LegalBasis, details["legal_basis_id"]) if details.get("legal_basis_id") else None
    for follow_id, email, language, token_hash in followers:
        token = i18n.activate(language)
        try:
            subject = _("Update on “%(title)s”") % {"title": item.title}
            body = messages.item_update_body(item, event.kind, details, basis,
                                    links.unsubscribe_path(links.signed_token(follow_id, token_hash)))
        finally:
            i18n.deactivate(token)
        outbox.add(s, email, subject, body)
    return len(followers)
