"""instance migrations (helper: migration)

Running instances moved to another version of their process, with the state before the move kept for a
configurable time so the move can be undone.

Revision ID: b7c8d9e0f1a2
Revises: b7c1d2e3f4a5
Create Date: 2026-12-06 00:30:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "b7c8d9e0f1a2"
down_revision = "b7c1d2e3f4a5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "instance_migration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("from_definition_id", sa.Integer(), nullable=False),
        sa.Column("to_definition_id", sa.Integer(), nullable=False),
        sa.Column("previous_state", sa.Text(), nullable=True),
        sa.Column("previous_next_timer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("migrated_state_hash", sa.String(length=64), nullable=False),
        sa.Column("migrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("migrated_by_id", sa.Integer(), nullable=True),
        sa.Column("undo_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_instance_migration_instance_id_process_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["from_definition_id"],
            ["process_definition.id"],
            name=op.f("fk_instance_migration_from_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["to_definition_id"],
            ["process_definition.id"],
            name=op.f("fk_instance_migration_to_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["migrated_by_id"], ["user_account.id"], name=op.f("fk_instance_migration_migrated_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"], ["user_account.id"], name=op.f("fk_instance_migration_undone_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_migration")),
    )
    with op.batch_alter_table("instance_migration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instance_migration_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_instance_migration_undo_until"), ["undo_until"], unique=False)
        batch_op.create_index("ix_instance_migration_instance_id_id", ["instance_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("instance_migration", schema=None) as batch_op:
        batch_op.drop_index("ix_instance_migration_instance_id_id")
        batch_op.drop_index(batch_op.f("ix_instance_migration_undo_until"))
        batch_op.drop_index(batch_op.f("ix_instance_migration_batch_id"))
    op.drop_table("instance_migration")
