"""inspection campaigns

Revision ID: 7f1a2b3c4d5e
Revises: 6d1e2a3b4c5d
Create Date: 2026-11-21 12:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '7f1a2b3c4d5e'
down_revision = '6d1e2a3b4c5d'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
