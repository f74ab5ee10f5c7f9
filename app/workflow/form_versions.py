"""Forms frozen per deployment: a deployed version keeps the forms it was deployed with.

``forms/`` holds the forms being designed (the designer's form editor writes there). Deploying a diagram
freezes the forms its user tasks name: each form's schema and UI hints are stored once by content hash
(``FormVersion``) and linked to the deployed version (``DefinitionForm``). A task row names the frozen
version (``HumanTask.form_version_id``, set when the task is created), and renders and validates with it:
editing a form changes the form of the next deployment, never of a task already open. Migrating an instance
to another version moves its open tasks to that version's forms (``app.workflow.migration``).

Frozen forms and a deployment's links never change, so both are cached per app once read: the inboxes and
the task pages ask no query per task.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.clock import now
from app.extensions import db
from app.workflow.form_version_models import DefinitionForm, FormVersion
from app.workflow.forms import FormRegistry

_CACHE = "gridcase.form_versions"


def content_hash(schema: Any, ui_schema: Any) -> str:
    """The hash of a form's content: its schema and UI hints as canonical JSON (key order and spacing of the
    files do not count). The Alembic revision ``form_versions`` computes the same."""
    canonical = json.dumps([schema, ui_schema], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def frozen_hash(forms: dict[str, tuple[dict[str, Any], Any]], callees: dict[str, str] | None = None) -> str:
    """The hash of what a deployment froze besides its own file: its forms (``{name: (schema, UI hints)}``)
    and the files of the processes it calls (``{process key: file hash}``). The Alembic revision
    ``form_versions`` computes the same for deployments without calls."""
    entries = {f"form:{name}": content_hash(*content) for name, content in forms.items()}
    entries.update({f"call:{key}": digest for key, digest in (callees or {}).items()})
    text = "".join(f"{name}\x1f{digest}\x1e" for name, digest in sorted(entries.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FrozenForm:
    """One frozen form: share it, never change it (the validator is cached by the schema object)."""

    id: int
    name: str
    version: int
    schema: dict[str, Any]
    ui_schema: dict[str, Any] | None


class _Cache:
    """Per app (ids are per database): frozen forms by id, a deployment's ``{form name: version id}``."""

    def __init__(self) -> None:
        self.forms: dict[int, FrozenForm] = {}
        self.links: dict[int, dict[str, int]] = {}
        self.lock = threading.Lock()


def _cache() -> _Cache:
    extensions = current_app.extensions
    cache = extensions.get(_CACHE)
    if cache is None:
        cache = extensions.setdefault(_CACHE, _Cache())
    return cache


# -- freezing at deploy ------------------------------------------------------------------------------


def current_contents(names: Iterable[str], registry: FormRegistry) -> dict[str, tuple[dict[str, Any], Any]]:
    """``{name: (schema, UI hints)}`` of the forms as ``forms/`` holds them now (FormNotFound and
    FormSchemaError as the registry raises them)."""
    return {name: (registry.load(name), registry.ui_schema(name)) for name in sorted(set(names))}


def freeze(definition_id: int, contents: dict[str, tuple[dict[str, Any], Any]]) -> dict[str, FormVersion]:
    """Link deployment ``definition_id`` to a version of each form of ``contents``: the stored one with the
    same content, or a new version of that form."""
    versions = {name: _version_for(name, schema, ui) for name, (schema, ui) in contents.items()}
    db.session.add_all(
        DefinitionForm(definition_id=definition_id, form_name=name, form_version_id=version.id)
        for name, version in versions.items()
    )
    db.session.flush()
    return versions


def _version_for(name: str, schema: dict[str, Any], ui_schema: Any) -> FormVersion:
    digest = content_hash(schema, ui_schema)
    existing = db.session.execute(
        select(FormVersion).where(FormVersion.name == name, FormVersion.content_hash == digest)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    latest = db.session.execute(
        select(func.max(FormVersion.version)).where(FormVersion.name == name)
    ).scalar_one()
    version = FormVersion(
        name=name,
        version=(latest or 0) + 1,
        content_hash=digest,
        schema=schema,
        ui_schema=ui_schema,
        created_at=now(),
    )
    db.session.add(version)
    db.session.flush()
    return version


# -- reading (cached) ----------------------------------------------------------------------------------


def definition_forms(definition_id: int) -> dict[str, int]:
    """``{form name: frozen version id}`` of deployment ``definition_id``."""
    cache = _cache()
    links = cache.links.get(definition_id)
    if links is None:
        rows = db.session.execute(
            select(DefinitionForm.form_name, DefinitionForm.form_version_id).where(
                DefinitionForm.definition_id == definition_id
            )
        ).all()
        links = {name: version_id for name, version_id in rows}
        with cache.lock:
            cache.links[definition_id] = links
    return links


def version_id(definition_id: int, form_name: str | None) -> int | None:
    """The version of ``form_name`` deployment ``definition_id`` froze (None: no form, or none frozen)."""
    if not form_name:
        return None
    return definition_forms(definition_id).get(form_name)


def frozen_form(form_version_id: int) -> FrozenForm:
    """The frozen form ``form_version_id`` (read once per app)."""
    cache = _cache()
    form = cache.forms.get(form_version_id)
    if form is None:
        row = db.session.get(FormVersion, form_version_id)
        if row is None:
            raise LookupError(f"no form version {form_version_id}")
        form = FrozenForm(row.id, row.name, row.version, row.schema, row.ui_schema)
        with cache.lock:
            form = cache.forms.setdefault(form_version_id, form)
    return form


# -- the form editor's view -------------------------------------------------------------------------


@dataclass(frozen=True)
class FormVersionUse:
    """A stored version of a form and the deployed process versions that froze it."""

    version: int
    content_hash: str
    created_at: Any
    current: bool  # the same content as the file in forms/ now
    deployments: list[tuple[str, int]]  # (process key, version)


def history(name: str, current_hash: str | None) -> list[FormVersionUse]:
    """Every frozen version of form ``name``, newest first, with the deployments using each."""
    from app.workflow.models import ProcessDefinition

    versions = list(
        db.session.execute(
            select(FormVersion).where(FormVersion.name == name).order_by(FormVersion.version.desc())
        ).scalars()
    )
    uses: dict[int, list[tuple[str, int]]] = {}
    rows = db.session.execute(
        select(DefinitionForm.form_version_id, ProcessDefinition.key, ProcessDefinition.version)
        .join(ProcessDefinition, ProcessDefinition.id == DefinitionForm.definition_id)
        .where(DefinitionForm.form_name == name)
        .order_by(ProcessDefinition.key, ProcessDefinition.version)
    ).all()
    for version_id_, key, version in rows:
        uses.setdefault(version_id_, []).append((key, version))
    return [
        FormVersionUse(
            v.version, v.content_hash, v.created_at, v.content_hash == current_hash, uses.get(v.id, [])
        )
        for v in versions
    ]
