"""Who may look at and repair running instances, and the lists an operator reads (instances, incidents,
history). The repairs themselves are app.workflow.operations; the API and the operations page call both.

Roles: administrators for every instance. Designers for test instances only; there is no separate notion
of a test instance, so a test instance is one that belongs to no case (a designer's probe started by a
message or from the designer pages): a case's instance carries a resident's report and a person's work.
Designers may still list every instance (what runs where, as on the designer pages); its variables and
history hold case contents and are shown to those who may operate on it. Every other role gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.auth.roles import DESIGNERS, Role
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.workflow.models import EngineIncident, ProcessDefinition, ProcessInstance


def require_operator(user: User) -> User:
    """An administrator or a designer; 403 for every other role."""
    if user.role not in DESIGNERS:
        raise Forbidden(
            "只有系统管理员和流程设计员可以查看和操作流程实例", {"role": "需要 admin 或 designer 角色"}
        )
    return user


def may_operate(user: User, instance: ProcessInstance) -> bool:
    return user.role == Role.ADMIN or (user.role == Role.DESIGNER and instance.case_id is None)


def operable_instance(user: User, instance_id: int) -> ProcessInstance:
    """The instance ``user`` may repair and read in full; 404 when absent, 403 when not theirs."""
    require_operator(user)
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"流程实例 {instance_id} 不存在")
    if not may_operate(user, instance):
        raise Forbidden(
            "流程设计员只能操作测试实例（不属于任何案件的实例）",
            {"instance": "该实例属于案件，只有系统管理员可以操作"},
        )
    return instance


def readable_instance(user: User, instance_id: int) -> ProcessInstance:
    """The instance's summary (status, position, incidents): any operator."""
    require_operator(user)
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"流程实例 {instance_id} 不存在")
    return instance


# -- lists ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceFilters:
    process_key: str | None = None
    version: int | None = None
    status: str | None = None
    has_incident: bool | None = None
    business_key: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


def _open_incident_exists() -> Any:
    return exists().where(
        EngineIncident.instance_id == ProcessInstance.id, EngineIncident.resolved_at.is_(None)
    )


def list_instances(filters: InstanceFilters) -> Select[Any]:
    """Instances matching every given filter, newest first."""
    query = select(ProcessInstance)
    if filters.process_key:
        query = query.where(ProcessInstance.process_key == filters.process_key)
    if filters.version is not None:
        query = query.join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id).where(
            ProcessDefinition.version == filters.version
        )
    if filters.status:
        query = query.where(ProcessInstance.status == filters.status)
    if filters.has_incident is not None:
        has = _open_incident_exists()
        query = query.where(has if filters.has_incident else ~has)
    if filters.business_key:
        query = query.where(ProcessInstance.business_key == filters.business_key)
    if filters.started_from is not None:
        query = query.where(ProcessInstance.started_at >= filters.started_from)
    if filters.started_to is not None:
        query = query.where(ProcessInstance.started_at < filters.started_to)
    return query.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())


def list_incidents(
    *, open_only: bool = True, process_key: str | None = None, kind: str | None = None
) -> Select[Any]:
    """Engine incidents, newest first."""
    query = select(EngineIncident)
    if open_only:
        query = query.where(EngineIncident.resolved_at.is_(None))
    if process_key:
        query = query.join(ProcessInstance, ProcessInstance.id == EngineIncident.instance_id).where(
            ProcessInstance.process_key == process_key
        )
    if kind:
        query = query.where(EngineIncident.kind == kind)
    return query.order_by(EngineIncident.opened_at.desc(), EngineIncident.id.desc())


def instance_incidents(instance_id: int) -> list[EngineIncident]:
    return list(
        db.session.execute(
            select(EngineIncident)
            .where(EngineIncident.instance_id == instance_id)
            .order_by(EngineIncident.id.desc())
        ).scalars()
    )


def open_incident_ids(instance_ids: list[int]) -> dict[int, EngineIncident]:
    """instance id → its open incident, for a page of instances (one query)."""
    if not instance_ids:
        return {}
    rows = db.session.execute(
        select(EngineIncident).where(
            EngineIncident.instance_id.in_(instance_ids), EngineIncident.resolved_at.is_(None)
        )
    ).scalars()
    return {row.instance_id: row for row in rows}


def instance_events(instance_id: int) -> list[AuditEvent]:
    """Everything recorded about the instance and its tasks, oldest first."""
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        ).scalars()
    )
