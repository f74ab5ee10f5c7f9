"""kpi and inbox indexes

Indexes for 1,000,000 cases and their ~2,000,000 human tasks (figures in README, ``python -m bench.kpi``):

- case_file: one index per moment a KPI counts (filed_at, dispatched_at, due_at, handled_at, close_due_at,
  closed_at; created_at had one). A KPI reads the cases with any of them in its period, and with these that
  OR of ranges is a bitmap OR of index scans instead of a scan of every case. Grid subtrees need nothing new:
  ``app.grids.scope.in_subtrees`` writes a prefix as a range that ix_case_file_grid_code serves.
- human_task: (candidate_user, status) and (candidate_group, status) for inboxes and for visibility's "tasks
  offered to me / my unit" (the old (status, candidate_user) could not serve a lookup by user alone and is
  replaced), completed_by_id for visibility's "tasks I completed", and (status, candidate_user,
  candidate_group) for the tasks offered to a role only (both candidates empty) in the claimable inbox.
- case_file.handler_unit: a unit member's visibility ("cases dispatched to my unit").

Revision ID: c42265aab60e
Revises: ee0b7011d8b5
Create Date: 2026-11-21 11:02:22.082227

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c42265aab60e'
down_revision = 'ee0b7011d8b5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.create_index('ix_case_file_close_due_at', ['close_due_at'], unique=False)
        batch_op.create_index('ix_case_file_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_case_file_dispatched_at', ['dispatched_at'], unique=False)
        batch_op.create_index('ix_case_file_due_at', ['due_at'], unique=False)
        batch_op.create_index('ix_case_file_filed_at', ['filed_at'], unique=False)
        batch_op.create_index('ix_case_file_handled_at', ['handled_at'], unique=False)
        batch_op.create_index('ix_case_file_handler_unit', ['handler_unit'], unique=False)

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_human_task_status_candidate_user'))
        batch_op.create_index('ix_human_task_candidate_group_status', ['candidate_group', 'status'], unique=False)
        batch_op.create_index('ix_human_task_candidate_user_status', ['candidate_user', 'status'], unique=False)
        batch_op.create_index('ix_human_task_completed_by_id', ['completed_by_id'], unique=False)
        batch_op.create_index(
            'ix_human_task_status_candidate_user_candidate_group',
            ['status', 'candidate_user', 'candidate_group'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_status_candidate_user_candidate_group')
        batch_op.drop_index('ix_human_task_completed_by_id')
        batch_op.drop_index('ix_human_task_candidate_user_status')
        batch_op.drop_index('ix_human_task_candidate_group_status')
        batch_op.create_index(batch_op.f('ix_human_task_status_candidate_user'), ['status', 'candidate_user'], unique=False)

    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index('ix_case_file_handler_unit')
        batch_op.drop_index('ix_case_file_handled_at')
        batch_op.drop_index('ix_case_file_filed_at')
        batch_op.drop_index('ix_case_file_due_at')
        batch_op.drop_index('ix_case_file_dispatched_at')
        batch_op.drop_index('ix_case_file_closed_at')
        batch_op.drop_index('ix_case_file_close_due_at')
