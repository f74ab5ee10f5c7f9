"""device never seen, dead letters by device

A device that has never reported is ``never_seen`` (从未上报), not ``online``: registered devices without a
report get that status. Dead letters are linked to the device their topic names and counted on it: an index
on ``dead_letter.device_id`` for the count and the filter.

Revision ID: 9c3d4e5f6a7b
Revises: 8b2c3d4e5f6a
Create Date: 2026-12-05 22:00:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "9c3d4e5f6a7b"
down_revision = "8b2c3d4e5f6a"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE device SET status = 'never_seen' WHERE status = 'online' AND last_seen_at IS NULL")
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letter_device_id"), ["device_id"], unique=False)


def downgrade():
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letter_device_id"))
    op.execute("UPDATE device SET status = 'online' WHERE status = 'never_seen'")
