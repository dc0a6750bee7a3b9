"""Staff sessions that a password change ends: ``staff_users.session_epoch``.

A session remembers the epoch it started with; a password change or "sign out everywhere" raises it,
and every older session is refused.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('staff_users', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('session_epoch')
