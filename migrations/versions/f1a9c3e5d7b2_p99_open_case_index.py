"""p99: an index of the open cases

A partial index on ``case_file (due_at, id)`` for the cases whose status is not final. The supervisor's
dashboard reads only open cases (map markers, open counts by severity and category, the overdue list ordered
by due time), and ``status NOT IN (…final…)`` cannot use ``ix_case_file_status``: on a district with 383,000
cases each of those statements read every case (the overdue list 540 ms, the whole snapshot 2.0 s of
PostgreSQL); with this index they read the ~1,000 open ones (the snapshot 0.8 s, the rest being the KPIs).

Revision ID: f1a9c3e5d7b2
Revises: d4e5f6a7b8c9
Create Date: 2026-12-06 06:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f1a9c3e5d7b2"
down_revision = "d4e5f6a7b8c9"
branch_labels = None
depends_on = None

OPEN_CASE = sa.text("status NOT IN ('closed', 'rejected', 'duplicate', 'withdrawn')")


def upgrade():
    op.create_index(
        "ix_case_file_open_due_at",
        "case_file",
        ["due_at", "id"],
        unique=False,
        postgresql_where=OPEN_CASE,
        sqlite_where=OPEN_CASE,
    )


def downgrade():
    op.drop_index("ix_case_file_open_due_at", table_name="case_file")
