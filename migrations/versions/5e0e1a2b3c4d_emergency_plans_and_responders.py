"""emergency plans and responders

The emergency escalation's tables: the plan library (应急预案: responders with their report-in limits, a
checklist, the categories and alarm types each plan answers); one row per emergency case with its measured
timings (seconds from the report to the first report-in, to all reported in, to control, to close) and its
after-action review; the responders of each emergency (unit or named grid worker, report-in due time, the
escalation level its misses reached, whether and when it reported in); and on-scene updates.

Revision ID: 5e0e1a2b3c4d
Revises: c42265aab60e
Create Date: 2026-11-21 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e0e1a2b3c4d'
down_revision = 'c42265aab60e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('emergency_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('responders', sa.JSON(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('contact_call_limit', sa.String(length=12), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_plan')),
    sa.UniqueConstraint('code', name=op.f('uq_emergency_plan_code'))
    )
    op.create_table('emergency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('plan_code', sa.String(length=40), nullable=True),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('launched_by_id', sa.Integer(), nullable=True),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_ack_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('all_ack_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('controlled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_ack_seconds', sa.Integer(), nullable=True),
    sa.Column('all_ack_seconds', sa.Integer(), nullable=True),
    sa.Column('control_seconds', sa.Integer(), nullable=True),
    sa.Column('close_seconds', sa.Integer(), nullable=True),
    sa.Column('cause', sa.Text(), nullable=True),
    sa.Column('timeline_summary', sa.Text(), nullable=True),
    sa.Column('improvements', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_emergency_case_id_case_file')),
    sa.ForeignKeyConstraint(['launched_by_id'], ['user_account.id'], name=op.f('fk_emergency_launched_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency')),
    sa.UniqueConstraint('case_id', name=op.f('uq_emergency_case_id'))
    )
    with op.batch_alter_table('emergency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_plan_code'), ['plan_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_status'), ['status'], unique=False)

    op.create_table('emergency_responder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('emergency_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=40), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('report_in_limit', sa.String(length=12), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=True),
    sa.Column('status', sa.String(length=14), nullable=False),
    sa.Column('misses', sa.Integer(), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('report_in_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('responsible_person', sa.String(length=40), nullable=True),
    sa.Column('eta_minutes', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], name=op.f('fk_emergency_responder_acknowledged_by_id_user_account')),
    sa.ForeignKeyConstraint(['emergency_id'], ['emergency.id'], name=op.f('fk_emergency_responder_emergency_id_emergency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_responder')),
    sa.UniqueConstraint('emergency_id', 'position', name=op.f('uq_emergency_responder_emergency_id'))
    )
    with op.batch_alter_table('emergency_responder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_responder_emergency_id'), ['emergency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_responder_unit_code'), ['unit_code'], unique=False)

    op.create_table('emergency_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('emergency_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('attachment_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_emergency_update_author_id_user_account')),
    sa.ForeignKeyConstraint(['emergency_id'], ['emergency.id'], name=op.f('fk_emergency_update_emergency_id_emergency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_update'))
    )
    with op.batch_alter_table('emergency_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_update_emergency_id'), ['emergency_id'], unique=False)


def downgrade():
    with op.batch_alter_table('emergency_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_update_emergency_id'))

    op.drop_table('emergency_update')
    with op.batch_alter_table('emergency_responder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_responder_unit_code'))
        batch_op.drop_index(batch_op.f('ix_emergency_responder_emergency_id'))

    op.drop_table('emergency_responder')
    with op.batch_alter_table('emergency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_status'))
        batch_op.drop_index(batch_op.f('ix_emergency_plan_code'))

    op.drop_table('emergency')
    op.drop_table('emergency_plan')
