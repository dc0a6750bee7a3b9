"""All tables of the participation core.

Integrity lives here, in the database, not only in forms: one vote per respondent per proposal,
foreign keys everywhere, value ranges and date order as CHECK constraints, enumerated statuses as
CHECK-constrained strings (the same on SQLite and PostgreSQL; no native PostgreSQL ENUM types, which
would make every new status a data-definition migration on one database only).

Relationships load with `lazy="raise_on_sql"`: queries select what a page shows, and an accidental
lazy load inside a template fails loudly in tests instead of issuing N queries in production.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from idmx.db.types import UTCDateTime, utcnow

# Stable constraint names: Alembic needs them to drop constraints (SQLite batch mode included).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; vote tables need 64-bit ids on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def str_enum(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


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


# --- reference data (seeded) ---------------------------------------------------------------------


class State(Base):
    """An entidad federativa, keyed by its INEGI code."""

    __tablename__ = "states"
    id: Mapped[int] = mapped_column(primary_key=True)
    inegi_code: Mapped[str] = mapped_column(String(2), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    abbreviation: Mapped[str] = mapped_column(String(8))
    __table_args__ = (CheckConstraint("length(inegi_code) = 2", name="inegi_code_two_digits"),)


class Segment(Base):
    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_es: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    sort_order: Mapped[int] = mapped_column(SmallInteger, default=0)


class Topic(Base):
    __tablename__ = "topics"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_es: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))


class Institution(Base):
    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    acronym: Mapped[str] = mapped_column(String(30), unique=True)
    name_es: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str] = mapped_column(String(250))
    level: Mapped[Level] = mapped_column(str_enum(Level, "institution_level"))
    state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"))
    __table_args__ = (
        CheckConstraint("level = 'federal' OR state_id IS NOT NULL", name="local_has_state"),
    )


class LegalBasis(Base):
    """A ground for denying publication (Ley General de Transparencia y Acceso a la Información Pública)."""

    __tablename__ = "legal_bases"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_es: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str] = mapped_column(String(250))
    article: Mapped[str] = mapped_column(String(120), default="")
    description_es: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")


# --- participation ------------------------------------------------------------------------------


class Consultation(Base):
    __tablename__ = "consultations"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title_es: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    description_es: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    # NULL means the central team runs it (the national IDMX consultation).
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"))
    status: Mapped[ConsultationStatus] = mapped_column(
        str_enum(ConsultationStatus, "consultation_status"), default=ConsultationStatus.draft
    )
    voting_method: Mapped[VotingMethod] = mapped_column(str_enum(VotingMethod, "voting_method"))
    proposal_mode: Mapped[ProposalMode] = mapped_column(str_enum(ProposalMode, "proposal_mode"))
    results_visibility: Mapped[ResultsVisibility] = mapped_column(
        str_enum(ResultsVisibility, "results_visibility"), default=ResultsVisibility.after_close
    )
    segment_required: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    institution: Mapped[Institution | None] = relationship(lazy="raise_on_sql")

    __table_args__ = (
        CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
        CheckConstraint("length(slug) >= 3", name="slug_length"),
    )

    def is_open(self, now: datetime) -> bool:
        return self.status == ConsultationStatus.published and self.opens_at <= now < self.closes_at

    def phase(self, now: datetime) -> str:
        if self.status != ConsultationStatus.published:
            return "draft"
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"


class WeightingTarget(Base):
    """Target share (or population total) of one category of a weighting variable."""

    __tablename__ = "weighting_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    variable: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    target: Mapped[float]
    __table_args__ = (
        UniqueConstraint("consultation_id", "variable", "category"),
        CheckConstraint("variable IN ('segment', 'state')", name="known_variable"),
        CheckConstraint("target >= 0", name="target_non_negative"),
    )


class Respondent(Base):
    """An anonymous participant of one consultation. Only the hash of the cookie token is stored."""

    __tablename__ = "respondents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"))
    state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    use_who: Mapped[str] = mapped_column(String(500), default="")
    use_purpose: Mapped[str] = mapped_column(String(1000), default="")
    use_benefit: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set at the first proposal or vote: visitors who only looked are not counted as participants.
    participated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (
        UniqueConstraint("consultation_id", "token_hash"),
        CheckConstraint("length(token_hash) = 64", name="token_hash_sha256"),
    )


class Proposal(Base):
    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    intended_use: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ProposalStatus] = mapped_column(
        str_enum(ProposalStatus, "proposal_status"), default=ProposalStatus.published
    )
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="SET NULL"))
    from_fixed_list: Mapped[bool] = mapped_column(Boolean, default=False)
    # Pairwise comparisons so far; the pairing favours proposals with few so new ones catch up.
    n_comparisons: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    consultation: Mapped[Consultation] = relationship(lazy="raise_on_sql")
    institution: Mapped[Institution | None] = relationship(lazy="raise_on_sql")
    topic: Mapped[Topic | None] = relationship(lazy="raise_on_sql")

    __table_args__ = (
        CheckConstraint("length(title) BETWEEN 5 AND 200", name="title_length"),
        CheckConstraint("length(description) <= 4000", name="description_length"),
        CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"
        ),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_self"),
        CheckConstraint("n_comparisons >= 0", name="comparisons_non_negative"),
    )


class Vote(Base):
    """Approval (value 1) or 1-5 rating. A withdrawn approval deletes the row; exposure stays."""

    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Denormalised so a ranking aggregates one consultation's votes without a join.
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(SmallInteger)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    __table_args__ = (
        UniqueConstraint("respondent_id", "proposal_id"),
        CheckConstraint("value BETWEEN 1 AND 5", name="value_range"),
        Index("ix_votes_consultation_proposal", "consultation_id", "proposal_id"),
        Index("ix_votes_proposal", "proposal_id"),
    )


class Exposure(Base):
    """A proposal shown to a respondent in approval mode: the denominator of its support."""

    __tablename__ = "exposures"
    respondent_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    __table_args__ = (Index("ix_exposures_consultation_proposal", "consultation_id", "proposal_id"),)


class PairwiseVote(Base):
    """One wiki-survey choice between two proposals; winner NULL means "I can't decide"."""

    __tablename__ = "pairwise_votes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="CASCADE"))
    left_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    right_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    winner_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    __table_args__ = (
        CheckConstraint("left_id <> right_id", name="distinct_pair"),
        CheckConstraint(
            "winner_id IS NULL OR winner_id = left_id OR winner_id = right_id", name="winner_in_pair"
        ),
        Index("ix_pairwise_votes_consultation", "consultation_id"),
        Index("ix_pairwise_votes_respondent", "respondent_id"),
    )


# --- staff and accountability --------------------------------------------------------------------


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "staff_role"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    __table_args__ = (
        CheckConstraint(
            "(role = 'central_admin') = (institution_id IS NULL)", name="institution_matches_role"
        ),
        # argon2 and scrypt encodings both start with '$'; a plain password never reaches this column.
        CheckConstraint("password_hash LIKE '$%'", name="password_is_hashed"),
    )


class AuditEvent(Base):
    """Every staff action: who, when, what, and the object before and after."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The public part of the history shown on a proposal's page ("merged into X", "hidden because Y").
    public_note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)


# --- ranking -------------------------------------------------------------------------------------


class RankingRun(Base):
    """One computation of a consultation's ranking (DESIGN: "Corrida de priorización").

    Immutable: a run is inserted once and never updated (no code path updates it, and the ORM refuses
    to flush a change). ``params`` holds everything that shaped the result, including the weighting
    targets actually used (the default equal segment shares written out explicitly), so the run can be
    reproduced from its exported inputs with `idmx rank`. ``fingerprint`` is the SHA-256 of the
    canonical input rows (see ``idmx.ranking.files``); equal fingerprints and params give equal results.
    ``results`` lists one dict per ranked proposal (rank, proposal_id, score, ci_low, ci_high, n_eff,
    n_votes, and theta for pairwise), rounded to 10 decimals.
    """

    __tablename__ = "ranking_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    method: Mapped[VotingMethod] = mapped_column(str_enum(VotingMethod, "ranking_method"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    code_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Overall and within-segment ranks side by side (approval and rating runs; NULL for pairwise).
    segment_ranks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Respondents, vote rows, Kish n_eff and design effect, weight per cell, unmet raking margins,
    # and how long each stage took.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint("length(fingerprint) = 64", name="fingerprint_sha256"),
        Index("ix_ranking_runs_latest", "consultation_id", "method", "created_at"),
    )


@event.listens_for(RankingRun, "before_update")
def _ranking_runs_are_immutable(_mapper, _connection, target: RankingRun) -> None:
    raise RuntimeError(f"ranking run {target.id} is immutable; compute a new run instead of changing it")


# --- moderation ----------------------------------------------------------------------------------


class ReportResolution(enum.StrEnum):
    dismissed = "dismissed"  # looked at; the proposal stays as it is
    hidden = "hidden"  # the proposal was hidden
    merged = "merged"  # the proposal was merged into a duplicate


class ProposalReport(Base):
    """Someone from the public says a proposal breaks the rules. Open while resolved_at is NULL.

    No personal data: no address, no cookie token; at most the reporter's respondent row (SET NULL when
    that row goes), so that one respondent's repeated reports can be recognised.
    """

    __tablename__ = "proposal_reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    respondent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[ReportResolution | None] = mapped_column(str_enum(ReportResolution, "report_resolution"))
    __table_args__ = (
        CheckConstraint("length(reason) BETWEEN 1 AND 1000", name="reason_length"),
        CheckConstraint("(resolved_at IS NULL) = (resolution IS NULL)", name="resolved_has_resolution"),
        Index("ix_proposal_reports_open", "consultation_id", "resolved_at"),
    )
