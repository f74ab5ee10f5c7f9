"""Migrating running instances to another version of their process: dry run, migrate (undo: migration_undo).

Each instance moves under its row lock, in the caller's transaction (a batch: one transaction per instance,
the edge commits each, see ``migrate_each``), audited as ``instance.migrated`` with the versions. The move
itself is ``version_change``'s (SpiffWorkflow's diff and migrate); here are the selection, the rules
around it (who may, which instances), the human tasks and timers kept consistent, and the record that lets
an undo restore the previous state and version for ``MIGRATION_UNDO_HOURS``.

An instance parked with an incident (status ``error``) moves like a running one: that is how a design fix
reaches it. The migration does not resolve the incident; a retry does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from app import runtime
from app.audit.services import Actor, record
from app.auth.roles import Role
from app.clock import as_utc, now
from app.errors import NotFound
from app.extensions import db
from app.workflow import form_versions, instances, rows
from app.workflow.migration_messages import message
from app.workflow.migration_models import InstanceMigration
from app.workflow.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance
from app.workflow.version_change import CannotMove, MoveCheck, Obstacle, VersionDiff, check, move

# Statuses an instance can be migrated in: still to run, parked with an incident, or suspended.
MIGRATABLE = (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.SUSPENDED)

# Result codes besides version_change's obstacles.
MOVABLE = "movable"
MIGRATED = "migrated"
SAME_VERSION = "same_version"
FINISHED = "finished"
OTHER_PROCESS = "other_process"
FORBIDDEN = "forbidden"
FAILED = "failed"


@dataclass(frozen=True)
class Selection:
    """Which instances of ``process_key`` to move to ``target_version``.

    Without ``source_versions`` every version but the target; without ``statuses`` every status that can
    move (``MIGRATABLE``). ``instance_ids`` names instances: each is listed, those that cannot move with
    the reason (another process, ended, already on the target). ``after_id``/``limit``: one page, by id.
    """

    process_key: str
    target_version: int
    source_versions: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    business_key: str | None = None
    instance_ids: tuple[int, ...] = ()
    after_id: int | None = None
    limit: int | None = None


@dataclass
class InstanceResult:
    """One instance's answer: ``code`` is ``movable``/``migrated``, or why not (with the element)."""

    instance_id: int
    business_key: str | None
    case_id: int | None
    status: str
    from_version: int
    to_version: int
    code: str
    message: str
    element_id: str | None = None
    element_name: str | None = None
    active_element_ids: list[str] = field(default_factory=list)
    changed_elements: dict[str, list[str]] = field(default_factory=dict)
    migration_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.code in (MOVABLE, MIGRATED)


@dataclass(frozen=True)
class Target:
    """The version instances move to, as plain values: a batch commits after every instance, which would
    make an ORM row read itself again each time."""

    id: int
    key: str
    version: int


@dataclass
class Person:
    """Who migrates (an ``Actor``), as plain values, for the same reason."""

    id: int
    username: str
    role: str


# -- selection ------------------------------------------------------------------------------------------


def target_definition(process_key: str, version: int) -> ProcessDefinition:
    definition = db.session.execute(
        select(ProcessDefinition).where(
            ProcessDefinition.key == process_key, ProcessDefinition.version == version
        )
    ).scalar_one_or_none()
    if definition is None or definition.kind != "bpmn":
        raise NotFound(f"process '{process_key}' has no version {version}")
    return definition


def _filtered(selection: Selection, target: ProcessDefinition) -> Any:
    query = select(ProcessInstance.id)
    if selection.instance_ids:
        return query.where(ProcessInstance.id.in_(selection.instance_ids))  # listed, reasons included
    query = query.where(
        ProcessInstance.process_key == selection.process_key,
        ProcessInstance.status.in_(selection.statuses or MIGRATABLE),
        ProcessInstance.definition_id != target.id,
    )
    if selection.source_versions:
        versions = select(ProcessDefinition.id).where(
            ProcessDefinition.key == selection.process_key,
            ProcessDefinition.version.in_(selection.source_versions),
        )
        query = query.where(ProcessInstance.definition_id.in_(versions))
    if selection.business_key is not None:
        query = query.where(ProcessInstance.business_key == selection.business_key)
    return query


def count_selected(selection: Selection, target: ProcessDefinition) -> int:
    """How many instances the selection names, all pages."""
    subquery = _filtered(selection, target).subquery()
    return int(db.session.execute(select(func.count()).select_from(subquery)).scalar_one())


def selected_ids(selection: Selection, target: ProcessDefinition) -> list[int]:
    """The ids of the selection's page (``after_id``, ``limit``), in id order."""
    query = _filtered(selection, target)
    if selection.after_id is not None:
        query = query.where(ProcessInstance.id > selection.after_id)
    query = query.order_by(ProcessInstance.id)
    if selection.limit is not None:
        query = query.limit(selection.limit)
    return list(db.session.execute(query).scalars())


# -- checks ---------------------------------------------------------------------------------------------


class DiffCache:
    """Version diffs of one run, by (source, target) definition id: computed once per pair."""

    def __init__(self) -> None:
        self._diffs: dict[tuple[int, int], VersionDiff] = {}

    def get(self, source_id: int, target_id: int) -> VersionDiff:
        key = (source_id, target_id)
        diff = self._diffs.get(key)
        if diff is None:
            diff = self._diffs[key] = VersionDiff(
                instances.loaded_spec(source_id), instances.loaded_spec(target_id)
            )
        return diff


def may_migrate(actor: Any, instance: ProcessInstance) -> bool:
    """Admins any instance; designers only instances that belong to no case (their own test runs). No actor:
    the server's console (``flask instances migrate``), which may do what an admin may."""
    if actor is None:
        return True
    role = getattr(actor, "role", None)
    return role == Role.ADMIN or (role == Role.DESIGNER and instance.case_id is None)


def definition_versions() -> dict[int, int]:
    """Every definition's version number, by id."""
    return dict(db.session.execute(select(ProcessDefinition.id, ProcessDefinition.version)).all())


def _result(
    instance: ProcessInstance,
    target: ProcessDefinition | Target,
    versions: dict[int, int],
    code: str,
    lang: str,
    **kw: Any,
) -> InstanceResult:
    params = {
        "to_version": target.version,
        "status": instance.status,
        "process_key": instance.process_key,
        "element_id": kw.get("element_id"),
        "element_name": kw.get("element_name") or kw.get("element_id"),
        "error": kw.pop("error", None),
    }
    return InstanceResult(
        instance_id=instance.id,
        business_key=instance.business_key,
        case_id=instance.case_id,
        status=instance.status,
        from_version=versions.get(instance.definition_id, 0),
        to_version=target.version,
        code=code,
        message=message(code, lang, **params),
        **kw,
    )


def _refusal(instance: ProcessInstance, target: ProcessDefinition | Target, actor: Any) -> str | None:
    """Why ``instance`` is not a candidate at all (before looking at its state), or None."""
    if instance.process_key != target.key:
        return OTHER_PROCESS
    if not may_migrate(actor, instance):
        return FORBIDDEN
    if instance.status not in MIGRATABLE:
        return FINISHED
    if instance.definition_id == target.id:
        return SAME_VERSION
    return None


def _checked(
    instance: ProcessInstance,
    target: ProcessDefinition | Target,
    versions: dict[int, int],
    outcome: MoveCheck,
    lang: str,
    ok_code: str,
) -> InstanceResult:
    if outcome.movable:
        return _result(
            instance,
            target,
            versions,
            ok_code,
            lang,
            active_element_ids=outcome.active_element_ids,
            changed_elements=outcome.changed_active,
        )
    return _obstacle_result(instance, target, versions, outcome.obstacles, outcome.active_element_ids, lang)


def _obstacle_result(
    instance: ProcessInstance,
    target: ProcessDefinition | Target,
    versions: dict[int, int],
    obstacles: list[Obstacle],
    active: list[str],
    lang: str,
) -> InstanceResult:
    first = obstacles[0]  # the one to name; the others are usually the same story further back
    return _result(
        instance,
        target,
        versions,
        first.code,
        lang,
        element_id=first.element_id,
        element_name=first.element_name,
        active_element_ids=active,
    )


def dry_run(selection: Selection, actor: Any, lang: str = "zh-CN") -> list[InstanceResult]:
    """Per instance of the selection's page: whether it can move to the target version, and why not.
    Reads only (no lock: a step meanwhile may change the answer; ``migrate`` checks again under the lock)."""
    target = target_definition(selection.process_key, selection.target_version)
    versions, diffs = definition_versions(), DiffCache()
    results = []
    for instance_id in selected_ids(selection, target):
        instance = db.session.execute(
            select(ProcessInstance)
            .options(undefer(ProcessInstance.state))
            .where(ProcessInstance.id == instance_id)
        ).scalar_one()
        refusal = _refusal(instance, target, actor)
        if refusal is not None:
            results.append(_result(instance, target, versions, refusal, lang))
            continue
        engine = instances.restored_engine(instance.definition_id, instance.state)
        outcome = check(engine, diffs.get(instance.definition_id, target.id))
        results.append(_checked(instance, target, versions, outcome, lang, MOVABLE))
    return results


# -- migrating ------------------------------------------------------------------------------------------


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def migrate_instance(
    instance_id: int,
    target: ProcessDefinition | Target,
    actor: Actor | None,
    *,
    lang: str = "zh-CN",
    batch_id: str | None = None,
    diffs: DiffCache | None = None,
    versions: dict[int, int] | None = None,
) -> InstanceResult:
    """Move one instance to ``target`` under its lock, in the caller's transaction (which commits it)."""
    versions = versions if versions is not None else definition_versions()
    instance = instances.lock_instance(instance_id)
    refusal = _refusal(instance, target, actor)
    if refusal is not None:
        return _result(instance, target, versions, refusal, lang)
    engine = instances.restored_engine(instance.definition_id, instance.state)
    try:
        outcome = move(engine, (diffs or DiffCache()).get(instance.definition_id, target.id))
    except CannotMove as exc:
        return _checked(instance, target, versions, exc.checked, lang, MIGRATED)
    from_definition_id, previous_state = instance.definition_id, instance.state
    previous_timer = instance.next_timer_at
    rows.update([instance], {"definition_id": target.id})  # Core, as a step writes: no ORM flush
    step = instances.persist_replaced_state(instance, engine, actor)
    relabelled = relabel_open_tasks(step.open_tasks, engine, target.id)
    timestamp = now()
    migration: InstanceMigration = rows.insert(
        InstanceMigration,
        [
            {
                "instance_id": instance.id,
                "batch_id": batch_id,
                "from_definition_id": from_definition_id,
                "to_definition_id": target.id,
                "previous_state": previous_state,
                "previous_next_timer_at": previous_timer,
                "migrated_state_hash": state_hash(instance.state),
                "migrated_at": timestamp,
                "migrated_by_id": actor.id if actor is not None else None,
                "undo_until": timestamp + timedelta(hours=runtime.settings().migration_undo_hours),
            }
        ],
        unset=("undone_at", "undone_by_id"),
    )[0]
    record(
        "instance.migrated",
        entity_type="process_instance",
        entity_id=instance.id,
        actor=actor,
        case_id=instance.case_id,
        instance_id=instance.id,
        before={"version": versions.get(from_definition_id), "definition_id": from_definition_id},
        after={"version": target.version, "definition_id": target.id},
        data={
            "migration_id": migration.id,
            "batch_id": batch_id,
            "process_key": target.key,
            "active_element_ids": outcome.active_element_ids,
            "changed_elements": outcome.changed_active,
            "relabelled_task_ids": relabelled,
            "cancelled_task_ids": [t.id for t in step.cancelled_tasks],
            "created_task_ids": [t.id for t in step.created_tasks],
            "next_timer_at": iso(instance.next_timer_at),
            "undo_until": migration.undo_until.isoformat(),
        },
    )
    result = _checked(instance, target, versions, outcome, lang, MIGRATED)
    result.migration_id = migration.id
    return result


def iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def relabel_open_tasks(open_tasks: list[HumanTask], engine: Any, definition_id: int) -> list[int]:
    """Open tasks that stay (same element, same task id) take the new version's name, form (the version of it
    the new deployment froze), lane, roles and case status; who holds them and who they are offered to stay
    as they are."""
    ready = {t.task_id: t for t in engine.ready_user_tasks()}
    relabelled = []
    for row in open_tasks:
        task = ready.get(row.spiff_task_id)
        if task is None:
            continue
        roles = [r.strip() for r in task.properties.get("candidateRoles", "").split(",") if r.strip()]
        form_key = task.properties.get("formJsonSchemaFilename")
        wanted = {
            "name": task.name,
            "form_key": form_key,
            "form_version_id": form_versions.version_id(task.definition_id or definition_id, form_key),
            "lane": task.lane,
            "candidate_roles": HumanTask.join_roles(roles),
            "case_status": task.properties.get("caseStatus"),
        }
        changes = {k: v for k, v in wanted.items() if getattr(row, k) != v}
        if changes:
            rows.update([row], changes)
            relabelled.append(row.id)
    return relabelled


def migrate_each(
    instance_ids: Iterable[int],
    target: ProcessDefinition | Target,
    actor: Actor | None,
    settle: Callable[[bool], None],
    *,
    lang: str = "zh-CN",
    batch_id: str | None = None,
) -> Iterator[InstanceResult]:
    """Migrate the instances one by one, each in its own transaction: ``settle(True)`` (the edge commits)
    after each moved or refused one, ``settle(False)`` (the edge rolls back) after one that failed, which
    is reported ``failed`` with the error and does not stop the others."""
    diffs, versions = DiffCache(), definition_versions()
    target = Target(target.id, target.key, target.version)
    person = Person(actor.id, actor.username, getattr(actor, "role", "")) if actor is not None else None
    for instance_id in instance_ids:
        try:
            result = migrate_instance(
                instance_id, target, person, lang=lang, batch_id=batch_id, diffs=diffs, versions=versions
            )
        except Exception as exc:  # one broken instance must not stop the batch: reported, rolled back
            settle(False)
            yield _failed(instance_id, target, versions, exc, lang)
            continue
        settle(True)
        yield result


def _failed(
    instance_id: int, target: ProcessDefinition | Target, versions: dict[int, int], exc: Exception, lang: str
) -> InstanceResult:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist") from exc
    return _result(instance, target, versions, FAILED, lang, error=str(exc) or type(exc).__name__)


def new_batch_id() -> str:
    return str(uuid.uuid4())
