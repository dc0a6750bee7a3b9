"""Vote modes as reference data: consultations and ranking runs refer to a row of ``vote_modes``.

The voting method was a CHECK listing the three built-in modes, so adding a mode meant a migration on
both databases. The modes now live in `idmx.votemodes`; this table holds their codes (and which
sufficient statistics each keeps), and foreign keys replace the two CHECK constraints, so the database
still refuses a method the code does not know.

SQLite cannot drop a constraint in place: both tables are rebuilt (new table, copy, drop, rename). The
tally triggers of migration 0007 name ``consultations`` in their bodies, so the renames run with
``legacy_alter_table`` on, which leaves the triggers as they are (see migration 0008).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUILT_IN = (('approval', 'approval'), ('rating', 'rating'), ('pairwise', 'pairwise'))
# (table, column, the CHECK's enum name) as created by migrations 0001 and 0003.
COLUMNS = (('consultations', 'voting_method', 'voting_method'), ('ranking_runs', 'method', 'ranking_method'))


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _legacy_alter(on: bool) -> None:
    if _sqlite():
        op.execute(f"PRAGMA legacy_alter_table = {'ON' if on else 'OFF'}")


def upgrade() -> None:
    modes = op.create_table(
        'vote_modes',
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('statistics', sa.String(length=16), nullable=False),
        sa.CheckConstraint("statistics IN ('approval', 'rating', 'pairwise')", name=op.f('ck_vote_modes_known_statistics')),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_vote_modes')),
    )
    op.bulk_insert(modes, [{'code': code, 'statistics': kind} for code, kind in BUILT_IN])
    _legacy_alter(True)
    try:
        for table, column, enum_name in COLUMNS:
            with op.batch_alter_table(table) as batch:
                batch.drop_constraint(op.f(f'ck_{table}_{enum_name}'), type_='check')
                batch.create_foreign_key(op.f(f'fk_{table}_{column}_vote_modes'), 'vote_modes', [column], ['code'])
    finally:
        _legacy_alter(False)


def downgrade() -> None:
    _legacy_alter(True)
    try:
        for table, column, enum_name in COLUMNS:
            with op.batch_alter_table(table) as batch:
                batch.drop_constraint(op.f(f'fk_{table}_{column}_vote_modes'), type_='foreignkey')
                batch.create_check_constraint(enum_name, f"{column} IN ('approval', 'rating', 'pairwise')")
    finally:
        _legacy_alter(False)
    op.drop_table('vote_modes')
