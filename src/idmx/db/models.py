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
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from idmx import clock
from idmx.db.types import UTCDateTime
from idmx.enums import (
    ConsultationStatus,
    DataRequestKind,
    DataRequestStatus,
    EditionStatus,
    Level,
    PlanSource,
    PlanStatus,
    ProposalMode,
    ProposalStatus,
    ReportResolution,
    ResultsVisibility,
    Role,
    VotingMethod,  # noqa: F401  (the codes of the built-in vote modes, for seeds and tests)
)

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


class VoteModeRow(Base):
    """The vote modes the code knows (`idmx.votemodes`), so every consultation and run names a real one.

    Kept in step with the registry by `idmx.seeding.sync_vote_modes`; `statistics` says which sufficient
    statistics the database keeps for the mode's votes.
    """

    __tablename__ = "vote_modes"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    statistics: Mapped[str] = mapped_column(String(16))
    __table_args__ = (CheckConstraint("statistics IN ('approval', 'rating', 'pairwise')", name="known_statistics"),)


class Institution(Base):
    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    acronym: Mapped[str] = mapped_column(String(30), unique=True)
    name_es: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str] = mapped_column(String(250))
    level: Mapped[Level] = mapped_column(str_enum(Level, "institution_level"))
    state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"))
    # A body abolished or merged by a reform (the 2024-25 simplification: INAI, COFECE, IFT...) keeps its
    # row, so its plans and history stay attached to it; pages add "now: <successor>".
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    dissolved_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint("level = 'federal' OR state_id IS NOT NULL", name="local_has_state"),
        CheckConstraint("successor_id IS NULL OR successor_id <> id", name="not_own_successor"),
        CheckConstraint("successor_id IS NULL OR dissolved_on IS NOT NULL", name="successor_has_date"),
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
    # A code of `idmx.votemodes` (the built-in ones are `VotingMethod`'s values); vote_modes lists them.
    voting_method: Mapped[str] = mapped_column(String(32), ForeignKey("vote_modes.code"))
    proposal_mode: Mapped[ProposalMode] = mapped_column(str_enum(ProposalMode, "proposal_mode"))
    results_visibility: Mapped[ResultsVisibility] = mapped_column(
        str_enum(ResultsVisibility, "results_visibility"), default=ResultsVisibility.after_close
    )
    segment_required: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    institution: Mapped[Institution | None] = relationship(lazy="raise_on_sql")

    __table_args__ = (
        CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
        CheckConstraint("length(slug) >= 3", name="slug_length"),
    )


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Set at the first proposal or vote: visitors who only looked are not counted as participants.
    participated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Kept by database triggers (migration 0007): a ranking's respondents are those with rows.
    n_exposures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n_votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (
        UniqueConstraint("consultation_id", "token_hash"),
        CheckConstraint("length(token_hash) = 64", name="token_hash_sha256"),
        CheckConstraint("n_exposures >= 0 AND n_votes >= 0", name="row_counts_non_negative"),
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

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
    )


class ProposalSearch(Base):
    """What the Spanish matcher reads in a proposal (`idmx.matching.retrieval`), for search in the database.

    Written by the application (the matcher is Python) and dropped by a trigger on ``proposals`` when the
    title or description changes, so a stale row never answers; missing rows are analysed on the next
    search. The migration adds the full-text index over these columns: an FTS5 table kept in sync by
    triggers on SQLite, a GIN index on PostgreSQL. Tokens are the matcher's terms, never raw text, so both
    databases find exactly the same candidates. ``analysis`` names the thesaurus and code version that
    wrote the row; rows of another version are analysed again.
    """

    __tablename__ = "proposal_search"
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    analysis: Mapped[str] = mapped_column(String(16))
    # The proposal's status is published: copied when the row is written and kept by a trigger on
    # proposals, so a search counts and fetches without joining every proposal of the consultation.
    published: Mapped[bool] = mapped_column(Boolean)
    terms: Mapped[str] = mapped_column(Text)  # the title's terms (concepts and stems)
    words: Mapped[str] = mapped_column(Text)  # the title's normalised words (completing a word being typed)
    typo_keys: Mapped[str] = mapped_column(Text)  # one-deletion keys of the title's unknown words
    body: Mapped[str] = mapped_column(Text)  # terms and words of title and description (the browse search)


class Vote(Base):
    """Approval (value 1) or 1-5 rating. A withdrawn approval deletes the row; exposure stays."""

    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Denormalised so a ranking aggregates one consultation's votes without a join.
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(SmallInteger)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        UniqueConstraint("respondent_id", "proposal_id"),
        CheckConstraint("value BETWEEN 1 AND 5", name="value_range"),
        Index("ix_votes_consultation_proposal", "consultation_id", "proposal_id"),
        Index("ix_votes_proposal", "proposal_id"),
        # Covers the respondent-ordered reads (open-data export, approval's supported-exposure join)
        # without a table lookup per vote.
        Index("ix_votes_respondent_proposal_value", "respondent_id", "proposal_id", "value"),
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


# A vote tally row packed into 63-bit integers for reading: per column, its (field, bits) from the
# most significant. A ranking reads ~a million tally rows; one stored integer per row costs SQLite
# half of evaluating the packing per row, and PostgreSQL sends it without formatting text. NULL
# when a field does not fit (ids from 1024, 2**21 exposures or ratings in one cell); readers then
# read the plain columns. Non-negative fields (the CHECKs) keep every word below 2**62.
TALLY_WORDS: dict[str, tuple[tuple[str, int], ...]] = {
    "packed_approval": (("segment_key", 10), ("state_key", 10), ("exposures", 21), ("supporters", 21)),
    "packed_rating": (("segment_key", 10), ("state_key", 10), ("n", 21)),
    "packed_rating_sums": (("total", 24), ("total_sq", 26)),
}


def packed_expression(word: tuple[tuple[str, int], ...]) -> str:
    """SQL (both databases) of a `TALLY_WORDS` column: the fields packed, or NULL if one does not fit."""
    fits = " AND ".join(f"{field} < {1 << bits}" for field, bits in word)
    expr = f"CAST({word[0][0]} AS BIGINT)"  # 64-bit arithmetic on PostgreSQL too
    for field, bits in word[1:]:
        expr = f"({expr}) * {1 << bits} + {field}"
    return f"CASE WHEN {fits} THEN {expr} END"


class VoteTally(Base):
    """Sufficient statistics of one proposal in one weighting cell, kept by database triggers.

    Written only by the triggers of migration 0007 (on exposures, votes and respondents), never by
    the application: every write path updates them in its own transaction. ``segment_key`` and
    ``state_key`` are the ids, 0 for a skipped question. ``supporters`` counts exposures with an
    approval vote; ``n``, ``total``, ``total_sq`` count and sum every vote value (ratings 1-5).
    """

    __tablename__ = "vote_tallies"
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    segment_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    exposures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    supporters: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_sq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The row as a ranking reads it, computed by the database on every write (migration 0008).
    packed_approval: Mapped[int | None] = mapped_column(
        BigInteger, Computed(packed_expression(TALLY_WORDS["packed_approval"]), persisted=True))
    packed_rating: Mapped[int | None] = mapped_column(
        BigInteger, Computed(packed_expression(TALLY_WORDS["packed_rating"]), persisted=True))
    packed_rating_sums: Mapped[int | None] = mapped_column(
        BigInteger, Computed(packed_expression(TALLY_WORDS["packed_rating_sums"]), persisted=True))
    __table_args__ = (
        CheckConstraint("exposures >= 0 AND supporters >= 0 AND supporters <= exposures", name="exposures_cover_supporters"),
        CheckConstraint(
            "n >= 0 AND total >= n AND total <= 5 * n AND total_sq >= total AND total_sq <= 5 * total",
            name="values_in_range",
        ),
        {"sqlite_with_rowid": False},
    )


class CellRespondents(Base):
    """Respondents per weighting cell with approval exposures and with votes, kept by triggers
    (migration 0007) from ``Respondent.n_exposures`` / ``n_votes``; keys as in `VoteTally`."""

    __tablename__ = "cell_respondents"
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True)
    segment_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    exposed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    voted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (
        CheckConstraint("exposed >= 0 AND voted >= 0", name="counts_non_negative"),
        {"sqlite_with_rowid": False},
    )


# The pair of a comparison whatever side each proposal was shown on (same SQL on both databases).
PAIR_LOW = text("(CASE WHEN left_id < right_id THEN left_id ELSE right_id END)")
PAIR_HIGH = text("(CASE WHEN left_id < right_id THEN right_id ELSE left_id END)")


class PairwiseVote(Base):
    """One wiki-survey choice between two proposals; winner NULL means "I can't decide"."""

    __tablename__ = "pairwise_votes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="CASCADE"))
    left_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    right_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    winner_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        CheckConstraint("left_id <> right_id", name="distinct_pair"),
        CheckConstraint(
            "winner_id IS NULL OR winner_id = left_id OR winner_id = right_id", name="winner_in_pair"
        ),
        Index("ix_pairwise_votes_consultation", "consultation_id"),
        Index("ix_pairwise_votes_respondent", "respondent_id"),
        # One answer per respondent and unordered pair: a repeat replaces the earlier one (ON CONFLICT).
        Index("uq_pairwise_votes_respondent_pair", "respondent_id", PAIR_LOW, PAIR_HIGH, unique=True),
    )


class ComparisonCount(Base):
    """How often each proposal of a pairwise consultation was compared: what the pair chooser favours.

    Recounted from ``pairwise_votes`` by the worker (`idmx.consultations.services.recount_comparisons`),
    never in the vote's transaction, so simultaneous votes never queue on a proposal's counter.
    """

    __tablename__ = "comparison_counts"
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("n >= 0", name="n_non_negative"),)


class RespondentFlag(Base):
    """Why a respondent's votes look suspicious; the votes are kept, staff see the reason, a ranking can
    leave them out. `kind`: burst (one of many new respondents from one address or network within an
    hour), fast (answers faster than a person reads), pattern (the same answers as many others)."""

    __tablename__ = "respondent_flags"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    respondent_id: Mapped[int] = mapped_column(BigId, ForeignKey("respondents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        UniqueConstraint("respondent_id", "kind"),
        CheckConstraint("kind IN ('burst', 'fast', 'pattern')", name="known_kind"),
    )


class RateCounter(Base):
    """Requests counted per key and fixed window, by one atomic upsert (`idmx.web.limits`): shared by every
    app process and surviving restarts when there is no Redis. Keys hold no address, only its keyed hash."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("count > 0", name="count_positive"), Index("ix_rate_counters_window", "window_start"))


class WebStoreEntry(Base):
    """Server-side state of the web app when there is no Redis (`idmx.web.dbstore`): staff sessions, one
    row per (store, key), so every app process sees the same sessions and they survive a restart.
    ``expires_at`` is in epoch seconds; NULL never expires."""

    __tablename__ = "web_store"
    namespace: Mapped[str] = mapped_column(String(60), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_web_store_expires_at", "expires_at"),)


# --- staff and accountability --------------------------------------------------------------------


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "staff_role"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Sessions carry the value they started with; raising it (a password change, "sign out everywhere")
    # ends every session started before (`idmx.accounts.sessions`).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
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
    method: Mapped[str] = mapped_column(String(32), ForeignKey("vote_modes.code"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    code_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Overall and within-segment ranks side by side (approval and rating runs; NULL for pairwise).
    segment_ranks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Each segment's own score, interval, n_eff and votes, by column (`pipeline.segment_figures`;
    # NULL for pairwise and for runs stored before 2026-12-07).
    segment_figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Respondents, vote rows, Kish n_eff and design effect, weight per cell, unmet raking margins,
    # flagged respondents, and how long each stage took.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Left out the respondents flagged as suspicious (`m.RespondentFlag`); both runs are kept.
    excludes_flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        CheckConstraint("length(fingerprint) = 64", name="fingerprint_sha256"),
        Index("ix_ranking_runs_latest", "consultation_id", "method", "excludes_flagged", "created_at"),
    )


class RunRankIntervals(Base):
    """The interval of every rank of a run (`idmx.ranking.rank_intervals`), stored by the worker after
    the run so that no visitor pays for the simulation (a second for a national run); pages compute
    it only for a run the worker has not reached yet. ``low`` and ``high`` follow the order of the
    run's ``results``, at ``confidence`` (the run's)."""

    __tablename__ = "run_rank_intervals"
    run_id: Mapped[int] = mapped_column(ForeignKey("ranking_runs.id", ondelete="CASCADE"), primary_key=True)
    confidence: Mapped[float] = mapped_column(Float)
    low: Mapped[list[int]] = mapped_column(JSON)
    high: Mapped[list[int]] = mapped_column(JSON)

    __table_args__ = (CheckConstraint("confidence > 0 AND confidence < 1", name="confidence_range"),)


@event.listens_for(RankingRun, "before_update")
def _ranking_runs_are_immutable(_mapper, _connection, target: RankingRun) -> None:
    raise RuntimeError(f"ranking run {target.id} is immutable; compute a new run instead of changing it")


# --- moderation ----------------------------------------------------------------------------------


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[ReportResolution | None] = mapped_column(str_enum(ReportResolution, "report_resolution"))
    __table_args__ = (
        CheckConstraint("length(reason) BETWEEN 1 AND 1000", name="reason_length"),
        CheckConstraint("(resolved_at IS NULL) = (resolution IS NULL)", name="resolved_has_resolution"),
        Index("ix_proposal_reports_open", "consultation_id", "resolved_at"),
    )


# --- the IDMX list and open-up plans ------------------------------------------------------------


class Edition(Base):
    """One version of an IDMX list ("IDMX 2027", version 1, 2, ...). Published versions never change.

    ``series`` groups the versions of one list; a revision is a new row with ``version + 1`` and
    ``previous_id`` pointing at the version it revises, so its page can show what changed.
    """

    __tablename__ = "editions"
    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1)
    title_es: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    notes_es: Mapped[str] = mapped_column(Text, default="")  # what this version changes, shown publicly
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id"))
    status: Mapped[EditionStatus] = mapped_column(str_enum(EditionStatus, "edition_status"), default=EditionStatus.draft)
    # Business days an institution has to answer an item before it counts as unanswered.
    answer_business_days: Mapped[int] = mapped_column(SmallInteger, default=20)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        UniqueConstraint("series", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("(status = 'published') = (published_at IS NOT NULL)", name="published_has_date"),
        CheckConstraint("answer_business_days BETWEEN 1 AND 250", name="answer_days_range"),
        CheckConstraint("length(series) >= 3", name="series_length"),
    )


class EditionRun(Base):
    """A ranking run the edition draws on, with its weight in the combined priority."""

    __tablename__ = "edition_runs"
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True)
    ranking_run_id: Mapped[int] = mapped_column(ForeignKey("ranking_runs.id"), primary_key=True)
    weight: Mapped[float] = mapped_column(default=1.0)
    __table_args__ = (CheckConstraint("weight > 0", name="weight_positive"),)


class EditionTier(Base):
    """Deadline policy of one tier: the latest due date is `business_days` after publication."""

    __tablename__ = "edition_tiers"
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True)
    tier: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    business_days: Mapped[int] = mapped_column(SmallInteger)
    # Items ranked at or above this position fall in this tier by default (NULL: everything left).
    up_to_rank: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 9", name="tier_range"),
        CheckConstraint("business_days BETWEEN 1 AND 750", name="business_days_range"),
        CheckConstraint("up_to_rank IS NULL OR up_to_rank >= 1", name="up_to_rank_positive"),
    )


class PlanItem(Base):
    """A dataset in an institution's open-up plan and the institution's answer to it.

    Only `idmx.plans.policy` moves ``status``; each move appends a `PlanEvent` in the same
    transaction, so the history is complete. ``policy_due`` is the latest date the deadline policy
    allows (NULL when no policy applies: the institution's own datasets); ``answer_by`` is when an
    unanswered item becomes "unanswered" in public.
    """

    __tablename__ = "plan_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    source: Mapped[PlanSource] = mapped_column(str_enum(PlanSource, "plan_source"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    # For source=consultation: the proposal it answers.
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), unique=True)
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus, "plan_status"), default=PlanStatus.pending)
    assigned_on: Mapped[date] = mapped_column(Date)
    answer_by: Mapped[date] = mapped_column(Date)
    policy_due: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    # Written reason for a due date later than the policy allows; shown publicly as such.
    late_justification: Mapped[str] = mapped_column(Text, default="")
    published_url: Mapped[str] = mapped_column(String(2000), default="")
    catalogue_id: Mapped[str] = mapped_column(String(200), default="")
    published_on: Mapped[date | None] = mapped_column(Date)
    legal_basis_id: Mapped[int | None] = mapped_column(ForeignKey("legal_bases.id"))
    denial_explanation: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # The last check of ``published_url`` (`PublicationCheck`): NULL until the worker has fetched it.
    link_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    link_outcome: Mapped[str] = mapped_column(String(24), default="", server_default=text("''"))

    institution: Mapped[Institution] = relationship(lazy="raise_on_sql")
    legal_basis: Mapped[LegalBasis | None] = relationship(lazy="raise_on_sql")

    __table_args__ = (
        CheckConstraint("length(title) BETWEEN 5 AND 200", name="title_length"),
        CheckConstraint("assigned_on <= answer_by", name="answer_after_assignment"),
        CheckConstraint("status <> 'committed' OR due_date IS NOT NULL", name="committed_has_date"),
        CheckConstraint(
            "status <> 'published' OR (published_on IS NOT NULL AND (published_url LIKE 'http://%' "
            "OR published_url LIKE 'https://%'))",
            name="published_has_url",
        ),
        CheckConstraint(
            "status <> 'denied' OR (legal_basis_id IS NOT NULL AND length(denial_explanation) > 0)",
            name="denied_has_grounds",
        ),
        CheckConstraint(
            "due_date IS NULL OR policy_due IS NULL OR due_date <= policy_due OR length(late_justification) > 0",
            name="late_due_justified",
        ),
        CheckConstraint("(source = 'consultation') = (proposal_id IS NOT NULL)", name="consultation_has_proposal"),
    )


class PlanEvent(Base):
    """One step in a plan item's public history. Appended, never changed."""

    __tablename__ = "plan_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    # The answer's data at this step: due date, url, legal basis, explanation or justification.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InfrastructureItem(Base):
    """A deduplicated dataset on an IDMX edition, with its combined priority, rank, tier and institution.

    ``key`` identifies the same dataset across the versions of a series, so a revision keeps the
    item's plan answer (``plan_item_id``, set when the edition is published).
    """

    __tablename__ = "infrastructure_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"), index=True)
    key: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    tier: Mapped[int | None] = mapped_column(SmallInteger)
    rank: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[float | None]
    ci_low: Mapped[float | None]
    ci_high: Mapped[float | None]
    # Support behind the item, summed over its proposals: weighted (n_eff) and raw respondent counts.
    support_weighted: Mapped[float | None]
    support_raw: Mapped[int | None] = mapped_column(Integer)
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id"))

    institution: Mapped[Institution | None] = relationship(lazy="raise_on_sql")

    __table_args__ = (
        UniqueConstraint("edition_id", "key"),
        CheckConstraint("length(title) BETWEEN 5 AND 200", name="title_length"),
        CheckConstraint("tier IS NULL OR tier BETWEEN 1 AND 9", name="tier_range"),
        CheckConstraint("ci_low IS NULL OR ci_high IS NULL OR ci_low <= ci_high", name="interval_order"),
    )


class ItemProposal(Base):
    """A proposal (from one of the edition's runs) that asks for the item's dataset."""

    __tablename__ = "item_proposals"
    item_id: Mapped[int] = mapped_column(ForeignKey("infrastructure_items.id", ondelete="CASCADE"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), primary_key=True)
    ranking_run_id: Mapped[int] = mapped_column(ForeignKey("ranking_runs.id"))
    # The proposal's score in its run, normalised to 0-1 (see idmx.plans.priority).
    score: Mapped[float]
    ci_low: Mapped[float]
    ci_high: Mapped[float]
    n_eff: Mapped[float]
    n_votes: Mapped[int] = mapped_column(Integer)


class DataRequest(Base):
    """The standing channel: anyone asks for a dataset or reports a problem; no personal data kept."""

    __tablename__ = "data_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DataRequestKind] = mapped_column(str_enum(DataRequestKind, "data_request_kind"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    intended_use: Mapped[str] = mapped_column(Text, default="")
    # What the requester thinks; the central team decides when routing.
    suggested_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"))
    # For problem reports: the plan item whose published dataset has the problem.
    about_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id"))
    status: Mapped[DataRequestStatus] = mapped_column(
        str_enum(DataRequestStatus, "data_request_status"), default=DataRequestStatus.received
    )
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id"), unique=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    __table_args__ = (
        CheckConstraint("length(title) BETWEEN 5 AND 200", name="title_length"),
        CheckConstraint("length(description) <= 4000", name="description_length"),
        CheckConstraint("status <> 'rejected' OR length(rejection_reason) > 0", name="rejected_has_reason"),
        CheckConstraint("(status = 'routed') = (plan_item_id IS NOT NULL)", name="routed_has_item"),
        CheckConstraint("kind <> 'problem' OR about_item_id IS NOT NULL", name="problem_names_item"),
    )


class Follow(Base):
    """An e-mail address following a plan item or a data request. Confirmed before anything else is sent.

    ``token_hash`` is the hash of the secret in the confirm and unsubscribe links.
    """

    __tablename__ = "follows"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"))
    data_request_id: Mapped[int | None] = mapped_column(ForeignKey("data_requests.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(5), default="es")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        # NULLs never collide in a unique index, so each pair is unique only where it applies.
        Index("uq_follows_item_email", "plan_item_id", "email", unique=True),
        Index("uq_follows_request_email", "data_request_id", "email", unique=True),
        CheckConstraint("(plan_item_id IS NULL) <> (data_request_id IS NULL)", name="follows_one_thing"),
        CheckConstraint("email LIKE '%_@_%'", name="email_shape"),
    )


class OutboxMessage(Base):
    """An e-mail waiting for the worker (or `idmx notify`); written in the transaction of the change it reports.

    A sender claims a message in a committed transaction (``claim_token`` and a lease, ``claimed_until``),
    sends it outside any transaction, then marks it sent only if its claim still holds
    (`idmx.notify.services`). ``message_id`` is fixed at the first claim, so a message sent again after a
    crash carries the same Message-ID. ``next_attempt_at`` delays a retry after a failure (backoff).
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    to_email: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str] = mapped_column(String(250), default="", server_default=text("''"))
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "id"),)


class PlanReminder(Base):
    """One notice to an institution about one plan item: assigned, due in 10 or 3 business days, overdue.

    Unique per item, kind and the deadline it is about, so the worker can run as often as it likes (and
    two workers at once) without sending a notice twice; a moved deadline is a new deadline.
    """

    __tablename__ = "plan_reminders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        UniqueConstraint("plan_item_id", "kind", "deadline"),
        CheckConstraint("kind IN ('assigned', 'due_10', 'due_3', 'overdue')", name="known_kind"),
    )


class PublicationCheck(Base):
    """One fetch of a published dataset's address: what answered and whether it is machine-readable."""

    __tablename__ = "publication_checks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    outcome: Mapped[str] = mapped_column(String(24))
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(200), default="")
    data_format: Mapped[str] = mapped_column(String(20), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'not_machine_readable', 'broken', 'refused')", name="known_outcome"),
    )


class NonWorkingDay(Base):
    """A day on which no deadline falls: the federal government's (``institution_id`` NULL) or one institution's."""

    __tablename__ = "non_working_days"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    name_es: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (
        # NULLs never collide in a unique index: the national days get a partial index of their own.
        Index("uq_non_working_days_national", "day", unique=True,
              sqlite_where=text("institution_id IS NULL"), postgresql_where=text("institution_id IS NULL")),
        Index("uq_non_working_days_institution", "institution_id", "day", unique=True),
        CheckConstraint("length(name_es) > 0", name="named"),
    )


class ComplianceSnapshot(Base):
    """One institution's items per public status on one day, as the worker found them (one row per day)."""

    __tablename__ = "compliance_snapshots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"), index=True)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    committed: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    published_on_time: Mapped[int] = mapped_column(Integer, default=0)
    published_late: Mapped[int] = mapped_column(Integer, default=0)
    denied: Mapped[int] = mapped_column(Integer, default=0)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    __table_args__ = (
        UniqueConstraint("day", "institution_id"),
        CheckConstraint("pending >= 0 AND unanswered >= 0 AND committed >= 0 AND overdue >= 0 AND "
                        "published_on_time >= 0 AND published_late >= 0 AND denied >= 0", name="counts_not_negative"),
    )


class ApiToken(Base):
    """A per-institution credential for the write API. Only its hash is stored; revoking sets `revoked_at`."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (
        CheckConstraint("length(token_hash) = 64", name="token_hash_sha256"),
        CheckConstraint("length(name) >= 1", name="name_present"),
    )
