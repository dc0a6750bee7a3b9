"""The outbox: e-mails written in the transaction of the change they report, sent later by `idmx notify`.

Only confirmed followers get updates; each message is rendered in the language the follower used,
with the item's public address and a link to stop following (see `idmx.notify.links` for where the
site's address comes from and why the link carries a signed token).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import i18n
from idmx.db import models as m
from idmx.i18n import gettext as _
from idmx.notify import links


def add(s: Session, to_email: str, subject: str, body: str) -> None:
    s.add(m.OutboxMessage(to_email=to_email, subject=subject[:250], body=body))


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
            body = item_update_body(item, event.kind, details, basis,
                                    links.unsubscribe_path(links.signed_token(follow_id, token_hash)))
        finally:
            i18n.deactivate(token)
        add(s, email, subject, body)
    return len(followers)


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def change_details(kind: str, details: dict[str, Any], basis: m.LegalBasis | None) -> list[str]:
    """The lines that say what an event changed, in the active language (e-mails and plain text)."""
    lines = []
    due = _as_date(details.get("due_date"))
    if due:
        lines.append(_("Due date: %(date)s") % {"date": i18n.format_date(due)})
    if details.get("late_justification"):
        lines.append(_("Justification for a date later than the policy allows: %(text)s")
                     % {"text": details["late_justification"]})
    if details.get("url"):
        lines.append(_("Dataset address: %(url)s") % {"url": details["url"]})
    if basis is not None:
        name = basis.name_en if i18n.current() == "en" and basis.name_en else basis.name_es
        lines.append(_("Legal basis: %(name)s") % {"name": f"{name} ({basis.article})" if basis.article else name})
    if details.get("explanation"):
        lines.append(_("Explanation: %(text)s") % {"text": details["explanation"]})
    if kind == "reopened" and details.get("note"):
        lines.append(_("Note: %(text)s") % {"text": details["note"]})
    return lines


def item_update_body(item: m.PlanItem, kind: str, details: dict[str, Any], basis: m.LegalBasis | None,
                     unsubscribe_path: str) -> str:
    parts = [_("The answer to “%(title)s” changed: %(change)s.") % {"title": item.title, "change": event_label(kind)}]
    lines = change_details(kind, details, basis)
    if lines:
        parts.append("\n".join(lines))
    parts.append(_("See the item and its full history:") + "\n" + links.absolute(links.item_path(item.id)))
    parts.append("-- \n" + _("You receive this e-mail because you follow this item on IDMX. To stop following it:")
                 + "\n" + links.absolute(unsubscribe_path))
    return "\n\n".join(parts) + "\n"


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
