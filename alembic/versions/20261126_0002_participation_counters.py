"""Participation counters: when a respondent first took part; comparisons per proposal for pairing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 14:59:40.266971
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        # Existing proposals start at zero comparisons; the server default fills them.
        batch_op.add_column(sa.Column('n_comparisons', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_proposals_comparisons_non_negative'), 'n_comparisons >= 0')

    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.drop_column('participated_at')

    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_proposals_comparisons_non_negative'), type_='check')
        batch_op.drop_column('n_comparisons')

