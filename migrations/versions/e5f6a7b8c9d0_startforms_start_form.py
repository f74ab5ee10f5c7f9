"""start form of a process version

What a process's start event declares for the 发起流程 catalogue: its form, the roles that may start it and
whether it opens a case (helper: startforms). NULL for a process that people cannot start from a form.

Revision ID: e5f6a7b8c9d0
Revises: f1a9c3e5d7b2
Create Date: 2026-12-06 06:50:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "e5f6a7b8c9d0"
down_revision = "f1a9c3e5d7b2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_definition") as batch:
        batch.add_column(sa.Column("start_form", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("process_definition") as batch:
        batch.drop_column("start_form")
