"""publish: drafts, publish and rollback (helper: publish)

``process_publication``: the history of which version of each process key starts new instances (its newest
row not withdrawn; a rollback withdraws it). A deployment is a draft until published.

Existing data: until now every deploy went live at once, so every deployed version gets the publication it
had in effect, at its deploy time and by its deployer, in version order: the newest version of every key is
the published one, the older ones are history (a rollback goes back to the version before).

Revision ID: b3c4d5e6f7a8
Revises: a9b8c7d6e5f4
Create Date: 2026-12-06 09:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b3c4d5e6f7a8"
down_revision = "a9b8c7d6e5f4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "process_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definition.id"],
            name=op.f("fk_process_publication_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["user_account.id"],
            name=op.f("fk_process_publication_published_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["user_account.id"],
            name=op.f("fk_process_publication_withdrawn_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_publication")),
    )
    with op.batch_alter_table("process_publication", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_process_publication_definition_id"), ["definition_id"], unique=False
        )
        batch_op.create_index(
            "ix_process_publication_key_withdrawn_at", ["key", "withdrawn_at"], unique=False
        )

    bind = op.get_bind()
    definitions = (
        bind.execute(sa.text("SELECT id FROM process_definition ORDER BY key, kind, version")).scalars().all()
    )
    # One row at a time, in version order: the newest version of a key gets its highest publication id.
    for definition_id in definitions:
        bind.execute(
            sa.text(
                "INSERT INTO process_publication (key, definition_id, published_at, published_by_id) "
                "SELECT key, id, deployed_at, deployed_by_id FROM process_definition WHERE id = :id"
            ),
            {"id": definition_id},
        )


def downgrade():
    with op.batch_alter_table("process_publication", schema=None) as batch_op:
        batch_op.drop_index("ix_process_publication_key_withdrawn_at")
        batch_op.drop_index(batch_op.f("ix_process_publication_definition_id"))
    op.drop_table("process_publication")
