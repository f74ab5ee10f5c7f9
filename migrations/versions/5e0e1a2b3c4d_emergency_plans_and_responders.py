"""emergency plans and responders

Revision ID: 5e0e1a2b3c4d
Revises: c42265aab60e
Create Date: 2026-11-21 12:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '5e0e1a2b3c4d'
down_revision = 'c42265aab60e'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
