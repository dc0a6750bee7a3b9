"""Vote integrity: one answer per respondent and pair, no hot counter in the vote, flags, shared counters.

* ``pairwise_votes``: a respondent's repeated answers to the same unordered pair are reduced to the
  latest one, and a unique index on (respondent, lower id, higher id) keeps it so (a repeat replaces).
* ``proposals.n_comparisons`` goes: every pairwise vote updated it, so simultaneous votes queued (and on
  PostgreSQL deadlocked) on the proposals' rows. ``comparison_counts`` holds the counts instead, recounted
  outside votes by the worker.
* ``respondent_flags``: why a respondent looks suspicious (kept, shown to staff, never deleted).
* ``rate_counters``: per-key, per-window request counts updated by one atomic upsert, for limits shared by
  every app process without Redis.

SQLite drops the column by rebuilding ``proposals`` (the 0007 triggers name it: see migration 0009 on
``legacy_alter_table``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOW = "(CASE WHEN left_id < right_id THEN left_id ELSE right_id END)"
HIGH = "(CASE WHEN left_id < right_id THEN right_id ELSE left_id END)"


def _legacy_alter(on: bool) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f"PRAGMA legacy_alter_table = {'ON' if on else 'OFF'}")


def upgrade() -> None:
    # Keep the latest answer of each respondent to each unordered pair.
    op.execute(
        "DELETE FROM pairwise_votes WHERE id NOT IN ("
        f" SELECT max(id) FROM pairwise_votes GROUP BY respondent_id, {LOW}, {HIGH})"
    )
    op.create_index('uq_pairwise_votes_respondent_pair', 'pairwise_votes',
                    ['respondent_id', sa.text(LOW), sa.text(HIGH)], unique=True)

    op.create_table(
        'comparison_counts',
        sa.Column('consultation_id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.CheckConstraint('n >= 0', name=op.f('ck_comparison_counts_n_non_negative')),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'],
                                name=op.f('fk_comparison_counts_consultation_id_consultations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'],
                                name=op.f('fk_comparison_counts_proposal_id_proposals'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('consultation_id', 'proposal_id', name=op.f('pk_comparison_counts')),
    )
    op.execute(
        "INSERT INTO comparison_counts (consultation_id, proposal_id, n)"
        " SELECT p.consultation_id, p.id, p.n_comparisons FROM proposals p WHERE p.n_comparisons > 0"
    )
    _legacy_alter(True)
    try:
        with op.batch_alter_table('proposals') as batch:
            batch.drop_constraint(op.f('ck_proposals_comparisons_non_negative'), type_='check')
            batch.drop_column('n_comparisons')
    finally:
        _legacy_alter(False)

    big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table(
        'respondent_flags',
        sa.Column('id', big_id, nullable=False),
        sa.Column('consultation_id', sa.Integer(), nullable=False),
        sa.Column('respondent_id', big_id, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.String(length=500), nullable=False),
        sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('burst', 'fast', 'pattern')", name=op.f('ck_respondent_flags_known_kind')),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'],
                                name=op.f('fk_respondent_flags_consultation_id_consultations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['respondent_id'], ['respondents.id'],
                                name=op.f('fk_respondent_flags_respondent_id_respondents'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_respondent_flags')),
        sa.UniqueConstraint('respondent_id', 'kind', name=op.f('uq_respondent_flags_respondent_id_kind')),
    )
    op.create_index(op.f('ix_respondent_flags_consultation_id'), 'respondent_flags', ['consultation_id'])

    op.create_table(
        'rate_counters',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('window_start', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.CheckConstraint('count > 0', name=op.f('ck_rate_counters_count_positive')),
        sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters')),
    )
    op.create_index('ix_rate_counters_window', 'rate_counters', ['window_start'])


def downgrade() -> None:
    op.drop_index('ix_rate_counters_window', table_name='rate_counters')
    op.drop_table('rate_counters')
    op.drop_index(op.f('ix_respondent_flags_consultation_id'), table_name='respondent_flags')
    op.drop_table('respondent_flags')
    _legacy_alter(True)
    try:
        with op.batch_alter_table('proposals') as batch:
            batch.add_column(sa.Column('n_comparisons', sa.Integer(), server_default='0', nullable=False))
            batch.create_check_constraint(op.f('ck_proposals_comparisons_non_negative'), 'n_comparisons >= 0')
    finally:
        _legacy_alter(False)
    op.execute(
        "UPDATE proposals SET n_comparisons = coalesce((SELECT n FROM comparison_counts cc"
        " WHERE cc.proposal_id = proposals.id), 0)"
    )
    op.drop_table('comparison_counts')
    op.drop_index('uq_pairwise_votes_respondent_pair', table_name='pairwise_votes')
