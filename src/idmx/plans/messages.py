"""What followers of a plan item read by e-mail when its answer changes (pure): the change, in the active language."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from idmx import i18n
from idmx.i18n import gettext as _
from idmx.notify import links
from idmx.plans.labels import event_label

if TYPE_CHECKING:
    from idmx.db import models as m


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
        name = i18n.localised(basis.name_es, basis.name_en)
        lines.append(_("Legal basis: %(name)s") % {"name": f"{name} ({basis.article})" if basis.article else name})
    if details.get("explanation"):
        lines.append(_("Explanation: %(text)s") % {"text": details["explanation"]})
    if kind == "reopened" and details.get("note"):
        lines.append(_("Note: %(text)s") % {"text": details["note"]})
    return lines


def item_update_body(item: m.PlanItem, kind: str, details: dict[str, Any], basis: m.LegalBasis | None,
                     unsubscribe_path: str) -> str:
    parts = [_("%(change)s: “%(title)s”") % {"title": item.title, "change": event_label(kind)}]
    lines = change_details(kind, details, basis)
    if lines:
        parts.append("\n".join(lines))
    parts.append(_("See the item and its full history:") + "\n" + links.absolute(links.item_path(item.id)))
    parts.append("-- \n" + _("You receive this e-mail because you follow this item on IDMX. To stop following it:")
                 + "\n" + links.absolute(unsubscribe_path))
    return "\n\n".join(parts) + "\n"


def reopened_subject(kind: str, title: str) -> str:
    if kind == "publication_rejected":
        return _("Publication rejected: “%(title)s”") % {"title": title}
    return _("Dataset address broken: “%(title)s”") % {"title": title}


def reopened_body(item: m.PlanItem, kind: str, details: dict[str, Any], staff_path: str) -> str:
    """For the institution's administrators: why a published item is open again and where to fix it."""
    if kind == "publication_rejected":
        head = _("The central team did not accept the publication of “%(title)s” at %(url)s.")
        why = _("Reason: %(text)s") % {"text": details.get("reason", "")}
    else:
        head = _("The address given for “%(title)s”, %(url)s, does not serve the data any more.")
        why = _("What the check found: %(text)s") % {"text": details.get("problem", "")}
    parts = [head % {"title": item.title, "url": details.get("url", "")}, why,
             _("The item is open again: publish it at a working address, or update its answer:") + "\n"
             + links.absolute(staff_path)]
    return "\n\n".join(parts) + "\n"
