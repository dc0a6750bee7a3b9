"""Persisting plan items and their answers: the one place that writes `PlanItem.status`.

Callers (edition publishing, the institution's plan, routed data requests, the API) decide *what* to
do through `idmx.plans.policy`; these functions store the result, the public history event, the audit
record and the followers' notifications in the caller's transaction, so none can land without the
others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import audit, clock
from idmx.db import models as m
from idmx.notify import outbox
from idmx.plans import policy

ANSWER_COLUMNS = policy.ANSWER_FIELDS


def answer_of(item: m.PlanItem) -> policy.Answer:
    return policy.Answer(**{name: getattr(item, name) for name in ANSWER_COLUMNS})


def create(
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
        answer_by=policy.add_business_days(today, answer_days), policy_due=policy_due,
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


def apply(
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
    _store_event(s, item, event, actor_id)
    audit.record(
        s, actor_id=actor_id, action=f"plan_item.{event.kind}", obj=("plan_item", item.id),
        institution_id=item.institution_id, before=_changed(before, after), after=_changed(after, before),
    )
    outbox.enqueue_item_update(s, item, event)
    return event


def _changed(a: policy.Answer, b: policy.Answer) -> dict[str, Any]:
    return {name: getattr(a, name) for name in ANSWER_COLUMNS if getattr(a, name) != getattr(b, name)}


def _store_event(s: Session, item: m.PlanItem, event: policy.Event, actor_id: int | None) -> None:
    s.add(m.PlanEvent(
        plan_item_id=item.id, at=clock.now(), actor_id=actor_id, kind=event.kind,
        from_status=event.from_status.value if event.from_status else None, to_status=event.to_status.value,
        details=audit.plain(event.details),
    ))


def history(s: Session, item_id: int) -> list[m.PlanEvent]:
    return list(s.scalars(select(m.PlanEvent).where(m.PlanEvent.plan_item_id == item_id).order_by(m.PlanEvent.id)))
