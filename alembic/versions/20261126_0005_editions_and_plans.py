"""IDMX editions and open-up plans: editions, tiers, items, plan items with their history, data requests, follows, outbox, API tokens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:04:23.153527
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_email', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=250), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_unsent', ['sent_at', 'id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(name) >= 1', name=op.f('ck_api_tokens_name_present')),
    sa.CheckConstraint('length(token_hash) = 64', name=op.f('ck_api_tokens_token_hash_sha256')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_users.id'], name=op.f('fk_api_tokens_created_by_staff_users')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_api_tokens_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_institution_id'), ['institution_id'], unique=False)

    op.create_table('editions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title_es', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('notes_es', sa.Text(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'published', name='edition_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('answer_business_days', sa.SmallInteger(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'published') = (published_at IS NOT NULL)", name=op.f('ck_editions_published_has_date')),
    sa.CheckConstraint('answer_business_days BETWEEN 1 AND 250', name=op.f('ck_editions_answer_days_range')),
    sa.CheckConstraint('length(series) >= 3', name=op.f('ck_editions_series_length')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_editions_version_positive')),
    sa.ForeignKeyConstraint(['previous_id'], ['editions.id'], name=op.f('fk_editions_previous_id_editions')),
    sa.ForeignKeyConstraint(['published_by'], ['staff_users.id'], name=op.f('fk_editions_published_by_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editions')),
    sa.UniqueConstraint('series', 'version', name=op.f('uq_editions_series_version'))
    )
    op.create_table('edition_runs',
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.Column('ranking_run_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Double(), nullable=False),
    sa.CheckConstraint('weight > 0', name=op.f('ck_edition_runs_weight_positive')),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], name=op.f('fk_edition_runs_edition_id_editions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ranking_run_id'], ['ranking_runs.id'], name=op.f('fk_edition_runs_ranking_run_id_ranking_runs')),
    sa.PrimaryKeyConstraint('edition_id', 'ranking_run_id', name=op.f('pk_edition_runs'))
    )
    op.create_table('edition_tiers',
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.SmallInteger(), nullable=False),
    sa.Column('business_days', sa.SmallInteger(), nullable=False),
    sa.Column('up_to_rank', sa.Integer(), nullable=True),
    sa.CheckConstraint('business_days BETWEEN 1 AND 750', name=op.f('ck_edition_tiers_business_days_range')),
    sa.CheckConstraint('tier BETWEEN 1 AND 9', name=op.f('ck_edition_tiers_tier_range')),
    sa.CheckConstraint('up_to_rank IS NULL OR up_to_rank >= 1', name=op.f('ck_edition_tiers_up_to_rank_positive')),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], name=op.f('fk_edition_tiers_edition_id_editions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('edition_id', 'tier', name=op.f('pk_edition_tiers'))
    )
    op.create_table('plan_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('idmx', 'consultation', 'own', 'request', name='plan_source', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'committed', 'published', 'denied', name='plan_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('assigned_on', sa.Date(), nullable=False),
    sa.Column('answer_by', sa.Date(), nullable=False),
    sa.Column('policy_due', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('late_justification', sa.Text(), nullable=False),
    sa.Column('published_url', sa.String(length=2000), nullable=False),
    sa.Column('catalogue_id', sa.String(length=200), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('legal_basis_id', sa.Integer(), nullable=True),
    sa.Column('denial_explanation', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(source = 'consultation') = (proposal_id IS NOT NULL)", name=op.f('ck_plan_items_consultation_has_proposal')),
    sa.CheckConstraint("status <> 'committed' OR due_date IS NOT NULL", name=op.f('ck_plan_items_committed_has_date')),
    sa.CheckConstraint("status <> 'denied' OR (legal_basis_id IS NOT NULL AND length(denial_explanation) > 0)", name=op.f('ck_plan_items_denied_has_grounds')),
    sa.CheckConstraint("status <> 'published' OR (published_on IS NOT NULL AND (published_url LIKE 'http://%' OR published_url LIKE 'https://%'))", name=op.f('ck_plan_items_published_has_url')),
    sa.CheckConstraint('assigned_on <= answer_by', name=op.f('ck_plan_items_answer_after_assignment')),
    sa.CheckConstraint('due_date IS NULL OR policy_due IS NULL OR due_date <= policy_due OR length(late_justification) > 0', name=op.f('ck_plan_items_late_due_justified')),
    sa.CheckConstraint('length(title) BETWEEN 5 AND 200', name=op.f('ck_plan_items_title_length')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_plan_items_institution_id_institutions')),
    sa.ForeignKeyConstraint(['legal_basis_id'], ['legal_bases.id'], name=op.f('fk_plan_items_legal_basis_id_legal_bases')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_plan_items_proposal_id_proposals')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_plan_items_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_items')),
    sa.UniqueConstraint('proposal_id', name=op.f('uq_plan_items_proposal_id'))
    )
    with op.batch_alter_table('plan_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_items_institution_id'), ['institution_id'], unique=False)

    op.create_table('data_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('new_dataset', 'problem', name='data_request_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('intended_use', sa.Text(), nullable=False),
    sa.Column('suggested_institution_id', sa.Integer(), nullable=True),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('about_item_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('received', 'routed', 'rejected', name='data_request_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=False),
    sa.Column('plan_item_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'routed') = (plan_item_id IS NOT NULL)", name=op.f('ck_data_requests_routed_has_item')),
    sa.CheckConstraint("kind <> 'problem' OR about_item_id IS NOT NULL", name=op.f('ck_data_requests_problem_names_item')),
    sa.CheckConstraint("status <> 'rejected' OR length(rejection_reason) > 0", name=op.f('ck_data_requests_rejected_has_reason')),
    sa.CheckConstraint('length(description) <= 4000', name=op.f('ck_data_requests_description_length')),
    sa.CheckConstraint('length(title) BETWEEN 5 AND 200', name=op.f('ck_data_requests_title_length')),
    sa.ForeignKeyConstraint(['about_item_id'], ['plan_items.id'], name=op.f('fk_data_requests_about_item_id_plan_items')),
    sa.ForeignKeyConstraint(['plan_item_id'], ['plan_items.id'], name=op.f('fk_data_requests_plan_item_id_plan_items')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['staff_users.id'], name=op.f('fk_data_requests_reviewed_by_staff_users')),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_data_requests_segment_id_segments')),
    sa.ForeignKeyConstraint(['suggested_institution_id'], ['institutions.id'], name=op.f('fk_data_requests_suggested_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_requests')),
    sa.UniqueConstraint('plan_item_id', name=op.f('uq_data_requests_plan_item_id'))
    )
    with op.batch_alter_table('data_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_requests_created_at'), ['created_at'], unique=False)

    op.create_table('infrastructure_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('tier', sa.SmallInteger(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Double(), nullable=True),
    sa.Column('ci_low', sa.Double(), nullable=True),
    sa.Column('ci_high', sa.Double(), nullable=True),
    sa.Column('support_weighted', sa.Double(), nullable=True),
    sa.Column('support_raw', sa.Integer(), nullable=True),
    sa.Column('plan_item_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('ci_low IS NULL OR ci_high IS NULL OR ci_low <= ci_high', name=op.f('ck_infrastructure_items_interval_order')),
    sa.CheckConstraint('length(title) BETWEEN 5 AND 200', name=op.f('ck_infrastructure_items_title_length')),
    sa.CheckConstraint('tier IS NULL OR tier BETWEEN 1 AND 9', name=op.f('ck_infrastructure_items_tier_range')),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], name=op.f('fk_infrastructure_items_edition_id_editions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_infrastructure_items_institution_id_institutions')),
    sa.ForeignKeyConstraint(['plan_item_id'], ['plan_items.id'], name=op.f('fk_infrastructure_items_plan_item_id_plan_items')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_infrastructure_items_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infrastructure_items')),
    sa.UniqueConstraint('edition_id', 'key', name=op.f('uq_infrastructure_items_edition_id_key'))
    )
    with op.batch_alter_table('infrastructure_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infrastructure_items_edition_id'), ['edition_id'], unique=False)

    op.create_table('plan_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_item_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_plan_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['plan_item_id'], ['plan_items.id'], name=op.f('fk_plan_events_plan_item_id_plan_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_events'))
    )
    with op.batch_alter_table('plan_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_events_plan_item_id'), ['plan_item_id'], unique=False)

    op.create_table('follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_item_id', sa.Integer(), nullable=True),
    sa.Column('data_request_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("email LIKE '%_@_%'", name=op.f('ck_follows_email_shape')),
    sa.CheckConstraint('(plan_item_id IS NULL) <> (data_request_id IS NULL)', name=op.f('ck_follows_follows_one_thing')),
    sa.ForeignKeyConstraint(['data_request_id'], ['data_requests.id'], name=op.f('fk_follows_data_request_id_data_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_item_id'], ['plan_items.id'], name=op.f('fk_follows_plan_item_id_plan_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follows')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_follows_token_hash'))
    )
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.create_index('uq_follows_item_email', ['plan_item_id', 'email'], unique=True)
        batch_op.create_index('uq_follows_request_email', ['data_request_id', 'email'], unique=True)

    op.create_table('item_proposals',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('ranking_run_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('ci_low', sa.Double(), nullable=False),
    sa.Column('ci_high', sa.Double(), nullable=False),
    sa.Column('n_eff', sa.Double(), nullable=False),
    sa.Column('n_votes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['infrastructure_items.id'], name=op.f('fk_item_proposals_item_id_infrastructure_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_item_proposals_proposal_id_proposals')),
    sa.ForeignKeyConstraint(['ranking_run_id'], ['ranking_runs.id'], name=op.f('fk_item_proposals_ranking_run_id_ranking_runs')),
    sa.PrimaryKeyConstraint('item_id', 'proposal_id', name=op.f('pk_item_proposals'))
    )


def downgrade() -> None:
    op.drop_table('item_proposals')
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.drop_index('uq_follows_request_email')
        batch_op.drop_index('uq_follows_item_email')

    op.drop_table('follows')
    with op.batch_alter_table('plan_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_events_plan_item_id'))

    op.drop_table('plan_events')
    with op.batch_alter_table('infrastructure_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infrastructure_items_edition_id'))

    op.drop_table('infrastructure_items')
    with op.batch_alter_table('data_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_requests_created_at'))

    op.drop_table('data_requests')
    with op.batch_alter_table('plan_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_items_institution_id'))

    op.drop_table('plan_items')
    op.drop_table('edition_tiers')
    op.drop_table('edition_runs')
    op.drop_table('editions')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_institution_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_unsent')

    op.drop_table('outbox')
