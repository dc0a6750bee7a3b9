"""The platform's enumerated values: statuses, modes and roles, as plain string enums.

The database stores them as CHECK-constrained strings (`idmx.db.models.str_enum`); domain code,
forms and templates compare against them. Pure: no framework, no database.
"""

from __future__ import annotations

import enum


class Level(enum.StrEnum):
    federal = "federal"
    state = "state"
    municipal = "municipal"


class VotingMethod(enum.StrEnum):
    approval = "approval"
    rating = "rating"
    pairwise = "pairwise"


class ProposalMode(enum.StrEnum):
    open = "open"
    moderated = "moderated"
    fixed = "fixed"


class ResultsVisibility(enum.StrEnum):
    live = "live"
    after_close = "after_close"


class ConsultationStatus(enum.StrEnum):
    draft = "draft"  # being prepared by staff; invisible to the public
    published = "published"  # public; open or closed according to its dates


class ProposalStatus(enum.StrEnum):
    pending = "pending"  # awaiting moderation
    published = "published"
    hidden = "hidden"
    merged = "merged"


class Role(enum.StrEnum):
    central_admin = "central_admin"
    institution_admin = "institution_admin"
    institution_moderator = "institution_moderator"


class ReportResolution(enum.StrEnum):
    dismissed = "dismissed"  # looked at; the proposal stays as it is
    hidden = "hidden"  # the proposal was hidden
    merged = "merged"  # the proposal was merged into a duplicate


class EditionStatus(enum.StrEnum):
    draft = "draft"  # being assembled by the central team; invisible to the public
    published = "published"  # immutable; changes come as a new version


class PlanSource(enum.StrEnum):
    idmx = "idmx"  # an item of a published IDMX edition
    consultation = "consultation"  # a proposal from the institution's own consultation
    own = "own"  # a dataset the institution adds itself (feeds the next edition)
    request = "request"  # a data request routed by the central team


class PlanStatus(enum.StrEnum):
    """The stored answer. What the public sees (overdue, late, unanswered) is derived from it and the date."""

    pending = "pending"
    committed = "committed"
    published = "published"
    denied = "denied"


class DataRequestKind(enum.StrEnum):
    new_dataset = "new_dataset"
    problem = "problem"  # a problem with a published dataset


class DataRequestStatus(enum.StrEnum):
    received = "received"
    routed = "routed"  # validated by the central team and sent to an institution's plan
    rejected = "rejected"
