"""The outbox: e-mails written in the transaction of the change they report, sent later by `idmx notify`.

Only confirmed followers get updates; each message is rendered in the language the follower used.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import i18n
from idmx.db import models as m
from idmx.i18n import gettext as _


def add(s: Session, to_email: str, subject: str, body: str) -> None:
    s.add(m.OutboxMessage(to_email=to_email, subject=subject[:250], body=body))


def enqueue_item_update(s: Session, item: m.PlanItem, event) -> int:
    """Queue one message per confirmed follower of `item` about `event`; returns how many."""
    followers = s.execute(
        select(m.Follow.email, m.Follow.language)
        .where(m.Follow.plan_item_id == item.id, m.Follow.confirmed_at.is_not(None))
    ).all()
    for email, language in followers:
        token = i18n.activate(language)
        try:
            subject = _("Update on “%(title)s”") % {"title": item.title}
            body = _("The answer to “%(title)s” changed: %(change)s.") % {
                "title": item.title, "change": event_label(event.kind)}
        finally:
            i18n.deactivate(token)
        add(s, email, subject, body)
    return len(followers)


def event_label(kind: str) -> str:
    """The public wording of a history event, in the active language."""
    labels = {
        "created": _("added to the plan"),
        "committed": _("committed to a publication date"),
        "due_date_changed": _("the due date changed"),
        "published": _("published"),
        "url_changed": _("the dataset's address changed"),
        "denied": _("denied"),
        "reopened": _("the denial was reopened"),
    }
    return labels.get(kind, kind)
