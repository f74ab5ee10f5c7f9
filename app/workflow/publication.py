"""Drafts, publish and rollback: which version of a process starts new instances.

A deployment is a draft until published. A key has at most one published version: its newest publication
not withdrawn (``ProcessPublication``). Publishing a version adds a publication; rolling back withdraws the
current one, so the version published before it starts new instances again. Running instances keep the
version they started on whatever is published later. Every publish and rollback is audited in the same
transaction (``process.published``, ``process.rolled_back``, with the version before and after).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.audit.services import Actor, record
from app.clock import now
from app.errors import Conflict, NotFound
from app.extensions import db
from app.workflow.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.workflow.publication_models import ProcessPublication

PUBLISHED = "published"  # 已发布: new instances start on it
DRAFT = "draft"  # 草稿: never published
HISTORY = "history"  # 历史: published once, not now


def _live(key: str, kind: str) -> list[ProcessPublication]:
    """The publications of ``key`` not withdrawn, newest first (the first is the published one)."""
    return list(
        db.session.execute(
            select(ProcessPublication)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessPublication.definition_id)
            .where(
                ProcessPublication.key == key,
                ProcessPublication.withdrawn_at.is_(None),
                ProcessDefinition.kind == kind,
            )
            .order_by(ProcessPublication.id.desc())
        ).scalars()
    )


def current(key: str, kind: str = "bpmn") -> ProcessDefinition | None:
    """The published version of ``key``; None when it has none (unknown, or only drafts)."""
    return db.session.execute(
        select(ProcessDefinition)
        .join(ProcessPublication, ProcessPublication.definition_id == ProcessDefinition.id)
        .where(
            ProcessPublication.key == key,
            ProcessPublication.withdrawn_at.is_(None),
            ProcessDefinition.kind == kind,
        )
        .order_by(ProcessPublication.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def published_ids(kind: str | None = None) -> list[int]:
    """The definition id of the published version of every key (of ``kind``, if given)."""
    newest = (
        select(func.max(ProcessPublication.id))
        .join(ProcessDefinition, ProcessDefinition.id == ProcessPublication.definition_id)
        .where(ProcessPublication.withdrawn_at.is_(None))
        .group_by(ProcessPublication.key, ProcessDefinition.kind)
    )
    if kind is not None:
        newest = newest.where(ProcessDefinition.kind == kind)
    return list(
        db.session.execute(
            select(ProcessPublication.definition_id).where(ProcessPublication.id.in_(newest))
        ).scalars()
    )


def published_definitions(kind: str | None = None) -> list[ProcessDefinition]:
    """The published version of every key (of ``kind``, if given), by key."""
    ids = published_ids(kind)
    if not ids:
        return []
    return list(
        db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.id.in_(ids)).order_by(ProcessDefinition.key)
        ).scalars()
    )


def rollback_target(key: str, kind: str = "bpmn") -> ProcessDefinition | None:
    """The version a rollback of ``key`` would publish again: the one published before the current one."""
    live = _live(key, kind)
    if not live:
        return None
    return next((p.definition for p in live[1:] if p.definition_id != live[0].definition_id), None)


def statuses(key: str) -> dict[int, str]:
    """``{definition id: PUBLISHED | DRAFT | HISTORY}`` for every version of ``key``."""
    ever = set(
        db.session.execute(
            select(ProcessPublication.definition_id).where(ProcessPublication.key == key)
        ).scalars()
    )
    published = {d.id for kind in ("bpmn", "dmn") if (d := current(key, kind)) is not None}
    ids = db.session.execute(select(ProcessDefinition.id).where(ProcessDefinition.key == key)).scalars()
    return {i: PUBLISHED if i in published else HISTORY if i in ever else DRAFT for i in ids}


def ever_published(definition_id: int) -> bool:
    return (
        db.session.execute(
            select(ProcessPublication.id).where(ProcessPublication.definition_id == definition_id).limit(1)
        ).first()
        is not None
    )


def running_elsewhere(definition: ProcessDefinition) -> int:
    """Running instances of ``definition``'s key on other versions: what a publish leaves where it is."""
    return int(
        db.session.execute(
            select(func.count())
            .select_from(ProcessInstance)
            .where(
                ProcessInstance.process_key == definition.key,
                ProcessInstance.definition_id != definition.id,
                ProcessInstance.status == InstanceStatus.RUNNING,
                ProcessInstance.is_test.is_(False),  # a designer's test run is not work a publish leaves
            )
        ).scalar_one()
    )


def _lock_key(key: str) -> None:
    """One publish or rollback of a key at a time (PostgreSQL row locks; SQLite writes one at a time)."""
    db.session.execute(
        select(ProcessDefinition.id).where(ProcessDefinition.key == key).with_for_update()
    ).all()


def _version_of(definition: ProcessDefinition | None) -> int | None:
    return definition.version if definition is not None else None


@dataclass(frozen=True)
class Published:
    """What a publish or a rollback did: the version new instances start on now, the one before, and how
    many running instances stay on their versions."""

    definition: ProcessDefinition
    previous_version: int | None
    running_kept: int


def _version(key: str, version: int) -> ProcessDefinition:
    definition = db.session.execute(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        .order_by(ProcessDefinition.kind)  # "bpmn" before "dmn" should a key have both
        .limit(1)
    ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"流程 {key} 没有第 {version} 版", {"version": version})
    return definition


def kind_of(key: str) -> str:
    """The kind of ``key``'s versions (bpmn, or dmn for a decision table); NotFound for an unknown key."""
    kinds = set(
        db.session.execute(select(ProcessDefinition.kind).where(ProcessDefinition.key == key)).scalars()
    )
    if not kinds:
        raise NotFound(f"unknown process key '{key}'", {"process_key": "no deployed process has this key"})
    return "bpmn" if "bpmn" in kinds else "dmn"


def publish_version(key: str, version: int, actor: Actor | None) -> Published:
    """Publish version ``version`` of ``key`` (a draft, or a version published before): 404 when it does
    not exist, 409 when it is the published one already."""
    definition = _version(key, version)
    before = current(key, definition.kind)
    publish(definition, actor)
    return Published(definition, _version_of(before), running_elsewhere(definition))


def rollback_key(key: str, actor: Actor | None) -> Published:
    """``rollback`` of whatever kind ``key`` is, with what it did."""
    kind = kind_of(key)
    before = current(key, kind)
    target = rollback(key, actor, kind)
    return Published(target, _version_of(before), running_elsewhere(target))


def publish(definition: ProcessDefinition, actor: Actor | None, *, at_deploy: bool = False) -> None:
    """Make ``definition`` the version new instances of its key start on; 409 when it already is.
    ``at_deploy``: a release deployed with its publication (``flask deploy``, the API by default)."""
    _lock_key(definition.key)
    before = current(definition.key, definition.kind)
    if before is not None and before.id == definition.id:
        raise Conflict(
            f"流程 {definition.key} 的第 {definition.version} 版已是发布版本",
            {"version": definition.version, "status": PUBLISHED},
        )
    db.session.add(
        ProcessPublication(
            key=definition.key,
            definition_id=definition.id,
            published_at=now(),
            published_by_id=getattr(actor, "id", None),
        )
    )
    record(
        "process.published",
        entity_type="process_definition",
        entity_id=definition.id,
        actor=actor,
        before={"key": definition.key, "version": _version_of(before)},
        after={"key": definition.key, "version": definition.version},
        data={"at_deploy": at_deploy},
    )


def rollback(key: str, actor: Actor | None, kind: str = "bpmn") -> ProcessDefinition:
    """Withdraw the published version of ``key``: the one published before it starts new instances again.
    404 for a key without versions; 409 when nothing was published before the current one."""
    _lock_key(key)
    live = _live(key, kind)
    if not live:
        kind_of(key)  # NotFound for an unknown key
        raise Conflict(f"流程 {key} 尚未发布, 无法回滚", {"process_key": key})
    withdrawn = live[0]
    target = rollback_target(key, kind)
    if target is None:
        raise Conflict(
            f"流程 {key} 没有更早的发布版本可回滚 (第 {withdrawn.definition.version} 版是第一个发布的版本)",
            {"process_key": key, "version": withdrawn.definition.version},
        )
    # Withdraw the rows between: those that published the current version again after the target.
    for publication in live:
        if publication.definition_id == target.id:
            break
        publication.withdrawn_at = now()
        publication.withdrawn_by_id = getattr(actor, "id", None)
    record(
        "process.rolled_back",
        entity_type="process_definition",
        entity_id=target.id,
        actor=actor,
        before={"key": key, "version": withdrawn.definition.version},
        after={"key": key, "version": target.version},
    )
    return target


@dataclass(frozen=True)
class KeyPublication:
    """What the process list shows of a key: the published version and the newest draft above it."""

    published_version: int | None
    newer_draft: int | None


def summaries() -> dict[tuple[str, str], KeyPublication]:
    """``{(key, kind): KeyPublication}`` for every key with versions."""
    published = {(d.key, d.kind): d.version for d in published_definitions()}
    ever = set(db.session.execute(select(ProcessPublication.definition_id)).scalars())
    newest_draft: dict[tuple[str, str], int] = {}
    for definition_id, key, kind, version in db.session.execute(
        select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.kind, ProcessDefinition.version)
    ).all():
        if definition_id not in ever and version > published.get((key, kind), 0):
            newest_draft[(key, kind)] = max(version, newest_draft.get((key, kind), 0))
    keys = set(published) | set(newest_draft)
    return {k: KeyPublication(published.get(k), newest_draft.get(k)) for k in keys}
