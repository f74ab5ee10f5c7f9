"""Write audit events. Callers pass the actor; the event joins the caller's transaction (flush, no commit)."""

from __future__ import annotations

from typing import Any, Protocol

from app.clock import now

from app.audit.models import AuditEvent
from app.extensions import db


class Actor(Protocol):
    id: int
    username: str


SYSTEM = "system"


def record(
    action: str,
    *,
    entity_type: str,
    entity_id: Any,
    actor: Actor | None = None,
    actor_label: str | None = None,
    case_id: int | None = None,
    instance_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        occurred_at=now(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.username if actor is not None else (actor_label or SYSTEM),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        case_id=case_id,
        instance_id=instance_id,
        before=before,
        after=after,
        data=data,
    )
    db.session.add(event)
    return event
