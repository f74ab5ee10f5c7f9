"""Write audit events. Callers pass the actor; the event joins the caller's transaction (flush, no commit)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.clock import now
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
    audit_event = AuditEvent(
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
    # Added to the session just before commit, all at once: one batched INSERT per transaction instead of
    # one per autoflush. Still the same transaction as the change it records.
    db.session.info.setdefault(_PENDING, []).append(audit_event)
    return audit_event


_PENDING = "gridcase.pending_audit"


def pending_events() -> list[AuditEvent]:
    """Events recorded in this transaction and not yet written (they are written on commit)."""
    return list(db.session.info.get(_PENDING, []))


def _add_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.add_all(pending)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


event.listen(Session, "before_commit", _add_pending)
event.listen(Session, "after_rollback", _drop_pending)
