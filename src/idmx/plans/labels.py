"""Translated names of plan-item states and sources: the one place every page, e-mail and export takes them from.

Call the functions at render time (not at import time) so the request's language applies.
"""

from __future__ import annotations

from idmx.enums import PlanSource
from idmx.i18n import gettext as _
from idmx.plans.policy import PublicStatus

# The order in which pages count and filter the public states.
STATUS_ORDER: tuple[PublicStatus, ...] = (
    PublicStatus.pending,
    PublicStatus.unanswered,
    PublicStatus.committed,
    PublicStatus.overdue,
    PublicStatus.published_on_time,
    PublicStatus.published_late,
    PublicStatus.denied,
)

SOURCE_ORDER: tuple[PlanSource, ...] = (
    PlanSource.idmx, PlanSource.consultation, PlanSource.own, PlanSource.request,
)


def status_label(status: PublicStatus | str) -> str:
    """The public name of a derived state ("overdue", "published_late", ...), in the active language."""
    labels = {
        PublicStatus.pending: _("Awaiting answer"),
        PublicStatus.unanswered: _("Unanswered"),
        PublicStatus.committed: _("Committed"),
        PublicStatus.overdue: _("Overdue"),
        PublicStatus.published_on_time: _("Published on time"),
        PublicStatus.published_late: _("Published late"),
        PublicStatus.denied: _("Denied"),
    }
    return labels[PublicStatus(status)]


def source_label(source: PlanSource | str) -> str:
    """Where a plan item came from, in the active language."""
    labels = {
        PlanSource.idmx: _("IDMX list"),
        PlanSource.consultation: _("Own consultation"),
        PlanSource.own: _("Added by the institution"),
        PlanSource.request: _("Data request"),
    }
    return labels[PlanSource(source)]


def event_label(kind: str) -> str:
    """The name of one step of an item's history (`PlanEvent.kind`)."""
    labels = {
        "created": _("Added to the plan"),
        "committed": _("Committed to a due date"),
        "due_date_changed": _("Due date changed"),
        "published": _("Published"),
        "url_changed": _("Dataset address corrected"),
        "denied": _("Denied"),
        "reopened": _("Denial reopened"),
        "publication_rejected": _("Publication rejected by the central team"),
        "link_broken": _("Dataset address broken: item open again"),
        "overdue": _("Overdue"),
    }
    return labels.get(kind, kind)


def status_options() -> list[tuple[str, str]]:
    """(value, label) pairs for a status filter."""
    return [(s.value, status_label(s)) for s in STATUS_ORDER]


def transition_message(message: str) -> str:
    """A `policy.TransitionError` message in the active language (policy.py stays free of i18n)."""
    known = {
        "Only an unanswered or committed item can get a due date.":
            _("Only an unanswered or committed item can get a due date."),
        "Give a due date.": _("Give a due date."),
        "The due date cannot be in the past.": _("The due date cannot be in the past."),
        "This date is later than the policy allows: explain why in the justification.":
            _("This date is later than the policy allows: explain why in the justification."),
        "A denied item must be reopened before it can be published.":
            _("A denied item must be reopened before it can be published."),
        "Give the dataset's address, starting with http:// or https://.":
            _("Give the dataset's address, starting with http:// or https://."),
        "The catalogue identifier is too long (200 characters at most).":
            _("The catalogue identifier is too long (200 characters at most)."),
        "Only an unanswered or committed item can be denied.": _("Only an unanswered or committed item can be denied."),
        "Choose the legal basis of the denial.": _("Choose the legal basis of the denial."),
        "Explain the denial.": _("Explain the denial."),
        "The explanation is too long (4,000 characters at most).":
            _("The explanation is too long (4,000 characters at most)."),
        "Only a denied item can be reopened.": _("Only a denied item can be reopened."),
        "The due date falls on a Saturday, a Sunday or an official non-working day: choose a working day.":
            _("The due date falls on a Saturday, a Sunday or an official non-working day: choose a working day."),
        "Only a published item can have its publication rejected.":
            _("Only a published item can have its publication rejected."),
        "Say why the publication is rejected.": _("Say why the publication is rejected."),
        "Only a published item can have a broken link.": _("Only a published item can have a broken link."),
    }
    return known.get(message, message)
