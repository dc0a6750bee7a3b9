"""Each segment's own figures beside its ranks: ``ranking_runs.segment_figures``.

Per segment and proposal: the score, interval, Kish effective n and votes of that segment's
respondents alone, stored by column (a national run has hundreds of thousands of them). Runs stored
before have none; their sector views show the overall figures in the sector's order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('ranking_runs', sa.Column('segment_figures', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ranking_runs') as batch:
        batch.drop_column('segment_figures')
