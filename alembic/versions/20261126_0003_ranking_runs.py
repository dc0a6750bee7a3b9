"""Ranking runs: immutable records of a ranking's parameters, input fingerprint, code version and results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:10:31.001744
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ranking_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.Enum('approval', 'rating', 'pairwise', name='ranking_method', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('code_version', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('segment_ranks', sa.JSON(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.CheckConstraint('length(fingerprint) = 64', name=op.f('ck_ranking_runs_fingerprint_sha256')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_ranking_runs_consultation_id_consultations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ranking_runs'))
    )
    with op.batch_alter_table('ranking_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ranking_runs_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index('ix_ranking_runs_latest', ['consultation_id', 'method', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ranking_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_ranking_runs_latest')
        batch_op.drop_index(batch_op.f('ix_ranking_runs_fingerprint'))

    op.drop_table('ranking_runs')
