"""Deploy BPMN/DMN files as versioned process definitions (versioned by content hash).

A deployment is a draft until published (``publication``); ``publish=True`` (the default: the shipped
folder, ``flask deploy``, the API) publishes a new version at once, as a release. The studio's saves pass
``publish=False``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from app import runtime
from app.audit.services import Actor, record
from app.clock import now
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.workflow import form_versions, operators, publication
from app.workflow.engine import DeploymentError, ParsedProcess, ValidationRules
from app.workflow.forms import FormNotFound, FormSchemaError
from app.workflow.models import ProcessDefinition
from app.workflow.parse_memo import parsed_documents

FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,150}\.(bpmn|dmn)$")
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class DeployResult:
    definition: ProcessDefinition
    created: bool
    warnings: list[dict[str, Any]] = field(default_factory=list)  # reported by the checks, not refusing


def _other_documents(exclude_file: str) -> dict[str, bytes]:
    """The deployed XML of every other file, so call activities and DMN references resolve: its published
    version (a draft of a callee is not frozen into a caller), or its newest when none is published."""
    newest = (
        select(ProcessDefinition.file_name, func.max(ProcessDefinition.id).label("id"))
        .group_by(ProcessDefinition.file_name)
        .subquery()
    )
    chosen = dict(db.session.execute(select(newest.c.file_name, newest.c.id)).all())
    published_ids = publication.published_ids()
    if published_ids:
        for file_name, definition_id in db.session.execute(
            select(ProcessDefinition.file_name, func.max(ProcessDefinition.id))
            .where(ProcessDefinition.id.in_(published_ids))
            .group_by(ProcessDefinition.file_name)
        ).all():
            chosen[file_name] = definition_id
    rows = db.session.execute(
        select(ProcessDefinition.file_name, ProcessDefinition.bpmn_xml).where(
            ProcessDefinition.id.in_(list(chosen.values()))
        )
    ).all()
    return {name: xml.encode("utf-8") for name, xml in rows if name != exclude_file}


def validate_file(file_name: str, content: bytes, rules: ValidationRules) -> list[ParsedProcess]:
    """Every check ``deploy_file`` makes, storing nothing: the processes ``content`` defines, or InvalidInput
    naming the file, the element and the reason (the designer's validate button runs exactly this)."""
    return _parsed(file_name, content, rules)[0]


def _parsed(
    file_name: str, content: bytes, rules: ValidationRules
) -> tuple[list[ParsedProcess], dict[str, bytes]]:
    """``validate_file``, with the documents the file was parsed with (itself and every deployed file)."""
    if not FILE_NAME.match(file_name):
        raise InvalidInput("bad file name", {"file": f"{file_name!r}: expected name.bpmn or name.dmn"})
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput("file too large", {"file": f"{len(content)} bytes, the limit is {MAX_FILE_BYTES}"})
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file is not UTF-8 text", {"file": str(exc)}) from exc
    documents = {**_other_documents(file_name), file_name: content}
    try:
        return parsed_documents(file_name, documents, rules), documents
    except DeploymentError as exc:
        errors = [p for p in getattr(exc, "problems", [exc]) if p.severity == "error"]
        more = f" (and {len(errors) - 1} more problems: see details.problems)" if len(errors) > 1 else ""
        raise InvalidInput(f"{exc}{more}", exc.as_dict()) from exc


def deploy_file(
    file_name: str,
    content: bytes,
    rules: ValidationRules,
    actor: Actor | None = None,
    *,
    publish: bool = True,
) -> list[DeployResult]:
    """Parse, validate and store ``content``, freezing the forms its user tasks name and the processes it
    calls. Same bytes, forms and callees as an existing version: that version, unchanged; the same bytes
    after a form or a called process changed: a new version (``form_versions``, ``call_binding``).

    ``publish``: a new version is published at once; an existing one only when it is a draft newer than
    the published version (so deploying the folder again never undoes a rollback). Otherwise a draft."""
    parsed, documents = _parsed(file_name, content, rules)
    text = content.decode("utf-8")
    content_hash = hashlib.sha256(content).hexdigest()

    if file_name.endswith(".dmn"):
        return [
            _store(
                file_name.rsplit(".", 1)[0],
                _dmn_name(content) or file_name,
                file_name,
                "dmn",
                text,
                content_hash,
                {},
                [],
                [],
                {},
                {},
                actor,
                publish=publish,
            )
        ]
    return [
        replace(
            _store(
                p.key,
                p.name,
                file_name,
                "bpmn",
                text,
                content_hash,
                p.spec_document,
                [ut.__dict__ for ut in p.user_tasks],
                p.start_messages,
                _form_contents(p),
                _callee_hashes(p, documents),
                actor,
                start_form=p.start_form,
                publish=publish,
            ),
            warnings=[w.as_dict() for w in p.warnings],
        )
        for p in parsed
    ]


def _dmn_name(content: bytes) -> str | None:
    """What people call a DMN file: its definitions' name, else its first decision's."""
    root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    names = [root.get("name")] + [d.get("name") for d in root if str(d.tag).endswith("}decision")]
    return next((n.strip()[:200] for n in names if n and n.strip()), None)


def _form_contents(parsed: ParsedProcess) -> dict[str, tuple[dict[str, Any], Any]]:
    """The forms the process's user tasks and its start event name, as ``forms/`` holds them now: what its
    deployment freezes (the 发起流程 page of this version keeps its start form as deployed)."""
    names = [t.properties.get("formJsonSchemaFilename") for t in parsed.user_tasks]
    if parsed.start_form:
        names.append(parsed.start_form["form"])
    try:
        return form_versions.current_contents([n for n in names if n], runtime.forms())
    except (FormNotFound, FormSchemaError) as exc:
        raise InvalidInput(f"{parsed.file_name}: {exc}", {"form": str(exc)}) from exc


def _callee_hashes(parsed: ParsedProcess, documents: dict[str, bytes]) -> dict[str, str]:
    """``{called process: hash of the file it was parsed from}``: the callees frozen with the caller (its
    ``deployment``-bound calls run them), so deploying the same caller after a callee changed is a new
    version that calls the new callee."""
    called = parsed.spec_document.get("subprocess_specs", {})
    files = {name: sub.get("file") for name, sub in called.items()}
    return {
        name: hashlib.sha256(documents[file]).hexdigest()
        for name, file in files.items()
        if file in documents and file != parsed.file_name
    }


def _store(
    key: str,
    name: str,
    file_name: str,
    kind: str,
    text: str,
    content_hash: str,
    spec_document: dict[str, Any],
    user_tasks: list[dict[str, Any]],
    start_messages: list[str],
    forms: dict[str, tuple[dict[str, Any], Any]],
    callees: dict[str, str],
    actor: Actor | None,
    start_form: dict[str, Any] | None = None,
    publish: bool = True,
) -> DeployResult:
    frozen_hash = form_versions.frozen_hash(forms, callees)
    existing = db.session.execute(
        select(ProcessDefinition).where(
            ProcessDefinition.key == key,
            ProcessDefinition.content_hash == content_hash,
            ProcessDefinition.frozen_hash == frozen_hash,
        )
    ).scalar_one_or_none()
    if existing is not None:
        if publish and _is_newer_draft(existing):
            publication.publish(existing, actor, at_deploy=True)
        return DeployResult(existing, created=False)
    latest = db.session.execute(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key)
    ).scalar_one()
    definition = ProcessDefinition(
        key=key,
        name=name,
        version=(latest or 0) + 1,
        content_hash=content_hash,
        frozen_hash=frozen_hash,
        file_name=file_name,
        kind=kind,
        bpmn_xml=text,
        spec_document=spec_document,
        user_tasks=user_tasks,
        start_messages=start_messages,
        start_form=start_form,
        deployed_at=now(),
        deployed_by_id=getattr(actor, "id", None),
    )
    db.session.add(definition)
    db.session.flush()
    frozen = form_versions.freeze(definition.id, forms)
    record(
        "process.deployed",
        entity_type="process_definition",
        entity_id=definition.id,
        actor=actor,
        after={
            "key": key,
            "version": definition.version,
            "content_hash": content_hash,
            "file": file_name,
            "forms": {name: version.version for name, version in sorted(frozen.items())},
            "published": publish,
        },
    )
    if publish:
        publication.publish(definition, actor, at_deploy=True)
    return DeployResult(definition, created=True)


def _is_newer_draft(definition: ProcessDefinition) -> bool:
    """Never published, and newer than the published version (or none is published)."""
    if publication.ever_published(definition.id):
        return False
    published = publication.current(definition.key, definition.kind)
    return published is None or published.version < definition.version


def deploy_folder(
    folder: Path, rules: ValidationRules, actor: Actor | None = None, *, publish: bool = True
) -> list[DeployResult]:
    """Deploy every .dmn then every .bpmn in ``folder`` (DMN first: diagrams may call decisions); the
    folder is a release, published at once unless ``publish`` is False."""
    files = sorted(folder.glob("*.dmn")) + sorted(folder.glob("*.bpmn"))
    results: list[DeployResult] = []
    for path in files:
        results.extend(deploy_file(path.name, path.read_bytes(), rules, actor, publish=publish))
    return results


def published_definition(key: str) -> ProcessDefinition:
    """The version of BPMN process ``key`` new instances start on. NotFound for an unknown key, and for a
    key with drafts only ("流程 X 尚未发布")."""
    definition = publication.current(key)
    if definition is not None:
        return definition
    drafts = db.session.execute(
        select(ProcessDefinition.id).where(ProcessDefinition.key == key, ProcessDefinition.kind == "bpmn")
    ).first()
    if drafts is not None:
        raise NotFound(f"流程 {key} 尚未发布", {"process_key": "drafts only: publish a version"})
    raise NotFound(f"unknown process key '{key}'", {"process_key": "no deployed process has this key"})


# The name every helper starting new instances calls: "the version new instances start on".
latest_definition = published_definition


def definition_xml(key: str, version: int) -> str:
    definition = db.session.execute(
        select(ProcessDefinition)
        .options(undefer(ProcessDefinition.bpmn_xml))
        .where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"process '{key}' has no version {version}")
    return definition.bpmn_xml


def default_rules(form_exists: Any, known_roles: set[str]) -> ValidationRules:
    return ValidationRules(operator_names=operators.names(), form_exists=form_exists, known_roles=known_roles)
