"""Proposal reports: the public flags a proposal for moderation (no personal data; open until resolved).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:21:42.350114
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('proposal_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Enum('dismissed', 'hidden', 'merged', name='report_resolution', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.CheckConstraint('(resolved_at IS NULL) = (resolution IS NULL)', name=op.f('ck_proposal_reports_resolved_has_resolution')),
    sa.CheckConstraint('length(reason) BETWEEN 1 AND 1000', name=op.f('ck_proposal_reports_reason_length')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_proposal_reports_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_reports_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondents.id'], name=op.f('fk_proposal_reports_respondent_id_respondents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_reports'))
    )
    with op.batch_alter_table('proposal_reports', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_reports_open', ['consultation_id', 'resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposal_reports_proposal_id'), ['proposal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proposal_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_reports_proposal_id'))
        batch_op.drop_index('ix_proposal_reports_open')

    op.drop_table('proposal_reports')
