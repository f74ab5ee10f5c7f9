"""Undoing a migration of a running instance (``app.workflow.migration``): the previous state and version
come back, under the instance lock, if nothing happened to the instance since and within
``MIGRATION_UNDO_HOURS``; after that the scheduler's round drops the kept state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from app.audit.services import Actor, record
from app.clock import as_utc, now
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.workflow import instances, rows
from app.workflow.migration import (
    FORBIDDEN,
    MIGRATABLE,
    definition_versions,
    iso,
    may_migrate,
    relabel_open_tasks,
    state_hash,
)
from app.workflow.migration_messages import message
from app.workflow.migration_models import InstanceMigration
from app.workflow.models import ProcessInstance

UNDONE = "undone"
ALREADY_UNDONE = "already_undone"
SUPERSEDED = "superseded"
EXPIRED = "expired"
STEPPED = "stepped"
ENDED = "ended"


@dataclass
class UndoResult:
    migration_id: int
    instance_id: int
    code: str
    message: str
    from_version: int
    to_version: int

    @property
    def ok(self) -> bool:
        return self.code == UNDONE


def migration_or_404(migration_id: int) -> InstanceMigration:
    migration = db.session.get(InstanceMigration, migration_id)
    if migration is None:
        raise NotFound(f"instance migration {migration_id} does not exist")
    return migration


def _undo_refusal(migration: InstanceMigration, instance: ProcessInstance) -> str | None:
    if migration.undone_at is not None:
        return ALREADY_UNDONE
    latest = db.session.execute(
        select(func.max(InstanceMigration.id)).where(InstanceMigration.instance_id == instance.id)
    ).scalar_one()
    if latest != migration.id or instance.definition_id != migration.to_definition_id:
        return SUPERSEDED
    if instance.status not in MIGRATABLE:  # restoring a state would give an ended instance open tasks
        return ENDED
    if as_utc(migration.undo_until) <= now() or migration.previous_state is None:
        return EXPIRED
    if state_hash(instance.state) != migration.migrated_state_hash:
        return STEPPED
    return None


def undo(migration_id: int, actor: Actor | None, lang: str = "zh-CN") -> UndoResult:
    """Restore the state and version an instance had before migration ``migration_id``, under its lock, if
    nothing happened to it since and the undo period has not ended; otherwise the reason, nothing changed
    (``forbidden`` for a designer on an instance of a case)."""
    migration = migration_or_404(migration_id)
    instance = instances.lock_instance(migration.instance_id)
    versions = definition_versions()
    from_version = versions.get(migration.from_definition_id, 0)
    to_version = versions.get(migration.to_definition_id, 0)
    params = {"from_version": from_version, "to_version": to_version}
    refusal = FORBIDDEN if not may_migrate(actor, instance) else _undo_refusal(migration, instance)
    if refusal is not None:
        until = as_utc(migration.undo_until).isoformat(timespec="minutes")
        return UndoResult(
            migration.id,
            instance.id,
            refusal,
            message(refusal, lang, until=until, status=instance.status, **params),
            from_version,
            to_version,
        )
    previous_state = migration.previous_state or ""
    engine = instances.restored_engine(migration.from_definition_id, previous_state)
    rows.update([instance], {"definition_id": migration.from_definition_id})
    step = instances.persist_replaced_state(instance, engine, actor)
    relabel_open_tasks(step.open_tasks, engine, migration.from_definition_id)
    timestamp = now()
    migration.undone_at = timestamp
    migration.undone_by_id = actor.id if actor is not None else None
    migration.previous_state = None
    record(
        "instance.migration_undone",
        entity_type="process_instance",
        entity_id=instance.id,
        actor=actor,
        case_id=instance.case_id,
        instance_id=instance.id,
        before={"version": to_version, "definition_id": migration.to_definition_id},
        after={"version": from_version, "definition_id": migration.from_definition_id},
        data={
            "migration_id": migration.id,
            "cancelled_task_ids": [t.id for t in step.cancelled_tasks],
            "created_task_ids": [t.id for t in step.created_tasks],
            "next_timer_at": iso(instance.next_timer_at),
        },
    )
    return UndoResult(
        migration.id, instance.id, UNDONE, message(UNDONE, lang, **params), from_version, to_version
    )


def undo_or_conflict(migration_id: int, actor: Actor | None, lang: str = "zh-CN") -> UndoResult:
    """``undo``, with a refusal raised as ``Conflict`` naming the reason, ``Forbidden`` for a designer on an
    instance of a case (for single-instance edges)."""
    result = undo(migration_id, actor, lang)
    if result.code == FORBIDDEN:
        raise Forbidden(result.message, {"reason": result.code, "migration_id": migration_id})
    if not result.ok:
        raise Conflict(result.message, {"reason": result.code, "migration_id": migration_id})
    return result


def batch_migration_ids(batch_id: str) -> list[int]:
    """The migrations of one batch, newest first (undone in the reverse order they were made)."""
    return list(
        db.session.execute(
            select(InstanceMigration.id)
            .where(InstanceMigration.batch_id == batch_id)
            .order_by(InstanceMigration.id.desc())
        ).scalars()
    )


def instance_migrations(instance_id: int) -> list[InstanceMigration]:
    return list(
        db.session.execute(
            select(InstanceMigration)
            .where(InstanceMigration.instance_id == instance_id)
            .order_by(InstanceMigration.id.desc())
        ).scalars()
    )


def expire_undo_states() -> int:
    """Scheduler round: drop the kept states whose undo period has ended (they are as large as a state)."""
    result = db.session.execute(
        update(InstanceMigration)
        .where(InstanceMigration.undo_until <= now(), InstanceMigration.previous_state.is_not(None))
        .values(previous_state=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
