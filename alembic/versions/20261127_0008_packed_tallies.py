"""Vote tallies in the packed form a ranking reads, computed by the database on write.

A ranking reads every tally row of a consultation (about 770,000 at national scale). Evaluating
the packing of each row into integers while reading cost SQLite as much as the rest of the read;
stored generated columns compute it once per write instead (`idmx.db.models.TALLY_WORDS` has the
layout). NULL when a field does not fit; readers then read the plain columns.

PostgreSQL adds the columns in place. SQLite cannot add a stored column, so the table is rebuilt
(new table, copy, drop, rename). The triggers of migration 0007 live on exposures, votes and
respondents and name ``vote_tallies`` in their bodies: the rename runs with
``legacy_alter_table`` on, which leaves them as they are (otherwise SQLite re-checks every trigger
while the table they name is missing, and refuses).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of `packed_expression(TALLY_WORDS[...])` as of this revision.
PACKED = {
    "packed_approval": (
        "CASE WHEN segment_key < 1024 AND state_key < 1024 AND exposures < 2097152 AND supporters < 2097152"
        " THEN (((CAST(segment_key AS BIGINT)) * 1024 + state_key) * 2097152 + exposures) * 2097152 + supporters END"
    ),
    "packed_rating": (
        "CASE WHEN segment_key < 1024 AND state_key < 1024 AND n < 2097152"
        " THEN ((CAST(segment_key AS BIGINT)) * 1024 + state_key) * 2097152 + n END"
    ),
    "packed_rating_sums": (
        "CASE WHEN total < 16777216 AND total_sq < 67108864 THEN (CAST(total AS BIGINT)) * 67108864 + total_sq END"
    ),
}
COLUMNS = "consultation_id, proposal_id, segment_key, state_key, exposures, supporters, n, total, total_sq"


def _packed_columns() -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), sa.Computed(expr, persisted=True), nullable=True) for name, expr in PACKED.items()]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for column in _packed_columns():
            op.add_column('vote_tallies', column)
        return
    op.create_table(
        '_vote_tallies_new',
        sa.Column('consultation_id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('segment_key', sa.Integer(), nullable=False),
        sa.Column('state_key', sa.Integer(), nullable=False),
        sa.Column('exposures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('supporters', sa.Integer(), server_default='0', nullable=False),
        sa.Column('n', sa.Integer(), server_default='0', nullable=False),
        sa.Column('total', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('total_sq', sa.BigInteger(), server_default='0', nullable=False),
        *_packed_columns(),
        sa.CheckConstraint('exposures >= 0 AND supporters >= 0 AND supporters <= exposures',
                           name=op.f('ck_vote_tallies_exposures_cover_supporters')),
        sa.CheckConstraint('n >= 0 AND total >= n AND total <= 5 * n AND total_sq >= total AND total_sq <= 5 * total',
                           name=op.f('ck_vote_tallies_values_in_range')),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_vote_tallies_consultation_id_consultations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_vote_tallies_proposal_id_proposals'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('consultation_id', 'proposal_id', 'segment_key', 'state_key', name=op.f('pk_vote_tallies')),
        sqlite_with_rowid=False,
    )
    op.execute(f"INSERT INTO _vote_tallies_new ({COLUMNS}) SELECT {COLUMNS} FROM vote_tallies")
    op.drop_table('vote_tallies')
    op.execute("PRAGMA legacy_alter_table = ON")
    try:
        op.execute("ALTER TABLE _vote_tallies_new RENAME TO vote_tallies")
    finally:
        op.execute("PRAGMA legacy_alter_table = OFF")


def downgrade() -> None:
    # Both databases drop a stored generated column in place (SQLite since 3.35).
    for name in reversed(PACKED):
        op.execute(f"ALTER TABLE vote_tallies DROP COLUMN {name}")
