"""form versions (helper: formver)

Forms frozen per deployment: ``form_version`` (a form's schema and UI hints by content hash),
``process_definition_form`` (which version each deployment froze), ``process_definition.frozen_hash`` (the
same file with other forms or other callees is another version) and ``human_task.form_version_id`` (the form a task renders
and validates with).

Existing data: every deployed BPMN version freezes the forms its user tasks name as ``forms/`` holds them
now, and every task gets its deployment's frozen form. A form file that is gone or unreadable is not frozen
(its tasks keep reading the file, as before).

Revision ID: f0a1b2c3d4e5
Revises: a7c9e1f3b5d2
Create Date: 2026-12-06 07:00:00.000000

"""

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "f0a1b2c3d4e5"
down_revision = "a7c9e1f3b5d2"
branch_labels = None
depends_on = None


def _content_hash(schema, ui_schema):
    # The same as app.workflow.form_versions.content_hash (kept here: a revision must not change later).
    canonical = json.dumps([schema, ui_schema], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _frozen_hash(frozen):
    # The same as app.workflow.form_versions.frozen_hash for a deployment calling no other process. One that
    # calls others gets a new version at its next deployment (the callees' files were not hashed before).
    entries = {f"form:{name}": digest for name, digest in frozen.items()}
    text = "".join(f"{name}\x1f{digest}\x1e" for name, digest in sorted(entries.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _forms_folder():
    settings = current_app.extensions.get("gridcase.settings")
    if settings is not None:
        return Path(settings.forms_folder)
    return Path(__file__).resolve().parents[2] / "forms"


def _read_json(path):
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def upgrade():
    op.create_table(
        "form_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("ui_schema", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_version")),
        sa.UniqueConstraint("name", "content_hash", name="uq_form_version_name_content_hash"),
        sa.UniqueConstraint("name", "version", name="uq_form_version_name_version"),
    )
    op.create_index(op.f("ix_form_version_name"), "form_version", ["name"], unique=False)
    op.create_table(
        "process_definition_form",
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("form_name", sa.String(length=120), nullable=False),
        sa.Column("form_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definition.id"],
            name=op.f("fk_process_definition_form_definition_id_process_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["form_version_id"],
            ["form_version.id"],
            name=op.f("fk_process_definition_form_form_version_id_form_version"),
        ),
        sa.PrimaryKeyConstraint("definition_id", "form_name", name=op.f("pk_process_definition_form")),
    )
    op.create_index(
        op.f("ix_process_definition_form_form_version_id"),
        "process_definition_form",
        ["form_version_id"],
        unique=False,
    )
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frozen_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_human_task_form_version_id_form_version"),
            "form_version",
            ["form_version_id"],
            ["id"],
        )

    _freeze_existing()

    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.alter_column("frozen_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint("uq_process_definition_key_content_hash", type_="unique")
        batch_op.create_unique_constraint(
            "uq_process_definition_key_content_hash_frozen_hash", ["key", "content_hash", "frozen_hash"]
        )


def _freeze_existing():
    """Every deployed version freezes its forms as ``forms/`` holds them now; tasks get their version's."""
    connection = op.get_bind()
    folder = _forms_folder()
    now = datetime.now(timezone.utc)
    definition = sa.table(
        "process_definition",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("user_tasks", sa.JSON),
        sa.column("frozen_hash", sa.String),
    )
    form_version = sa.table(
        "form_version",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("version", sa.Integer),
        sa.column("content_hash", sa.String),
        sa.column("schema", sa.JSON),
        sa.column("ui_schema", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    link = sa.table(
        "process_definition_form",
        sa.column("definition_id", sa.Integer),
        sa.column("form_name", sa.String),
        sa.column("form_version_id", sa.Integer),
    )
    versions = {}  # name -> (id, content hash): one version of each form, today's file
    rows = connection.execute(sa.select(definition.c.id, definition.c.kind, definition.c.user_tasks)).all()
    for definition_id, kind, user_tasks in rows:
        names = set()
        for task in (user_tasks or []) if kind == "bpmn" else []:
            name = (task.get("properties") or {}).get("formJsonSchemaFilename")
            if name:
                names.add(name)
        frozen = {}
        for name in sorted(names):
            if name not in versions:
                schema = (
                    _read_json(folder / name) if "/" not in name and name.endswith(".schema.json") else None
                )
                if schema is None:
                    continue
                ui_schema = _read_json(folder / (name[: -len(".schema.json")] + ".uischema.json"))
                digest = _content_hash(schema, ui_schema)
                new_id = connection.execute(
                    form_version.insert()
                    .values(
                        name=name,
                        version=1,
                        content_hash=digest,
                        schema=schema,
                        ui_schema=ui_schema,
                        created_at=now,
                    )
                    .returning(form_version.c.id)
                ).scalar_one()
                versions[name] = (new_id, digest)
            version_id, digest = versions[name]
            frozen[name] = digest
            connection.execute(
                link.insert().values(definition_id=definition_id, form_name=name, form_version_id=version_id)
            )
        connection.execute(
            definition.update()
            .where(definition.c.id == definition_id)
            .values(frozen_hash=_frozen_hash(frozen))
        )
    connection.execute(
        sa.text(
            "UPDATE human_task SET form_version_id = ("
            " SELECT l.form_version_id FROM process_definition_form l"
            " JOIN process_instance i ON i.definition_id = l.definition_id"
            " WHERE i.id = human_task.instance_id AND l.form_name = human_task.form_key)"
            " WHERE form_key IS NOT NULL"
        )
    )


def downgrade():
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.drop_constraint("uq_process_definition_key_content_hash_frozen_hash", type_="unique")
        batch_op.create_unique_constraint("uq_process_definition_key_content_hash", ["key", "content_hash"])
        batch_op.drop_column("frozen_hash")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_human_task_form_version_id_form_version"), type_="foreignkey")
        batch_op.drop_column("form_version_id")
    op.drop_index(op.f("ix_process_definition_form_form_version_id"), table_name="process_definition_form")
    op.drop_table("process_definition_form")
    op.drop_index(op.f("ix_form_version_name"), table_name="form_version")
    op.drop_table("form_version")
