"""Editing the task forms in the forms folder: read the files as written, check them, save them.

A diagram names its form by file name (``formJsonSchemaFilename``); the files are the forms being designed.
Deploying a diagram freezes the forms it names (app/workflow/form_versions.py), and a task renders and
validates with its deployment's frozen form. So saving a form is writing its file, and the change reaches the
next deployment of the processes using it; open tasks keep the form of their version. What makes the save
safe:

- the same checks as loading a form (``validate_schema_document``): a broken schema is never written;
- optimistic locking: the editor sends the hash of the files it opened, a save over someone else's change
  is a 409;
- the write is atomic and transactional: the new text goes to a temporary file next to the form, which
  replaces the form (``os.replace``) only when the transaction carrying the ``form.saved`` audit event
  commits; on rollback the temporary file is removed. The audit event holds the previous and the new
  documents, so the history of every form (and any earlier text) is in the audit trail.

The forms folder must be writable by the web process (and shared by every web process).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app import runtime
from app.audit.services import record
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.processes.services import latest_definitions
from app.workflow import form_versions
from app.workflow.forms import FORM_NAME_RE, FormRegistry, validate_schema_document

SCHEMA_SUFFIX = ".schema.json"
UI_SUFFIX = ".uischema.json"
MAX_FORM_BYTES = 256 * 1024
# What a new form starts with: the shape every form must have (see app/workflow/forms.py).
NEW_FORM_TEMPLATE = """{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "新表单 (New form)",
  "type": "object",
  "additionalProperties": false,
  "required": ["note"],
  "properties": {
    "note": {"title": "备注 (Note)", "type": "string", "maxLength": 1000}
  }
}
"""


@dataclass(frozen=True)
class FormSource:
    name: str
    schema_text: str
    ui_text: str  # "" when the form has no UI hints file
    exists: bool
    version_hash: str  # of both files as they are now: what a save must start from


@dataclass(frozen=True)
class FormProblem:
    document: str  # "schema" | "uischema"
    message: str


@dataclass(frozen=True)
class FormUse:
    process_key: str
    version: int
    element_id: str
    task_name: str


@dataclass(frozen=True)
class FormSaved:
    name: str
    created: bool
    changed: bool
    version_hash: str


class FormRejected(InvalidInput):
    def __init__(self, problems: list[FormProblem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the form",
            {"problems": [{"document": p.document, "message": p.message} for p in problems]},
        )
        self.problems = problems


def _registry() -> FormRegistry:
    registry = runtime.forms()
    return registry


def _paths(name: str) -> tuple[Path, Path]:
    """The schema and UI-hints files of form ``name`` (NotFound for a name that is not a form name)."""
    if not FORM_NAME_RE.fullmatch(name):
        raise NotFound(f"no form named {name!r}", {"name": "expected e.g. 'triage.schema.json'"})
    folder = _registry().folder
    return folder / name, folder / (name[: -len(SCHEMA_SUFFIX)] + UI_SUFFIX)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _version_hash(schema_text: str | None, ui_text: str | None) -> str:
    digest = hashlib.sha256()
    for text in (schema_text, ui_text):
        digest.update(b"\x00" if text is None else b"\x01" + text.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def form_names() -> list[str]:
    return _registry().names()


def load_form_source(name: str, *, allow_new: bool = False) -> FormSource:
    """The files of form ``name`` as written; with ``allow_new``, a starting template for a new form."""
    schema_path, ui_path = _paths(name)
    schema_text, ui_text = _read(schema_path), _read(ui_path)
    if schema_text is None and not allow_new:
        raise NotFound(f"no form named {name!r}")
    return FormSource(
        name=name,
        schema_text=schema_text if schema_text is not None else NEW_FORM_TEMPLATE,
        ui_text=ui_text or "",
        exists=schema_text is not None,
        version_hash=_version_hash(schema_text, ui_text),
    )


def check_form(schema_text: str, ui_text: str) -> tuple[list[FormProblem], dict[str, Any] | None]:
    """Problems with the two documents (none: usable) and the parsed schema when it is valid JSON."""
    problems: list[FormProblem] = []
    schema: dict[str, Any] | None = None
    for document, text in (("schema", schema_text), ("uischema", ui_text)):
        if len(text.encode("utf-8")) > MAX_FORM_BYTES:
            problems.append(FormProblem(document, f"larger than {MAX_FORM_BYTES} bytes"))
    if problems:
        return problems, None
    try:
        parsed = json.loads(schema_text)
    except ValueError as exc:
        problems.append(FormProblem("schema", f"not valid JSON: {exc}"))
    else:
        problems.extend(FormProblem("schema", message) for message in validate_schema_document(parsed))
        schema = parsed if isinstance(parsed, dict) else None
    if ui_text.strip():
        try:
            ui = json.loads(ui_text)
        except ValueError as exc:
            problems.append(FormProblem("uischema", f"not valid JSON: {exc}"))
        else:
            if not isinstance(ui, dict):
                problems.append(FormProblem("uischema", "UI hints must be a JSON object"))
            elif schema is not None:
                declared = set(schema.get("properties") or {})
                order = ui.get("ui:order", [])
                unknown = [f for f in order if isinstance(f, str) and f not in declared and f != "*"]
                if unknown:
                    problems.append(FormProblem("uischema", f"ui:order names undeclared fields: {unknown}"))
    return problems, schema


def _document(text: str | None) -> Any:
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # a file someone broke by hand: keep its text in the audit trail as it was


def save_form(name: str, schema_text: str, ui_text: str, base_hash: str, actor: Any) -> FormSaved:
    """Check and save form ``name`` (new or existing) from the texts the editor sends.

    ``base_hash`` is the ``version_hash`` the editor opened; if the files changed since, Conflict. Raises
    FormRejected with every problem and writes nothing. The files are replaced when the caller commits.
    """
    schema_path, ui_path = _paths(name)
    old_schema, old_ui = _read(schema_path), _read(ui_path)
    current_hash = _version_hash(old_schema, old_ui)
    if base_hash != current_hash:
        raise Conflict(
            f"form {name!r} was changed since you opened it: reload it and apply your change again",
            {"base_hash": "not the current version of the form"},
        )
    problems, _schema = check_form(schema_text, ui_text)
    if problems:
        raise FormRejected(problems)
    new_schema = _with_final_newline(schema_text)
    new_ui = _with_final_newline(ui_text) if ui_text.strip() else None
    changed = (new_schema, new_ui) != (old_schema, old_ui)
    if changed:
        _stage(schema_path, new_schema)
        if new_ui != old_ui:
            _stage(ui_path, new_ui)
        record(
            "form.saved",
            entity_type="form",
            entity_id=name,
            actor=actor,
            before=None
            if old_schema is None
            else {"hash": current_hash, "schema": _document(old_schema), "uischema": _document(old_ui)},
            after={
                "hash": _version_hash(new_schema, new_ui),
                "schema": _document(new_schema),
                "uischema": _document(new_ui),
            },
        )
    return FormSaved(
        name, created=old_schema is None, changed=changed, version_hash=_version_hash(new_schema, new_ui)
    )


def _with_final_newline(text: str) -> str:
    return text.rstrip() + "\n"


def form_uses() -> dict[str, list[FormUse]]:
    """``{form name: user tasks naming it}`` in the newest version of every deployed process."""
    uses: dict[str, list[FormUse]] = {}
    for definition in latest_definitions():
        for task in definition.user_tasks or []:
            form = (task.get("properties") or {}).get("formJsonSchemaFilename")
            if form:
                uses.setdefault(form, []).append(
                    FormUse(
                        definition.key, definition.version, task.get("element_id", ""), task.get("name", "")
                    )
                )
    return uses


def definitions_using(name: str) -> list[FormUse]:
    return form_uses().get(name, [])


def form_history(source: FormSource) -> list[form_versions.FormVersionUse]:
    """The deployed versions of the form (newest first, with the process versions that froze each); the one
    with the content of the file as it is now is marked ``current``."""
    return form_versions.history(source.name, _content_hash(source) if source.exists else None)


def _content_hash(source: FormSource) -> str | None:
    try:
        schema = json.loads(source.schema_text)
        ui = json.loads(source.ui_text) if source.ui_text.strip() else None
    except ValueError:
        return None
    return form_versions.content_hash(schema, ui)


# --- files that change with the transaction -------------------------------------------------------

_STAGED = "gridcase.designer.staged_files"


def _stage(path: Path, text: str | None) -> None:
    """Replace ``path`` with ``text`` (None: remove it) when the current transaction commits.

    The text is written and synced to a temporary file in the same folder now, so the commit-time step is a
    rename, which is atomic: a reader sees the old file or the new one, never half of one.
    """
    # Begin the transaction now, so a rollback of it always comes (and removes the temporary file).
    db.session.connection()
    temporary: Path | None = None
    if text is not None:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        temporary = Path(name)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        temporary.chmod(0o644)
    db.session.info.setdefault(_STAGED, []).append((temporary, path))


def _apply_staged(session: Session) -> None:
    for temporary, path in session.info.pop(_STAGED, []):
        if temporary is None:
            path.unlink(missing_ok=True)
        else:
            os.replace(temporary, path)


def _discard_staged(session: Session) -> None:
    for temporary, _path in session.info.pop(_STAGED, []):
        if temporary is not None:
            temporary.unlink(missing_ok=True)


event.listen(Session, "after_commit", _apply_staged)
event.listen(Session, "after_rollback", _discard_staged)
