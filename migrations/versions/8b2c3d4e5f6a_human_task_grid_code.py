"""human task grid code

A task without a case can name the grid it belongs to (the user task's ``gridCode`` property): offered by
role, it goes only to the staff whose grids contain it, like a case task (an inspection handed back).

Revision ID: 8b2c3d4e5f6a
Revises: 7f1a2b3c4d5e
Create Date: 2026-11-21 16:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "8b2c3d4e5f6a"
down_revision = "7f1a2b3c4d5e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grid_code", sa.String(length=24), nullable=True))


def downgrade():
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_column("grid_code")
