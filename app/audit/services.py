"""Write audit events. Callers pass the actor; the event joins the caller's transaction (written just before
it commits, no commit of its own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.clock import now
from app.extensions import db


class Actor(Protocol):
    id: int
    username: str


SYSTEM = "system"


class AfterFlush:
    """An entity id known only once the session has flushed (a row added in this transaction and not written
    yet, e.g. a listener's new alarms, written together at the end of its batch): read when the events are
    written, which is after a flush."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read


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
) -> None:
    """Record an event in the current transaction; it is written just before that transaction commits."""
    row = {
        "occurred_at": now(),
        "actor_id": actor.id if actor is not None else None,
        "actor_label": actor.username if actor is not None else (actor_label or SYSTEM),
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id if isinstance(entity_id, AfterFlush) else str(entity_id),
        "case_id": case_id,
        "instance_id": instance_id,
        "before": before,
        "after": after,
        "data": data,
    }
    # Kept as plain rows and written just before commit, all at once: one executemany INSERT per transaction
    # (no ORM unit of work: the rows are only ever inserted). Still the same transaction as the change.
    db.session.info.setdefault(_PENDING, []).append(row)


_PENDING = "gridcase.pending_audit"


class _CaseLike(Protocol):
    id: int
    key: str


def record_case_event(action: str, case: _CaseLike, **fields: Any) -> None:
    """``record`` for an event about a case: the case is the entity (by key) and the timeline it joins."""
    record(action, entity_type="case", entity_id=case.key, case_id=case.id, **fields)


def _resolved(row: dict[str, Any]) -> dict[str, Any]:
    entity_id = row["entity_id"]
    return {**row, "entity_id": str(entity_id.read())} if isinstance(entity_id, AfterFlush) else row


def _write_pending(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    # Rows they refer to (a new case, a new instance) must exist first; events recorded while flushing
    # still make it into this batch.
    session.flush()
    pending = session.info.pop(_PENDING, [])
    if pending:
        # JSON columns given None store JSON null, as the ORM did for these explicitly-set attributes.
        rows = [_resolved(row) for row in pending]
        session.connection(bind_arguments={"mapper": AuditEvent}).execute(_INSERT, rows)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


_INSERT = insert(AuditEvent.__table__)

event.listen(Session, "before_commit", _write_pending)
event.listen(Session, "after_rollback", _drop_pending)
