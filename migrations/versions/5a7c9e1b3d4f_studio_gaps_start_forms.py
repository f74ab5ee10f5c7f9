"""start forms frozen per deployment (helper: studio-gaps)

A deployment now freezes its start event's form (发起流程) with its user tasks' forms. Existing data: every
deployed version with a start form freezes that form as ``forms/`` holds it now (the stored version with the
same content, or the form's next version) and, when it calls no process of another file, gets the
``frozen_hash`` deploying the same diagram computes now, so a redeploy is no new version. A form file that is
gone or unreadable is not frozen (the start page keeps reading the file, as before). Data only: the downgrade
leaves the links (the previous code reads the start form from ``forms/`` and ignores them).

Revision ID: 5a7c9e1b3d4f
Revises: a7b8c9d0e1f2
Create Date: 2026-12-06 09:30:00.000000

"""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "5a7c9e1b3d4f"
down_revision = "a7b8c9d0e1f2"
branch_labels = None
depends_on = None

SUFFIX = ".schema.json"


def _content_hash(schema, ui_schema):
    # The same as app.workflow.form_versions.content_hash (kept here: a revision must not change later).
    canonical = json.dumps([schema, ui_schema], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _frozen_hash(frozen):
    # app.workflow.form_versions.frozen_hash for a deployment calling no process of another file.
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


def _as_dict(value):
    if isinstance(value, str):  # a JSON column read as text by some drivers
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


definition = sa.table(
    "process_definition",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("kind", sa.String),
    sa.column("file_name", sa.String),
    sa.column("content_hash", sa.String),
    sa.column("frozen_hash", sa.String),
    sa.column("start_form", sa.JSON),
    sa.column("spec_document", sa.JSON),
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


def _version_id(connection, name, schema, ui_schema, now):
    """The stored version of form ``name`` with this content, or its next version."""
    digest = _content_hash(schema, ui_schema)
    found = connection.execute(
        sa.select(form_version.c.id).where(form_version.c.name == name, form_version.c.content_hash == digest)
    ).scalar_one_or_none()
    if found is not None:
        return found
    latest = connection.execute(
        sa.select(sa.func.max(form_version.c.version)).where(form_version.c.name == name)
    ).scalar_one()
    return connection.execute(
        form_version.insert()
        .values(
            name=name,
            version=(latest or 0) + 1,
            content_hash=digest,
            schema=schema,
            ui_schema=ui_schema,
            created_at=now,
        )
        .returning(form_version.c.id)
    ).scalar_one()


def _calls_other_files(file_name, spec_document):
    called = _as_dict(spec_document).get("subprocess_specs") or {}
    return any(isinstance(sub, dict) and sub.get("file") != file_name for sub in called.values())


def upgrade():
    connection = op.get_bind()
    folder = _forms_folder()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(
            definition.c.id,
            definition.c.key,
            definition.c.file_name,
            definition.c.content_hash,
            definition.c.start_form,
            definition.c.spec_document,
        ).where(definition.c.kind == "bpmn", definition.c.start_form.isnot(None))
    ).all()
    for definition_id, key, file_name, content_hash, start_form, spec_document in rows:
        name = _as_dict(start_form).get("form")
        if not name or "/" in name or not name.endswith(SUFFIX):
            continue
        linked = connection.execute(
            sa.select(link.c.form_version_id).where(
                link.c.definition_id == definition_id, link.c.form_name == name
            )
        ).scalar_one_or_none()
        if linked is None:  # a user task of the same version may have frozen the same form already
            schema = _read_json(folder / name)
            if schema is None:
                continue
            ui_schema = _read_json(folder / (name[: -len(SUFFIX)] + ".uischema.json"))
            version_id = _version_id(connection, name, schema, ui_schema, now)
            connection.execute(
                link.insert().values(definition_id=definition_id, form_name=name, form_version_id=version_id)
            )
        if _calls_other_files(file_name, spec_document):
            continue  # its callees' hashes are not stored: its next deployment is a new version
        frozen = dict(
            connection.execute(
                sa.select(link.c.form_name, form_version.c.content_hash)
                .join(form_version, form_version.c.id == link.c.form_version_id)
                .where(link.c.definition_id == definition_id)
            ).all()
        )
        new_hash = _frozen_hash(frozen)
        taken = connection.execute(
            sa.select(definition.c.id).where(
                definition.c.key == key,
                definition.c.content_hash == content_hash,
                definition.c.frozen_hash == new_hash,
                definition.c.id != definition_id,
            )
        ).first()
        if taken is None:  # another version already is this file with these forms: leave this one apart
            connection.execute(
                definition.update().where(definition.c.id == definition_id).values(frozen_hash=new_hash)
            )


def downgrade():
    pass  # data only (see above)
