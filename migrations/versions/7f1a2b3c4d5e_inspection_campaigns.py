"""inspection campaigns

The place registry (places with their type, located grid, responsible person and blacklist state), inspection
campaigns (a unit's checklist, targets, deadline, the process instance that runs them), one item per
(campaign, place) with where its inspection stands, and the photos taken at inspections.

Revision ID: 7f1a2b3c4d5e
Revises: 6d1e2a3b4c5d
Create Date: 2026-11-21 12:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7f1a2b3c4d5e"
down_revision = "6d1e2a3b4c5d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inspection_place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("place_type", sa.String(length=32), nullable=False),
        sa.Column("grid_code", sa.String(length=24), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("responsible_person", sa.String(length=80), nullable=False),
        sa.Column("responsible_phone", sa.String(length=32), nullable=True),
        sa.Column("blacklisted", sa.Boolean(), nullable=False),
        sa.Column("blacklist_reason", sa.String(length=500), nullable=True),
        sa.Column("blacklisted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_place")),
        sa.UniqueConstraint("code", name=op.f("uq_inspection_place_code")),
    )
    with op.batch_alter_table("inspection_place", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspection_place_blacklisted"), ["blacklisted"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_place_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_place_place_type"), ["place_type"], unique=False)

    op.create_table(
        "inspection_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("launched_by_id", sa.Integer(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("target_grid_codes", sa.JSON(), nullable=False),
        sa.Column("target_place_types", sa.JSON(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rectify_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_inspection_campaign_instance_id_process_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["launched_by_id"],
            ["user_account.id"],
            name=op.f("fk_inspection_campaign_launched_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_campaign")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_inspection_campaign_instance_id")),
    )
    with op.batch_alter_table("inspection_campaign", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspection_campaign_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_campaign_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_campaign_unit_code"), ["unit_code"], unique=False)

    op.create_table(
        "inspection_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inspector", sa.String(length=64), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inspected_by", sa.String(length=64), nullable=True),
        sa.Column("failed_items", sa.JSON(), nullable=True),
        sa.Column("notice_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rectify_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reinspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reinspected_by", sa.String(length=64), nullable=True),
        sa.Column("refailed_items", sa.JSON(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["inspection_campaign.id"],
            name=op.f("fk_inspection_item_campaign_id_inspection_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["place_id"], ["inspection_place.id"], name=op.f("fk_inspection_item_place_id_inspection_place")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_item")),
        sa.UniqueConstraint("campaign_id", "place_id", name="uq_inspection_item_campaign_id"),
    )
    with op.batch_alter_table("inspection_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspection_item_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_item_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_item_place_id"), ["place_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inspection_item_status"), ["status"], unique=False)

    op.create_table(
        "inspection_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_path", sa.String(length=200), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["inspection_item.id"], name=op.f("fk_inspection_photo_item_id_inspection_item")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_inspection_photo_uploaded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_photo")),
    )
    with op.batch_alter_table("inspection_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspection_photo_item_id"), ["item_id"], unique=False)


def downgrade():
    with op.batch_alter_table("inspection_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_photo_item_id"))

    op.drop_table("inspection_photo")
    with op.batch_alter_table("inspection_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_item_status"))
        batch_op.drop_index(batch_op.f("ix_inspection_item_place_id"))
        batch_op.drop_index(batch_op.f("ix_inspection_item_grid_code"))
        batch_op.drop_index(batch_op.f("ix_inspection_item_campaign_id"))

    op.drop_table("inspection_item")
    with op.batch_alter_table("inspection_campaign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_campaign_unit_code"))
        batch_op.drop_index(batch_op.f("ix_inspection_campaign_status"))
        batch_op.drop_index(batch_op.f("ix_inspection_campaign_created_at"))

    op.drop_table("inspection_campaign")
    with op.batch_alter_table("inspection_place", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_place_place_type"))
        batch_op.drop_index(batch_op.f("ix_inspection_place_grid_code"))
        batch_op.drop_index(batch_op.f("ix_inspection_place_blacklisted"))

    op.drop_table("inspection_place")
