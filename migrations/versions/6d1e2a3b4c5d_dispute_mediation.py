"""dispute mediation

Revision ID: 6d1e2a3b4c5d
Revises: 5e0e1a2b3c4d
Create Date: 2026-11-21 12:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '6d1e2a3b4c5d'
down_revision = '5e0e1a2b3c4d'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
