"""The interval of every rank of a run, stored beside it: ``run_rank_intervals``.

Written by the worker once per run (`idmx.ranking.services.store_rank_intervals`), read by results
pages, ranking.csv and the API; runs without a row (older ones, or one the worker has not reached
yet) are computed on request as before.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'run_rank_intervals',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('low', sa.JSON(), nullable=False),
        sa.Column('high', sa.JSON(), nullable=False),
        sa.CheckConstraint('confidence > 0 AND confidence < 1', name=op.f('ck_run_rank_intervals_confidence_range')),
        sa.ForeignKeyConstraint(['run_id'], ['ranking_runs.id'], name=op.f('fk_run_rank_intervals_run_id_ranking_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', name=op.f('pk_run_rank_intervals')),
    )


def downgrade() -> None:
    op.drop_table('run_rank_intervals')
