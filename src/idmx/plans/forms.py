"""The plan forms (pure): an institution's answers to its items, and a dataset it adds itself.

Parsed by hand from the submitted mapping (see `idmx.fields`). A bad answer raises `AnswerError` naming
the form field, so the plan page shows the message in place; nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from idmx.errors import DomainError
from idmx.fields import clean_text
from idmx.i18n import gettext as _

if TYPE_CHECKING:
    from idmx.accounts.services import StaffPrincipal

TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX, NOTE_MAX, JUSTIFICATION_MAX = 5, 200, 4000, 1000, 4000
EXPLANATION_MAX = 4000
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AnswerError(DomainError):
    """A refused answer: 422 for a bad input (`field` names it), 409 when the item's state forbids the move."""

    def __init__(self, message: str, field: str | None):
        super().__init__(message, field=field)
        self.status_code = 409 if field == "status" else 422


def parse_date(raw: Any) -> date | None:
    """A strict ISO date (yyyy-mm-dd, what `<input type="date">` sends); None when empty or malformed."""
    text = clean_text(raw)
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _due_date(raw: Any) -> date:
    if not clean_text(raw):
        raise AnswerError(_("Give a due date."), "due_date")
    value = parse_date(raw)
    if value is None:
        raise AnswerError(_("Write the date as yyyy-mm-dd, for example 2027-03-31."), "due_date")
    return value


def bounded(raw: Any, name: str, limit: int) -> str:
    text = clean_text(raw)
    if len(text) > limit:
        raise AnswerError(_("At most %(max)s characters (you wrote %(n)s).") % {"max": limit, "n": len(text)}, name)
    return text


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


# --- answers: each parser returns the move's typed arguments or raises AnswerError naming the field ----------


def commit_values(data: dict[str, Any]) -> tuple[date, str]:
    return _due_date(data.get("due_date")), bounded(data.get("justification"), "justification", JUSTIFICATION_MAX)


def publish_values(data: dict[str, Any]) -> tuple[str, str]:
    return clean_text(data.get("url")), clean_text(data.get("catalogue_id"))


def deny_values(data: dict[str, Any]) -> tuple[int | None, str]:
    raw = clean_text(data.get("legal_basis"))
    return (int(raw) if raw.isdigit() else None), bounded(data.get("explanation"), "explanation", EXPLANATION_MAX)


def reopen_values(data: dict[str, Any]) -> str:
    return bounded(data.get("note"), "note", NOTE_MAX)


def reject_values(data: dict[str, Any]) -> str:
    return bounded(data.get("reason"), "reason", EXPLANATION_MAX)
