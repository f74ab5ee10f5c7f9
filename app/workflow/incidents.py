"""Incidents: the one place that parks an instance on an engine failure and un-parks it on repair.

Opening an incident happens in the transaction the caller gives it (the caller decides whether that is the
person's own committed step or a fresh transaction after a rollback); it records ``incident.opened`` there.
The session notes the incidents opened in it (``opened_in_session``), so the HTTP edge can tell the person
whose request ran into one that their input was kept and the case continues after a repair.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.services import Actor, record
from app.clock import now
from app.extensions import db
from app.workflow.models import EngineIncident, InstanceStatus, ProcessInstance

_OPENED = "gridcase.incidents_opened"


def open_incident(
    instance: ProcessInstance,
    *,
    kind: str,
    reason: str,
    element_id: str | None = None,
    element_name: str | None = None,
    actor: Actor | None = None,
    details: dict[str, Any] | None = None,
) -> EngineIncident:
    """Park ``instance`` (locked by the caller) with a new open incident at ``element_id``."""
    timestamp = now()
    incident = EngineIncident(
        instance_id=instance.id,
        case_id=instance.case_id,
        kind=kind,
        element_id=element_id,
        element_name=element_name,
        reason=reason,
        actor_id=actor.id if actor is not None else None,
        opened_at=timestamp,
        details=details,
    )
    db.session.add(incident)
    db.session.flush()
    before = instance.status
    instance.status = InstanceStatus.ERROR
    instance.error = reason
    instance.updated_at = timestamp
    _record_status_change(
        "incident.opened",
        instance,
        actor,
        before,
        {"incident_id": incident.id, "kind": kind, "element_id": element_id, "reason": reason},
    )
    db.session.info.setdefault(_OPENED, []).append(incident.id)
    return incident


def opened_in_session() -> list[int]:
    """The ids of the incidents opened in this session since ``forget_opened`` (a request's start)."""
    return list(db.session.info.get(_OPENED, ()))


def forget_opened() -> None:
    db.session.info.pop(_OPENED, None)


def open_incident_of(instance_id: int) -> EngineIncident | None:
    """The instance's open incident, if any (at most one is open: a parked instance runs nothing)."""
    return db.session.execute(
        select(EngineIncident)
        .where(EngineIncident.instance_id == instance_id, EngineIncident.resolved_at.is_(None))
        .order_by(EngineIncident.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def resolve_incident(
    incident: EngineIncident, instance: ProcessInstance, *, resolution: str, actor: Actor | None
) -> None:
    """Close ``incident`` as repaired by ``resolution``; the instance runs again unless it was terminated."""
    timestamp = now()
    incident.resolved_at = timestamp
    incident.resolved_by_id = actor.id if actor is not None else None
    incident.resolution = resolution
    before = instance.status
    if instance.status == InstanceStatus.ERROR:
        instance.status = InstanceStatus.RUNNING
        instance.error = None
    instance.updated_at = timestamp
    _record_status_change(
        "incident.resolved", instance, actor, before, {"incident_id": incident.id, "resolution": resolution}
    )


def _record_status_change(
    action: str, instance: ProcessInstance, actor: Actor | None, before: str, data: dict[str, Any]
) -> None:
    record(
        action,
        entity_type="process_instance",
        entity_id=instance.id,
        actor=actor,
        case_id=instance.case_id,
        instance_id=instance.id,
        before={"status": before},
        after={"status": instance.status},
        data=data,
    )
