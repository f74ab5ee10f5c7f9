"""engine incidents

A failure of the engine on one instance is kept as an incident until an operator repairs it; the instance is
parked meanwhile. Instances may also be suspended or terminated by an operator (new status values, no column
change).

Revision ID: a1b2c3d4e5f7
Revises: 9c3d4e5f6a7b
Create Date: 2026-12-06 00:10:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "a1b2c3d4e5f7"
down_revision = "9c3d4e5f6a7b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "engine_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("element_id", sa.String(length=100), nullable=True),
        sa.Column("element_name", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_engine_incident_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_engine_incident_case_id_case_file")),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_engine_incident_instance_id_process_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["user_account.id"],
            name=op.f("fk_engine_incident_resolved_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_incident")),
    )
    with op.batch_alter_table("engine_incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_engine_incident_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_engine_incident_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(
            "ix_engine_incident_instance_id_resolved_at", ["instance_id", "resolved_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("engine_incident", schema=None) as batch_op:
        batch_op.drop_index("ix_engine_incident_instance_id_resolved_at")
        batch_op.drop_index(batch_op.f("ix_engine_incident_opened_at"))
        batch_op.drop_index(batch_op.f("ix_engine_incident_case_id"))
    op.drop_table("engine_incident")
