"""The worker's ``publications`` job: fetch published addresses and act on what answers.

Each run picks the published items whose address was never checked (just published, or corrected)
and those checked longer ago than ``IDMX_LINK_RECHECK_HOURS``, oldest first, a bounded batch. For each:
the address is read (a short read transaction), fetched with no transaction open (`http.fetch`, which
may take seconds), and the result stored in one write transaction that re-reads the item under lock:
if the item was answered differently meanwhile (another address, no longer published) the result is
dropped. A broken address (`checks.should_reopen`) reopens the item through the plan's state machine
(a ``link_broken`` event in its public history, its followers and its institution's administrators told).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import or_, select

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.plans import policy
from idmx.plans import services as plans
from idmx.settings import Settings
from idmx.verification import checks, http

BATCH = 20


def due_for_check(db: Database, recheck_hours: int, limit: int = BATCH) -> list[tuple[int, str]]:
    """(item id, address) of the published items to check now, never-checked first, then the oldest check."""
    stale = clock.now() - timedelta(hours=recheck_hours)
    with db.read() as s:
        return [(i, url) for i, url in s.execute(
            select(m.PlanItem.id, m.PlanItem.published_url)
            .where(m.PlanItem.status == m.PlanStatus.published,
                   or_(m.PlanItem.link_checked_at.is_(None), m.PlanItem.link_checked_at < stale))
            .order_by(m.PlanItem.link_checked_at.is_not(None), m.PlanItem.link_checked_at, m.PlanItem.id)
            .limit(limit))]


def store_result(db: Database, item_id: int, url: str, fetched: checks.Fetched) -> str | None:
    """Store one check of `url` and act on it; None when the item changed meanwhile (nothing stored)."""
    verdict = checks.judge(fetched)
    with db.write() as s:
        query = select(m.PlanItem).where(m.PlanItem.id == item_id).execution_options(populate_existing=True)
        if not db.is_sqlite:
            query = query.with_for_update()
        item = s.scalar(query)
        if item is None or item.status != m.PlanStatus.published or item.published_url != url:
            return None
        s.add(m.PublicationCheck(plan_item_id=item.id, url=url, checked_at=clock.now(), outcome=verdict.outcome,
                                 status_code=fetched.status, content_type=fetched.content_type[:200],
                                 data_format=verdict.data_format, error=(verdict.problem or fetched.error)[:2000]))
        previous = item.link_outcome or None
        item.link_checked_at, item.link_outcome = clock.now(), verdict.outcome
        if checks.should_reopen(verdict, previous):
            event = plans.apply_move(s, item, lambda a: policy.link_broken(a, verdict.problem), actor_id=None)
            plans.enqueue_institution_reopened(s, item, event)
            return "reopened"
        return verdict.outcome


def check_due(db: Database, settings: Settings, limit: int = BATCH) -> dict[str, int]:
    """Check the addresses due now; returns how many ended in each outcome ("reopened" included)."""
    done: Counter[str] = Counter()
    for item_id, url in due_for_check(db, settings.link_recheck_hours, limit):
        fetched = http.fetch(url, allow_private=settings.verify_private_addresses)
        outcome = store_result(db, item_id, url, fetched)
        if outcome is not None:
            done[outcome] += 1
    return dict(done)
