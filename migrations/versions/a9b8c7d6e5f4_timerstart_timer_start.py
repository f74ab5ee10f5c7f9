"""timerstart: timer_start, the plan of each process started by a timer

One row per process key whose version that starts new instances has a timer start event (or had one): the
version it was planned on, the event, its expression, the next due time, the last fired (helper:
timerstart, issue #16 item 9). A new table only: nothing existing changes; the scheduler plans the rows
itself on its first round.

Revision ID: a9b8c7d6e5f4
Revises: e1f2a3b4c5d6
Create Date: 2026-12-06 09:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a9b8c7d6e5f4"
down_revision = "e1f2a3b4c5d6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "timer_start",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("expression", sa.String(length=200), nullable=True),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_instance_id", sa.Integer(), nullable=True),
        sa.Column("fired_count", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definition.id"],
            name=op.f("fk_timer_start_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["last_instance_id"],
            ["process_instance.id"],
            name=op.f("fk_timer_start_last_instance_id_process_instance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timer_start")),
        sa.UniqueConstraint("process_key", name=op.f("uq_timer_start_process_key")),
    )
    with op.batch_alter_table("timer_start", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timer_start_next_fire_at"), ["next_fire_at"], unique=False)


def downgrade():
    with op.batch_alter_table("timer_start", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timer_start_next_fire_at"))
    op.drop_table("timer_start")
