"""Which notice an institution gets about a plan item today (pure: plain data in, plain data out).

An item that is not settled has one deadline: the date to answer by while it is unanswered
(``answer_by``), the committed publication date once committed (``due_date``). Notices:

- ``assigned``: the item is new in the plan and can still be answered in time;
- ``due_10`` / ``due_3``: 10 or fewer / 3 or fewer business days left before the deadline (counted
  from today, today included, the deadline excluded, skipping the non-working days given);
- ``overdue``: the deadline has passed (the day after it, in Mexico City).

Only the tightest threshold that applies is sent: a worker that was down for a week sends "3 days
left", not "10 days left" as well. Each (item, notice, deadline) is sent once; the database enforces it
(`PlanReminder`), and a moved deadline is a new deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from idmx.enums import PlanStatus
from idmx.plans import policy

THRESHOLDS: tuple[tuple[str, int], ...] = (("due_3", 3), ("due_10", 10))  # tightest first
KINDS = ("assigned", "due_10", "due_3", "overdue")


@dataclass(frozen=True)
class Deadline:
    action: str  # "answer" or "publish"
    day: date


@dataclass(frozen=True)
class Notice:
    kind: str
    deadline: date
    action: str
    days_left: int  # business days left (0 when overdue)


def deadline_of(a: policy.Answer) -> Deadline | None:
    """What the institution must do next and by when; None once published or denied."""
    if a.status == PlanStatus.pending and a.answer_by is not None:
        return Deadline("answer", a.answer_by)
    if a.status == PlanStatus.committed and a.due_date is not None:
        return Deadline("publish", a.due_date)
    return None


def business_days_left(deadline: date, today: date, off_days: policy.OffDays) -> int:
    """Business days from today (included) to the deadline (excluded); a deadline today leaves 0."""
    return policy.business_days_between(today, deadline, off_days)


def notices_due(a: policy.Answer, today: date, off_days: policy.OffDays) -> list[Notice]:
    """The notices due today for an item with answer `a`, before removing those already sent."""
    target = deadline_of(a)
    if target is None:
        return []
    if today > target.day:
        return [Notice("overdue", target.day, target.action, 0)]
    left = business_days_left(target.day, today, off_days)
    found = []
    if target.action == "answer":
        found.append(Notice("assigned", target.day, target.action, left))
    for kind, limit in THRESHOLDS:
        if left <= limit:
            found.append(Notice(kind, target.day, target.action, left))
            break
    return found
