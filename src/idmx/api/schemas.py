"""What the JSON API sends and accepts: msgspec Structs, which Litestar documents in the OpenAPI schema.

Every response type is built from an explicit allow-list of columns: no respondent data, no token
hashes, no staff ids. Dates are ISO 8601; timestamps are UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=4000)]


# --- errors -------------------------------------------------------------------------------------------------


class ErrorItem(msgspec.Struct):
    field: str | None
    message: str


class ErrorBody(msgspec.Struct):
    """Every API error: the HTTP status, a summary, and one entry per problem naming its input field."""

    status_code: int
    detail: str
    errors: list[ErrorItem] = msgspec.field(default_factory=list)


# --- reference --------------------------------------------------------------------------------------------------


class InstitutionRef(msgspec.Struct):
    acronym: str
    name_es: str
    name_en: str


class Institution(msgspec.Struct):
    acronym: str
    name_es: str
    name_en: str
    level: str
    state: str | None  # INEGI code of the state, for state and municipal institutions


class InstitutionPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[Institution]
    next: str | None
    prev: str | None


# --- consultations ------------------------------------------------------------------------------------------------


class Consultation(msgspec.Struct):
    slug: str
    title_es: str
    title_en: str
    description_es: str
    description_en: str
    institution: InstitutionRef | None  # None: run by the central team (the national IDMX consultation)
    voting_method: str
    proposal_mode: str
    results_visibility: str
    phase: Literal["upcoming", "open", "closed"]
    results_visible: bool
    opens_at: datetime
    closes_at: datetime
    previous: str | None  # slug of the previous round, when it is public
    proposals: int  # published proposals
    url: str


class ConsultationPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[Consultation]
    next: str | None
    prev: str | None


class ProposalCounts(msgspec.Struct):
    """Support so far; present only while the consultation shows its results (live, or after closing)."""

    votes: int  # approvals, ratings, or pairwise comparisons the proposal took part in
    mean_rating: float | None  # rating consultations
    wins: int | None  # pairwise consultations


class Proposal(msgspec.Struct):
    id: int
    title: str
    description: str
    institution: InstitutionRef | None
    topic: str | None  # topic code
    from_fixed_list: bool
    created_at: datetime
    counts: ProposalCounts | None


class ProposalPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[Proposal]
    next: str | None
    prev: str | None


# --- ranking runs -------------------------------------------------------------------------------------------


class RunSummary(msgspec.Struct):
    id: int
    method: str
    fingerprint: str
    code_version: str
    created_at: datetime
    url: str


class RunPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[RunSummary]
    next: str | None
    prev: str | None


class RunResult(msgspec.Struct):
    rank: int | None
    proposal_id: int
    title: str | None  # None when the proposal is no longer public (hidden or merged after the run)
    score: float | None
    ci_low: float | None
    ci_high: float | None
    n_eff: float | None
    n_votes: float | None
    theta: float | None = None  # pairwise runs: the Bradley-Terry strength
    # The rank's interval at the run's confidence (`idmx.ranking.rank_intervals`): where the rank falls
    # in 95 of 100 simulations of the scores' uncertainty.
    rank_low: int | None = None
    rank_high: int | None = None


class Run(msgspec.Struct):
    id: int
    consultation: str
    method: str
    fingerprint: str
    code_version: str
    created_at: datetime
    params: dict[str, Any]
    summary: dict[str, Any]
    results: list[RunResult]
    segment_ranks: list[dict[str, Any]] | None


# --- editions and their items -------------------------------------------------------------------------------


class Tier(msgspec.Struct):
    tier: int
    business_days: int
    up_to_rank: int | None


class EditionRunRef(msgspec.Struct):
    ranking_run_id: int
    consultation: str
    weight: float


class Edition(msgspec.Struct):
    id: int
    series: str
    version: int
    title_es: str
    title_en: str
    notes_es: str
    previous_id: int | None
    published_at: datetime
    answer_business_days: int
    items: int
    url: str


class EditionDetail(msgspec.Struct):
    id: int
    series: str
    version: int
    title_es: str
    title_en: str
    notes_es: str
    previous_id: int | None
    published_at: datetime
    answer_business_days: int
    items: int
    url: str
    tiers: list[Tier]
    runs: list[EditionRunRef]


class EditionPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[Edition]
    next: str | None
    prev: str | None


class EditionItem(msgspec.Struct):
    id: int
    rank: int | None
    title: str
    description: str
    institution: InstitutionRef | None
    tier: int | None
    priority: float | None
    ci_low: float | None
    ci_high: float | None
    support_weighted: float | None
    support_raw: int | None
    plan_item_id: int | None
    policy_due: date | None
    due_date: date | None
    status: str | None  # the public status of the institution's answer (None while no plan item exists)


class EditionItemPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[EditionItem]
    next: str | None
    prev: str | None


# --- plans ------------------------------------------------------------------------------------------------------


class LegalBasis(msgspec.Struct):
    code: str
    name_es: str
    name_en: str
    article: str


class PlanItem(msgspec.Struct):
    id: int
    institution: InstitutionRef
    source: str
    title: str
    description: str
    topic: str | None
    status: str  # public status: pending, unanswered, committed, overdue, published_on_time, published_late, denied
    answer: str  # the stored answer: pending, committed, published, denied
    assigned_on: date
    answer_by: date
    policy_due: date | None
    due_date: date | None
    late_justification: str
    published_url: str
    catalogue_id: str
    published_on: date | None
    legal_basis: LegalBasis | None
    denial_explanation: str
    updated_at: datetime
    url: str


class PlanItemPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[PlanItem]
    next: str | None
    prev: str | None


class PlanEvent(msgspec.Struct):
    kind: str
    at: date  # the day (Mexico City) the step happened
    from_status: str | None
    to_status: str
    details: dict[str, Any]


class EditionRef(msgspec.Struct):
    edition_id: int
    series: str
    version: int
    rank: int | None
    tier: int | None


class PlanItemDetail(msgspec.Struct):
    item: PlanItem
    editions: list[EditionRef]
    history: list[PlanEvent]


# --- compliance ---------------------------------------------------------------------------------------------


class StatusCounts(msgspec.Struct):
    """Plan items per public status (see `idmx.plans.compliance` for the definitions)."""

    pending: int
    unanswered: int
    committed: int
    overdue: int
    published_on_time: int
    published_late: int
    denied: int
    total: int
    due: int  # items whose outcome is due: all but pending and committed-not-yet-due
    delivery_rate: float | None  # published on time / due; None when nothing is due yet


class InstitutionCompliance(msgspec.Struct):
    institution: InstitutionRef
    level: str
    counts: StatusCounts


class Compliance(msgspec.Struct):
    as_of: date
    national: StatusCounts
    institutions: list[InstitutionCompliance]  # by delivery rate, highest first; nothing due last


# --- write bodies ------------------------------------------------------------------------------------------


class CommitBody(msgspec.Struct):
    """Commit to a publication date (or move it). Later than the policy allows needs a justification."""

    due_date: date
    justification: Text = ""


class PublishBody(msgspec.Struct):
    """Mark the dataset published at `url` (http or https), optionally with its catalogue identifier."""

    url: Annotated[str, msgspec.Meta(max_length=2000)]
    catalogue_id: Annotated[str, msgspec.Meta(max_length=200)] = ""


class DenyBody(msgspec.Struct):
    """Deny with a legal basis (a code from /api/v1/legal-bases) and an explanation."""

    legal_basis: Annotated[str, msgspec.Meta(max_length=60)]
    explanation: Text


class ReopenBody(msgspec.Struct):
    """Take a denial back; the item is unanswered again with a fresh time to answer."""

    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class LegalBasisPage(msgspec.Struct):
    items: list[LegalBasis]
