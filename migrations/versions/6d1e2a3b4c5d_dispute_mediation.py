"""dispute mediation

Disputes (a case plus its ``dispute`` row: type, grade, mediator, outcome, the moments the KPIs count), the
parties with their personal data (only here: never in the case or the audit trail), the mediation sessions,
the documents (evidence, the signed agreement) and the volunteer mediator pool.

Revision ID: 6d1e2a3b4c5d
Revises: 5e0e1a2b3c4d
Create Date: 2026-11-21 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '6d1e2a3b4c5d'
down_revision = '5e0e1a2b3c4d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mediation_volunteer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('community_code', sa.String(length=24), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mediation_volunteer_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_volunteer')),
    sa.UniqueConstraint('user_id', name=op.f('uq_mediation_volunteer_user_id'))
    )
    op.create_table('dispute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('dispute_type', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('grade', sa.String(length=10), nullable=True),
    sa.Column('filed_by_id', sa.Integer(), nullable=False),
    sa.Column('mediator_id', sa.Integer(), nullable=True),
    sa.Column('mediator_kind', sa.String(length=12), nullable=True),
    sa.Column('session_count', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('referral_to', sa.String(length=40), nullable=True),
    sa.Column('referral_reason', sa.String(length=1000), nullable=True),
    sa.Column('agreement_kept', sa.String(length=12), nullable=True),
    sa.Column('satisfaction', sa.String(length=20), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('agreed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_dispute_case_id_case_file'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['filed_by_id'], ['user_account.id'], name=op.f('fk_dispute_filed_by_id_user_account')),
    sa.ForeignKeyConstraint(['mediator_id'], ['user_account.id'], name=op.f('fk_dispute_mediator_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute')),
    sa.UniqueConstraint('case_id', name=op.f('uq_dispute_case_id'))
    )
    op.create_index('ix_dispute_concluded_at', 'dispute', ['concluded_at'], unique=False)
    op.create_index('ix_dispute_follow_up_due_at', 'dispute', ['follow_up_due_at'], unique=False)
    op.create_index('ix_dispute_mediator_open', 'dispute', ['mediator_id', 'closed_at'], unique=False)
    op.create_index(op.f('ix_dispute_status'), 'dispute', ['status'], unique=False)
    op.create_table('dispute_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_path', sa.String(length=200), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], name=op.f('fk_dispute_document_dispute_id_dispute'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_dispute_document_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_document'))
    )
    op.create_index(op.f('ix_dispute_document_dispute_id'), 'dispute_document', ['dispute_id'], unique=False)
    op.create_table('dispute_party',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('grid_code', sa.String(length=24), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], name=op.f('fk_dispute_party_dispute_id_dispute'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_party')),
    sa.UniqueConstraint('dispute_id', 'position', name=op.f('uq_dispute_party_dispute_id'))
    )
    op.create_index(op.f('ix_dispute_party_dispute_id'), 'dispute_party', ['dispute_id'], unique=False)
    op.create_index(op.f('ix_dispute_party_grid_code'), 'dispute_party', ['grid_code'], unique=False)
    op.create_table('mediation_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('attendees', sa.JSON(), nullable=False),
    sa.Column('other_attendees', sa.String(length=300), nullable=True),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], name=op.f('fk_mediation_session_dispute_id_dispute'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_mediation_session_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_session')),
    sa.UniqueConstraint('dispute_id', 'number', name=op.f('uq_mediation_session_dispute_id'))
    )
    op.create_index(op.f('ix_mediation_session_dispute_id'), 'mediation_session', ['dispute_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_mediation_session_dispute_id'), table_name='mediation_session')
    op.drop_table('mediation_session')
    op.drop_index(op.f('ix_dispute_party_grid_code'), table_name='dispute_party')
    op.drop_index(op.f('ix_dispute_party_dispute_id'), table_name='dispute_party')
    op.drop_table('dispute_party')
    op.drop_index(op.f('ix_dispute_document_dispute_id'), table_name='dispute_document')
    op.drop_table('dispute_document')
    op.drop_index(op.f('ix_dispute_status'), table_name='dispute')
    op.drop_index('ix_dispute_mediator_open', table_name='dispute')
    op.drop_index('ix_dispute_follow_up_due_at', table_name='dispute')
    op.drop_index('ix_dispute_concluded_at', table_name='dispute')
    op.drop_table('dispute')
    op.drop_table('mediation_volunteer')
