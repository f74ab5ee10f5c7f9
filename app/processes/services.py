"""Process definitions as people look at them: newest versions, versions of a key, running-instance counts.

Shared by the REST API (app/processes/api.py) and the designer pages (app/web/designer/), so both count the
same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.errors import NotFound
from app.extensions import db
from app.processes import camunda
from app.workflow import publication
from app.workflow.engine import ValidationRules
from app.workflow.models import InstanceStatus, ProcessDefinition, ProcessInstance


def running_counts(
    definition_ids: Iterable[int] | None = None, status: str = InstanceStatus.RUNNING
) -> dict[int, int]:
    """``{definition id: instances in status}`` (running by default); definitions with none are absent."""
    query = (
        select(ProcessInstance.definition_id, func.count())
        .where(ProcessInstance.status == status, ProcessInstance.is_test.is_(False))  # a test run is no work
        .group_by(ProcessInstance.definition_id)
    )
    if definition_ids is not None:
        query = query.where(ProcessInstance.definition_id.in_(list(definition_ids)))
    return {definition_id: count for definition_id, count in db.session.execute(query).all()}


def with_running_counts(definitions: list[ProcessDefinition]) -> list[ProcessDefinition]:
    """Set ``running_instances`` and ``awaiting_repair_instances`` (parked by an open incident: not running,
    not finished either, so counted apart rather than dropped) on each definition, as plain attributes for
    the schemas and templates."""
    ids = [d.id for d in definitions]
    counts = running_counts(ids)
    parked = running_counts(ids, InstanceStatus.ERROR)
    for definition in definitions:
        definition.running_instances = counts.get(definition.id, 0)
        definition.awaiting_repair_instances = parked.get(definition.id, 0)
    return definitions


def with_publication(definitions: list[ProcessDefinition]) -> list[ProcessDefinition]:
    """Set ``publication_status`` (published, draft, history: ``publication``) on each definition."""
    statuses: dict[int, str] = {}
    for key in {d.key for d in definitions}:
        statuses.update(publication.statuses(key))
    for definition in definitions:
        definition.publication_status = statuses.get(definition.id, publication.DRAFT)
    return definitions


def latest_definitions() -> list[ProcessDefinition]:
    """The newest version of every process (BPMN and DMN), by key."""
    newest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    rows = db.session.execute(
        select(ProcessDefinition)
        .join(newest, (newest.c.key == ProcessDefinition.key) & (newest.c.v == ProcessDefinition.version))
        .order_by(ProcessDefinition.key)
    ).scalars()
    return list(rows)


def definition_versions(key: str) -> list[ProcessDefinition]:
    """Every version of process ``key``, newest first (NotFound for an unknown key)."""
    rows = list(
        db.session.execute(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version.desc())
        ).scalars()
    )
    if not rows:
        raise NotFound(f"unknown process key '{key}'")
    return rows


@dataclass(frozen=True)
class ProcessSummary:
    """One process for the designer's list: its newest version and how much runs on all its versions."""

    key: str
    name: str
    kind: str
    file_name: str
    latest_version: int
    version_count: int
    running_instances: int
    awaiting_repair_instances: int  # parked by an open incident (待修复)
    deployed_at: datetime
    published_version: int | None  # the version new instances start on (None: drafts only)
    newer_draft: int | None  # the newest draft above the published version, if any


def process_summaries() -> list[ProcessSummary]:
    """Every process key with its newest version, number of versions and running instances (all versions)."""
    latest = latest_definitions()
    version_counts = dict(
        db.session.execute(select(ProcessDefinition.key, func.count()).group_by(ProcessDefinition.key)).all()
    )
    by_key_and_status = select(ProcessInstance.process_key, ProcessInstance.status, func.count()).group_by(
        ProcessInstance.process_key, ProcessInstance.status
    )
    counts = db.session.execute(
        by_key_and_status.where(
            ProcessInstance.status.in_([InstanceStatus.RUNNING, InstanceStatus.ERROR]),
            ProcessInstance.is_test.is_(False),
        )
    ).all()
    running_by_key = {key: n for key, status, n in counts if status == InstanceStatus.RUNNING}
    parked_by_key = {key: n for key, status, n in counts if status == InstanceStatus.ERROR}
    published = publication.summaries()
    none = publication.KeyPublication(None, None)
    return [
        ProcessSummary(
            key=d.key,
            name=d.name,
            kind=d.kind,
            file_name=d.file_name,
            latest_version=d.version,
            version_count=version_counts.get(d.key, 0),
            running_instances=running_by_key.get(d.key, 0),
            awaiting_repair_instances=parked_by_key.get(d.key, 0),
            deployed_at=d.deployed_at,
            published_version=published.get((d.key, d.kind), none).published_version,
            newer_draft=published.get((d.key, d.kind), none).newer_draft,
        )
        for d in latest
    ]


def camunda_vocabulary(rules: ValidationRules) -> camunda.Vocabulary:
    """What a Camunda diagram's conversion may name: the deploy rules' roles and forms, the units."""
    from app.units.models import Unit

    return camunda.Vocabulary(
        roles=frozenset(rules.known_roles),
        has_form=lambda name: bool(rules.form_exists(f"{name}.schema.json")),
        units=frozenset(db.session.execute(select(Unit.code)).scalars()),
    )
