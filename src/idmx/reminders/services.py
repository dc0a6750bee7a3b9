"""Deadline notices to institutions and followers (the worker's ``reminders`` job), and the staff view of
what is due.

`send_due_notices` looks at every unsettled plan item, and for each notice due today (`rules`) that was
never sent, stores a `PlanReminder` row and queues the e-mails in one transaction per item: the
institution's administrators (in Spanish, the platform's language), and for an overdue item its
confirmed followers (each in their language). The row is inserted with ON CONFLICT DO NOTHING, so a
second run, or a second worker at the same moment, queues nothing twice. Sending is the outbox's job.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import clock, i18n
from idmx.accounts.services import StaffPrincipal
from idmx.calendar import services as calendar
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.notify import links
from idmx.notify import services as outbox
from idmx.plans import policy
from idmx.plans.services import answer_of
from idmx.reminders import messages, rules

STAFF_LANGUAGE = "es"
UNSETTLED = (m.PlanStatus.pending, m.PlanStatus.committed)


def _admins(s: Session, institution_id: int) -> list[str]:
    return list(s.scalars(select(m.StaffUser.email).where(
        m.StaffUser.institution_id == institution_id, m.StaffUser.role == m.Role.institution_admin,
        m.StaffUser.is_active.is_(True)).order_by(m.StaffUser.id)))


def _record(s: Session, item_id: int, notice: rules.Notice, recipients: int) -> bool:
    """Store the notice once; False when it was already stored (by an earlier run or another worker)."""
    stmt = (insert_for(s, m.PlanReminder.__table__)
            .values(plan_item_id=item_id, kind=notice.kind, deadline=notice.deadline, recipients=recipients,
                    created_at=clock.now())
            .on_conflict_do_nothing(index_elements=["plan_item_id", "kind", "deadline"])
            .returning(m.PlanReminder.__table__.c.id))
    return s.execute(stmt).scalar() is not None


def _queue_staff(s: Session, item: m.PlanItem, acronym: str, notice: rules.Notice, recipients: list[str]) -> None:
    token = i18n.activate(STAFF_LANGUAGE)
    try:
        subject = messages.staff_subject(notice.kind, item.title)
        body = messages.staff_body(notice, item.title, acronym, f"/staff/plan/{item.id}")
    finally:
        i18n.deactivate(token)
    for email in recipients:
        outbox.add(s, email, subject, body)


def _queue_followers(s: Session, item: m.PlanItem, acronym: str, notice: rules.Notice) -> int:
    followers = s.execute(
        select(m.Follow.id, m.Follow.email, m.Follow.language, m.Follow.token_hash)
        .where(m.Follow.plan_item_id == item.id, m.Follow.confirmed_at.is_not(None)).order_by(m.Follow.id)).all()
    for follow_id, email, language, token_hash in followers:
        token = i18n.activate(language)
        try:
            unsubscribe = links.unsubscribe_path(links.signed_token(follow_id, token_hash))
            outbox.add(s, email, messages.follower_subject(item.title),
                       messages.follower_body(item.id, item.title, acronym, notice, unsubscribe))
        finally:
            i18n.deactivate(token)
    return len(followers)


def _notify_item(db: Database, item_id: int, today: date) -> Counter[str]:
    """One item's due notices, in one transaction (the item re-read under lock: it may have changed)."""
    sent: Counter[str] = Counter()
    with db.write() as s:
        query = select(m.PlanItem, m.Institution.acronym).join(
            m.Institution, m.Institution.id == m.PlanItem.institution_id).where(m.PlanItem.id == item_id)
        if not db.is_sqlite:
            query = query.with_for_update(of=m.PlanItem)
        row = s.execute(query).first()
        if row is None:
            return sent
        item, acronym = row
        notices = rules.notices_due(answer_of(item), today, calendar.off_days(s, item.institution_id))
        if not notices:
            return sent
        recipients = _admins(s, item.institution_id)
        for notice in notices:
            if not _record(s, item.id, notice, len(recipients)):
                continue
            _queue_staff(s, item, acronym, notice, recipients)
            sent[notice.kind] += 1
            if notice.kind == "overdue":
                sent["followers"] += _queue_followers(s, item, acronym, notice)
    return sent


def send_due_notices(db: Database, today: date | None = None) -> dict[str, int]:
    """Queue every notice due today that was never sent; returns how many of each kind (and follower e-mails)."""
    today = today or clock.today()
    with db.read() as s:
        national, own = calendar.off_days_by_institution(s)
        items = s.execute(select(m.PlanItem.id, m.PlanItem.institution_id, *[getattr(m.PlanItem, f) for f in
                                                                              policy.ANSWER_FIELDS])
                          .where(m.PlanItem.status.in_(UNSETTLED)).order_by(m.PlanItem.id)).all()
        done = {(r.plan_item_id, r.kind, r.deadline) for r in s.execute(
            select(m.PlanReminder.plan_item_id, m.PlanReminder.kind, m.PlanReminder.deadline))}
    total: Counter[str] = Counter()
    for item_id, institution_id, *answer in items:
        a = policy.Answer(**dict(zip(policy.ANSWER_FIELDS, answer, strict=True)))
        wanted = rules.notices_due(a, today, own.get(institution_id, national))
        if any((item_id, n.kind, n.deadline) not in done for n in wanted):
            total.update(_notify_item(db, item_id, today))
    return dict(total)


# --- the staff dashboard: what is due ----------------------------------------------------------------------


@dataclass(frozen=True)
class DueRow:
    item_id: int
    title: str
    institution: str
    action: str  # answer | publish
    deadline: date
    days_left: int
    overdue: bool


def due_items(db: Database, me: StaffPrincipal, *, within: int = 10, today: date | None = None) -> list[DueRow]:
    """Unsettled items whose deadline has passed or is at most `within` business days away, most urgent
    first; an institution's staff see only their institution's."""
    today = today or clock.today()
    with db.read() as s:
        national, own = calendar.off_days_by_institution(s)
        query = (select(m.PlanItem, m.Institution.acronym)
                 .join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
                 .where(m.PlanItem.status.in_(UNSETTLED)).order_by(m.PlanItem.id))
        if not me.is_central:
            query = query.where(m.PlanItem.institution_id == me.institution_id)
        rows = s.execute(query).all()
    found = []
    for item, acronym in rows:
        target = rules.deadline_of(answer_of(item))
        if target is None:
            continue
        overdue = today > target.day
        left = 0 if overdue else rules.business_days_left(target.day, today, own.get(item.institution_id, national))
        if overdue or left <= within:
            found.append(DueRow(item.id, item.title, acronym, target.action, target.day, left, overdue))
    return sorted(found, key=lambda r: (r.deadline, r.institution, r.item_id))
