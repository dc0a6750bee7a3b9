"""Covering (respondent, proposal, value) index on votes: the open-data export and approval's
supported-exposure join read votes per respondent without a table lookup per row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 04:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_votes_respondent_proposal_value', 'votes', ['respondent_id', 'proposal_id', 'value'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_votes_respondent_proposal_value', table_name='votes')
