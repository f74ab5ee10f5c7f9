"""units, categories, grid members, case grid and escalation

Units and the grids they serve, the category catalogue, people assigned to grids, and on each case its grid
code, its closing time limit, when it was filed, how often it was re-dispatched and its escalation level.

Revision ID: 36e7a11027fb
Revises: 1b0daa0506f9
Create Date: 2026-11-21 10:50:11.005074

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '36e7a11027fb'
down_revision = '1b0daa0506f9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('category',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('parent_code', sa.String(length=8), nullable=True),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=True),
    sa.Column('default_severity', sa.String(length=10), nullable=False),
    sa.Column('responsible_level', sa.String(length=12), nullable=False),
    sa.Column('responsible_unit_kind', sa.String(length=20), nullable=True),
    sa.Column('handle_limit', sa.String(length=16), nullable=False),
    sa.Column('close_limit', sa.String(length=16), nullable=False),
    sa.Column('process_key', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("default_severity IN ('red', 'orange', 'yellow', 'blue')", name=op.f('ck_category_default_severity')),
    sa.CheckConstraint("kind IN ('event', 'part')", name=op.f('ck_category_kind')),
    sa.CheckConstraint("responsible_level IN ('grid', 'community', 'street', 'district', 'unit')", name=op.f('ck_category_responsible_level')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_category'))
    )
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_category_parent_code'), ['parent_code'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('property', 'sanitation', 'water', 'power', 'gas', 'police', 'fire', 'street_office', 'district_bureau')", name=op.f('ck_unit_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('code', name=op.f('uq_unit_code'))
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_kind'), ['kind'], unique=False)

    op.create_table('grid_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_grid_member_grid_id_grid'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_grid_member_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_member')),
    sa.UniqueConstraint('user_id', 'grid_id', name=op.f('uq_grid_member_user_id'))
    )
    with op.batch_alter_table('grid_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_member_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_member_user_id'), ['user_id'], unique=False)

    op.create_table('unit_grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_unit_grid_grid_id_grid'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_grid_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_grid')),
    sa.UniqueConstraint('unit_id', 'grid_id', name=op.f('uq_unit_grid_unit_id'))
    )
    with op.batch_alter_table('unit_grid', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_grid_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unit_grid_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grid_code', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('redispatch_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('escalation_level', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('close_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_file_grid_code'), ['grid_code'], unique=False)



def downgrade():
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_file_grid_code'))
        batch_op.drop_column('filed_at')
        batch_op.drop_column('close_due_at')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('escalation_level')
        batch_op.drop_column('redispatch_count')
        batch_op.drop_column('grid_code')

    with op.batch_alter_table('unit_grid', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_grid_unit_id'))
        batch_op.drop_index(batch_op.f('ix_unit_grid_grid_id'))

    op.drop_table('unit_grid')
    with op.batch_alter_table('grid_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_grid_member_grid_id'))

    op.drop_table('grid_member')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_kind'))

    op.drop_table('unit')
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_category_parent_code'))

    op.drop_table('category')
