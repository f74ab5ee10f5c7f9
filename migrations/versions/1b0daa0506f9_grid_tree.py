"""grid tree: districts, streets, communities, comprehensive grids, compounds, buildings

One self-referencing table; geometry is GeoJSON, the bounding box is stored for a database prefilter.

Revision ID: 1b0daa0506f9
Revises: 565436099e8a
Create Date: 2026-11-21 10:35:40.327479

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1b0daa0506f9'
down_revision = '565436099e8a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('min_lon', sa.Float(), nullable=False),
    sa.Column('min_lat', sa.Float(), nullable=False),
    sa.Column('max_lon', sa.Float(), nullable=False),
    sa.Column('max_lat', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("level IN ('district', 'street', 'community', 'grid', 'compound', 'building')", name=op.f('ck_grid_level')),
    sa.ForeignKeyConstraint(['parent_id'], ['grid.id'], name=op.f('fk_grid_parent_id_grid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid')),
    sa.UniqueConstraint('code', name=op.f('uq_grid_code'))
    )
    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.create_index('ix_grid_bbox', ['min_lon', 'min_lat', 'max_lon', 'max_lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_parent_id'), ['parent_id'], unique=False)


def downgrade():
    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_parent_id'))
        batch_op.drop_index(batch_op.f('ix_grid_level'))
        batch_op.drop_index('ix_grid_bbox')

    op.drop_table('grid')
