"""Participation core: reference data, consultations, respondents, proposals, votes, staff, audit.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 14:51:15.908370
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('legal_bases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name_es', sa.String(length=250), nullable=False),
    sa.Column('name_en', sa.String(length=250), nullable=False),
    sa.Column('article', sa.String(length=120), nullable=False),
    sa.Column('description_es', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_bases')),
    sa.UniqueConstraint('code', name=op.f('uq_legal_bases_code'))
    )
    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_es', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('sort_order', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('code', name=op.f('uq_segments_code'))
    )
    op.create_table('states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inegi_code', sa.String(length=2), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('abbreviation', sa.String(length=8), nullable=False),
    sa.CheckConstraint('length(inegi_code) = 2', name=op.f('ck_states_inegi_code_two_digits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_states')),
    sa.UniqueConstraint('inegi_code', name=op.f('uq_states_inegi_code'))
    )
    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name_es', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('code', name=op.f('uq_topics_code'))
    )
    op.create_table('institutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('acronym', sa.String(length=30), nullable=False),
    sa.Column('name_es', sa.String(length=250), nullable=False),
    sa.Column('name_en', sa.String(length=250), nullable=False),
    sa.Column('level', sa.Enum('federal', 'state', 'municipal', name='institution_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('state_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("level = 'federal' OR state_id IS NOT NULL", name=op.f('ck_institutions_local_has_state')),
    sa.ForeignKeyConstraint(['state_id'], ['states.id'], name=op.f('fk_institutions_state_id_states')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions')),
    sa.UniqueConstraint('acronym', name=op.f('uq_institutions_acronym'))
    )
    op.create_table('consultations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title_es', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('description_es', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'published', name='consultation_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('voting_method', sa.Enum('approval', 'rating', 'pairwise', name='voting_method', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('proposal_mode', sa.Enum('open', 'moderated', 'fixed', name='proposal_mode', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('results_visibility', sa.Enum('live', 'after_close', name='results_visibility', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('segment_required', sa.Boolean(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(slug) >= 3', name=op.f('ck_consultations_slug_length')),
    sa.CheckConstraint('opens_at < closes_at', name=op.f('ck_consultations_opens_before_closes')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_consultations_institution_id_institutions')),
    sa.ForeignKeyConstraint(['previous_id'], ['consultations.id'], name=op.f('fk_consultations_previous_id_consultations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultations')),
    sa.UniqueConstraint('slug', name=op.f('uq_consultations_slug'))
    )
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultations_institution_id'), ['institution_id'], unique=False)

    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('central_admin', 'institution_admin', 'institution_moderator', name='staff_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'central_admin') = (institution_id IS NULL)", name=op.f('ck_staff_users_institution_matches_role')),
    sa.CheckConstraint("password_hash LIKE '$%'", name=op.f('ck_staff_users_password_is_hashed')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_staff_users_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_users_email'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.BigInteger(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('public_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_audit_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_audit_events_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)

    op.create_table('respondents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('state_id', sa.Integer(), nullable=True),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('use_who', sa.String(length=500), nullable=False),
    sa.Column('use_purpose', sa.String(length=1000), nullable=False),
    sa.Column('use_benefit', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(token_hash) = 64', name=op.f('ck_respondents_token_hash_sha256')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_respondents_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_respondents_segment_id_segments')),
    sa.ForeignKeyConstraint(['state_id'], ['states.id'], name=op.f('fk_respondents_state_id_states')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_respondents')),
    sa.UniqueConstraint('consultation_id', 'token_hash', name=op.f('uq_respondents_consultation_id_token_hash'))
    )
    op.create_table('weighting_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('variable', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('target', sa.Double(), nullable=False),
    sa.CheckConstraint("variable IN ('segment', 'state')", name=op.f('ck_weighting_targets_known_variable')),
    sa.CheckConstraint('target >= 0', name=op.f('ck_weighting_targets_target_non_negative')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_weighting_targets_consultation_id_consultations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weighting_targets')),
    sa.UniqueConstraint('consultation_id', 'variable', 'category', name=op.f('uq_weighting_targets_consultation_id_variable_category'))
    )
    op.create_table('proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('intended_use', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'published', 'hidden', 'merged', name='proposal_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('hidden_reason', sa.Text(), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('from_fixed_list', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name=op.f('ck_proposals_merged_has_target')),
    sa.CheckConstraint('length(description) <= 4000', name=op.f('ck_proposals_description_length')),
    sa.CheckConstraint('length(title) BETWEEN 5 AND 200', name=op.f('ck_proposals_title_length')),
    sa.CheckConstraint('merged_into_id IS NULL OR merged_into_id <> id', name=op.f('ck_proposals_not_merged_into_self')),
    sa.ForeignKeyConstraint(['author_id'], ['respondents.id'], name=op.f('fk_proposals_author_id_respondents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_proposals_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_proposals_institution_id_institutions')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['proposals.id'], name=op.f('fk_proposals_merged_into_id_proposals')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_proposals_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposals'))
    )
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposals_consultation_id'), ['consultation_id'], unique=False)

    op.create_table('exposures',
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_exposures_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_exposures_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondents.id'], name=op.f('fk_exposures_respondent_id_respondents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('respondent_id', 'proposal_id', name=op.f('pk_exposures'))
    )
    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.create_index('ix_exposures_consultation_proposal', ['consultation_id', 'proposal_id'], unique=False)

    op.create_table('pairwise_votes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('left_id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('winner_id', sa.Integer(), nullable=True),
    sa.Column('cast_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('left_id <> right_id', name=op.f('ck_pairwise_votes_distinct_pair')),
    sa.CheckConstraint('winner_id IS NULL OR winner_id = left_id OR winner_id = right_id', name=op.f('ck_pairwise_votes_winner_in_pair')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_pairwise_votes_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['left_id'], ['proposals.id'], name=op.f('fk_pairwise_votes_left_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondents.id'], name=op.f('fk_pairwise_votes_respondent_id_respondents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['right_id'], ['proposals.id'], name=op.f('fk_pairwise_votes_right_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['winner_id'], ['proposals.id'], name=op.f('fk_pairwise_votes_winner_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairwise_votes'))
    )
    with op.batch_alter_table('pairwise_votes', schema=None) as batch_op:
        batch_op.create_index('ix_pairwise_votes_consultation', ['consultation_id'], unique=False)
        batch_op.create_index('ix_pairwise_votes_respondent', ['respondent_id'], unique=False)

    op.create_table('votes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('value', sa.SmallInteger(), nullable=False),
    sa.Column('cast_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('value BETWEEN 1 AND 5', name=op.f('ck_votes_value_range')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_votes_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_votes_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondents.id'], name=op.f('fk_votes_respondent_id_respondents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_votes')),
    sa.UniqueConstraint('respondent_id', 'proposal_id', name=op.f('uq_votes_respondent_id_proposal_id'))
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.create_index('ix_votes_consultation_proposal', ['consultation_id', 'proposal_id'], unique=False)
        batch_op.create_index('ix_votes_proposal', ['proposal_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index('ix_votes_proposal')
        batch_op.drop_index('ix_votes_consultation_proposal')

    op.drop_table('votes')
    with op.batch_alter_table('pairwise_votes', schema=None) as batch_op:
        batch_op.drop_index('ix_pairwise_votes_respondent')
        batch_op.drop_index('ix_pairwise_votes_consultation')

    op.drop_table('pairwise_votes')
    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.drop_index('ix_exposures_consultation_proposal')

    op.drop_table('exposures')
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposals_consultation_id'))

    op.drop_table('proposals')
    op.drop_table('weighting_targets')
    op.drop_table('respondents')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    op.drop_table('staff_users')
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultations_institution_id'))

    op.drop_table('consultations')
    op.drop_table('institutions')
    op.drop_table('topics')
    op.drop_table('states')
    op.drop_table('segments')
    op.drop_table('legal_bases')
