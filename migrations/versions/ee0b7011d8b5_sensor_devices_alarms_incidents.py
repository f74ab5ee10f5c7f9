"""sensor devices, alarms, incidents, dead letters

The sensor connectors' tables: the device registry (where a sensor is, its grid and building, the resident it
protects with ordered emergency contacts, its status) and the hashes of its HTTP ingestion tokens; alarms,
unique per (device, alarm type) while active through a unique, nullable ``active_key``; incidents that
correlate alarms of one building into one case; dead letters (messages we could not use, with the reason,
topic and raw payload); and the keys of processed messages, which make QoS 1 redeliveries harmless.

Revision ID: ee0b7011d8b5
Revises: 36e7a11027fb
Create Date: 2026-11-21 10:54:54.071412

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ee0b7011d8b5'
down_revision = '36e7a11027fb'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('friendly_name', sa.String(length=200), nullable=False),
    sa.Column('device_type', sa.String(length=32), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('grid_code', sa.String(length=24), nullable=True),
    sa.Column('building_code', sa.String(length=24), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('resident_name', sa.String(length=80), nullable=True),
    sa.Column('resident_phone', sa.String(length=32), nullable=True),
    sa.Column('resident_notes', sa.String(length=500), nullable=True),
    sa.Column('emergency_contacts', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('tampered', sa.Boolean(), nullable=False),
    sa.Column('battery_low', sa.Boolean(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_values', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('device_id', name=op.f('uq_device_device_id')),
    sa.UniqueConstraint('friendly_name', name=op.f('uq_device_friendly_name'))
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_building_code'), ['building_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_device_type'), ['device_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_status'), ['status'], unique=False)

    op.create_table('processed_message',
    sa.Column('dedup_key', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('dedup_key', name=op.f('pk_processed_message'))
    )
    with op.batch_alter_table('processed_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_message_received_at'), ['received_at'], unique=False)

    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('topic', sa.String(length=500), nullable=False),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('payload_size', sa.Integer(), nullable=False),
    sa.Column('retained', sa.Boolean(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_dead_letter_device_id_device')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letter'))
    )
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letter_reason_code'), ['reason_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letter_received_at'), ['received_at'], unique=False)

    op.create_table('device_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_device_token_device_id_device')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_device_token_token_hash'))
    )
    with op.batch_alter_table('device_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_token_device_id'), ['device_id'], unique=False)

    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alarm_type', sa.String(length=40), nullable=False),
    sa.Column('alarm_group', sa.String(length=20), nullable=True),
    sa.Column('building_code', sa.String(length=24), nullable=True),
    sa.Column('grid_code', sa.String(length=24), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('alarm_count', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_alarm_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_incident_case_id_case_file')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_building_code'), ['building_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_last_alarm_at'), ['last_alarm_at'], unique=False)

    op.create_table('alarm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('alarm_type', sa.String(length=40), nullable=False),
    sa.Column('active_key', sa.String(length=80), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('toggle_count', sa.Integer(), nullable=False),
    sa.Column('recent_toggles', sa.JSON(), nullable=False),
    sa.Column('flapping', sa.Boolean(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_alarm_device_id_device')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_alarm_incident_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm')),
    sa.UniqueConstraint('active_key', name=op.f('uq_alarm_active_key'))
    )
    with op.batch_alter_table('alarm', schema=None) as batch_op:
        batch_op.create_index('ix_alarm_device_id_alarm_type_id', ['device_id', 'alarm_type', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_incident_id'), ['incident_id'], unique=False)



def downgrade():
    with op.batch_alter_table('alarm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_incident_id'))
        batch_op.drop_index('ix_alarm_device_id_alarm_type_id')

    op.drop_table('alarm')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_last_alarm_at'))
        batch_op.drop_index(batch_op.f('ix_incident_case_id'))
        batch_op.drop_index(batch_op.f('ix_incident_building_code'))

    op.drop_table('incident')
    with op.batch_alter_table('device_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_token_device_id'))

    op.drop_table('device_token')
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letter_received_at'))
        batch_op.drop_index(batch_op.f('ix_dead_letter_reason_code'))

    op.drop_table('dead_letter')
    with op.batch_alter_table('processed_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_message_received_at'))

    op.drop_table('processed_message')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_status'))
        batch_op.drop_index(batch_op.f('ix_device_grid_code'))
        batch_op.drop_index(batch_op.f('ix_device_device_type'))
        batch_op.drop_index(batch_op.f('ix_device_building_code'))

    op.drop_table('device')
