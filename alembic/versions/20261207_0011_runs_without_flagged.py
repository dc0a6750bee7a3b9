"""Ranking runs with and without flagged respondents: ``ranking_runs.excludes_flagged``.

A run that leaves out the respondents in ``respondent_flags`` is stored beside the run of every vote;
the latest of each is found by (consultation, method, excludes_flagged, created_at).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('ranking_runs', sa.Column('excludes_flagged', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.drop_index('ix_ranking_runs_latest', table_name='ranking_runs')
    op.create_index('ix_ranking_runs_latest', 'ranking_runs',
                    ['consultation_id', 'method', 'excludes_flagged', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ranking_runs_latest', table_name='ranking_runs')
    op.create_index('ix_ranking_runs_latest', 'ranking_runs', ['consultation_id', 'method', 'created_at'], unique=False)
    with op.batch_alter_table('ranking_runs') as batch:
        batch.drop_column('excludes_flagged')
