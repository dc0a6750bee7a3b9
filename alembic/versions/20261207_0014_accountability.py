"""Accountability loop: reminders, publication checks, the official calendar, compliance history.

* ``outbox`` gets a claim (``claim_token``, ``claimed_until``), a retry time (``next_attempt_at``) and a
  stable ``message_id``: messages are claimed in a committed transaction and sent outside any.
* ``plan_reminders``: one row per notice to an institution (item, kind, deadline), unique.
* ``publication_checks`` and ``plan_items.link_checked_at`` / ``link_outcome``: fetches of published addresses.
* ``non_working_days``: the federal government's and each institution's days without deadlines (seeded
  by ``idmx seed`` from ``seeds/non_working_days.json``).
* ``compliance_snapshots``: each institution's items per public status, one row per day.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)
COUNTS = ('pending', 'unanswered', 'committed', 'overdue', 'published_on_time', 'published_late', 'denied')


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('next_attempt_at', WHEN, nullable=True))
        batch.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('claimed_until', WHEN, nullable=True))
        batch.add_column(sa.Column('message_id', sa.String(length=250), server_default=sa.text("''"), nullable=False))
    with op.batch_alter_table('plan_items') as batch:
        batch.add_column(sa.Column('link_checked_at', WHEN, nullable=True))
        batch.add_column(sa.Column('link_outcome', sa.String(length=24), server_default=sa.text("''"), nullable=False))

    op.create_table(
        'plan_reminders',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('plan_item_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('created_at', WHEN, nullable=False),
        sa.CheckConstraint("kind IN ('assigned', 'due_10', 'due_3', 'overdue')",
                           name=op.f('ck_plan_reminders_known_kind')),
        sa.ForeignKeyConstraint(['plan_item_id'], ['plan_items.id'],
                                name=op.f('fk_plan_reminders_plan_item_id_plan_items'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_reminders')),
        sa.UniqueConstraint('plan_item_id', 'kind', 'deadline',
                            name=op.f('uq_plan_reminders_plan_item_id_kind_deadline')),
    )

    op.create_table(
        'publication_checks',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('plan_item_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('checked_at', WHEN, nullable=False),
        sa.Column('outcome', sa.String(length=24), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('content_type', sa.String(length=200), nullable=False),
        sa.Column('data_format', sa.String(length=20), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.CheckConstraint("outcome IN ('ok', 'not_machine_readable', 'broken', 'refused')",
                           name=op.f('ck_publication_checks_known_outcome')),
        sa.ForeignKeyConstraint(['plan_item_id'], ['plan_items.id'],
                                name=op.f('fk_publication_checks_plan_item_id_plan_items'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_publication_checks')),
    )
    op.create_index(op.f('ix_publication_checks_plan_item_id'), 'publication_checks', ['plan_item_id'])

    op.create_table(
        'non_working_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=True),
        sa.Column('name_es', sa.String(length=200), nullable=False),
        sa.Column('name_en', sa.String(length=200), nullable=False),
        sa.CheckConstraint('length(name_es) > 0', name=op.f('ck_non_working_days_named')),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'],
                                name=op.f('fk_non_working_days_institution_id_institutions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_non_working_days')),
    )
    op.create_index('uq_non_working_days_national', 'non_working_days', ['day'], unique=True,
                    sqlite_where=sa.text('institution_id IS NULL'), postgresql_where=sa.text('institution_id IS NULL'))
    op.create_index('uq_non_working_days_institution', 'non_working_days', ['institution_id', 'day'], unique=True)

    op.create_table(
        'compliance_snapshots',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.Column('taken_at', WHEN, nullable=False),
        sa.CheckConstraint(' AND '.join(f'{name} >= 0' for name in COUNTS),
                           name=op.f('ck_compliance_snapshots_counts_not_negative')),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'],
                                name=op.f('fk_compliance_snapshots_institution_id_institutions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_snapshots')),
        sa.UniqueConstraint('day', 'institution_id', name=op.f('uq_compliance_snapshots_day_institution_id')),
    )
    op.create_index(op.f('ix_compliance_snapshots_institution_id'), 'compliance_snapshots', ['institution_id'])


def downgrade() -> None:
    op.drop_table('compliance_snapshots')
    op.drop_index('uq_non_working_days_institution', table_name='non_working_days')
    op.drop_index('uq_non_working_days_national', table_name='non_working_days')
    op.drop_table('non_working_days')
    op.drop_table('publication_checks')
    op.drop_table('plan_reminders')
    with op.batch_alter_table('plan_items') as batch:
        batch.drop_column('link_outcome')
        batch.drop_column('link_checked_at')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('message_id')
        batch.drop_column('claimed_until')
        batch.drop_column('claim_token')
        batch.drop_column('next_attempt_at')
