"""testrun: test instances of a version with a simulated clock

A designer runs a version from the studio (helper: testrun, issue #16 item 5): ``process_instance.is_test``
marks its instance (tasks offered to nobody, service tasks simulated, timers left alone by the scheduler),
``test_run`` keeps the run's simulated clock and who started it. Every existing instance is not a test.

Revision ID: a7b8c9d0e1f2
Revises: b3c4d5e6f7a8
Create Date: 2026-12-06 09:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a7b8c9d0e1f2"
down_revision = "b3c4d5e6f7a8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "test_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("test_data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definition.id"],
            name=op.f("fk_test_run_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_test_run_instance_id_process_instance")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["user_account.id"], name=op.f("fk_test_run_started_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_run")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_test_run_instance_id")),
    )
    with op.batch_alter_table("test_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_test_run_started_by_id"), ["started_by_id"], unique=False)


def downgrade():
    with op.batch_alter_table("test_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_run_started_by_id"))
    op.drop_table("test_run")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("is_test")
