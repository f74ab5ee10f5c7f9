"""engine: child instances

An emergency's responders and a campaign's places run as child instances of the emergency's or the
campaign's instance (helper: engine, issue #19): ``process_instance.parent_id`` links a child to its
parent, ``process_instance.elements`` keeps a child's highlighted elements, ``process_join`` counts the
children a parent still waits for.

Instances already running keep running on the process version they started on (a version's spec is stored
with it and never changes): their state needs no rewrite, and only instances started from now on are split
into children. Nothing else is touched.

Revision ID: e1f2a3b4c5d6
Revises: f0a1b2c3d4e5
Create Date: 2026-12-06 06:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e1f2a3b4c5d6"
down_revision = "f0a1b2c3d4e5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("elements", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_process_instance_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_process_instance_parent_id_process_instance"),
            "process_instance",
            ["parent_id"],
            ["id"],
        )
    op.create_table(
        "process_join",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=100), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["process_instance.id"], name=op.f("fk_process_join_parent_id_process_instance")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_join")),
    )
    with op.batch_alter_table("process_join", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_process_join_parent_id"), ["parent_id"], unique=False)


def downgrade():
    with op.batch_alter_table("process_join", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_join_parent_id"))
    op.drop_table("process_join")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_process_instance_parent_id_process_instance"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_process_instance_parent_id"))
        batch_op.drop_column("elements")
        batch_op.drop_column("parent_id")
