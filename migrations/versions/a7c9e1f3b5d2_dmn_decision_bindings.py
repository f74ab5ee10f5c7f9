"""decision bindings

The DMN versions an instance decides with, bound when it starts (decision id -> the process_definition id of
the DMN version): a table deployed later applies to the next instance, never to a running one. NULL: the
tables frozen into the instance's BPMN version at its deploy (instances started before this column).
(helper: dmn)

Revision ID: a7c9e1f3b5d2
Revises: e5f6a7b8c9d0
Create Date: 2026-12-06 06:50:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "a7c9e1f3b5d2"
down_revision = "e5f6a7b8c9d0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_instance") as batch_op:
        batch_op.add_column(sa.Column("decision_bindings", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("process_instance") as batch_op:
        batch_op.drop_column("decision_bindings")
