"""Write audit events. Callers pass the actor; the event joins the caller's transaction (written just before
it commits, no commit of its own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, SessionTransaction

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
    if session.in_nested_transaction():
        # A savepoint released (an operator's, say): its events stay pending and go out with the whole
        # transaction's, in the one INSERT at its commit, instead of one more round trip per savepoint.
        return
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


def _savepoint_begun(session: Session, transaction: SessionTransaction) -> None:
    """Remember how many events were pending when a savepoint began: rolling it back drops only those
    recorded inside it (what it undid), not the transaction's earlier ones."""
    if transaction.nested:
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(session.info.get(_PENDING, ()))


def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        mark = (session.info.get(_SAVEPOINTS) or {}).pop(previous_transaction, None)
        pending = session.info.get(_PENDING)
        if mark is not None and pending is not None:
            del pending[mark:]
    elif previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    # The marks of savepoints are kept until the transaction ends (SQLAlchemy ends a savepoint before it
    # tells of its rollback): they mean nothing after it.
    if transaction.parent is None:
        session.info.pop(_SAVEPOINTS, None)


_SAVEPOINTS = "gridcase.pending_audit_savepoints"
_INSERT = insert(AuditEvent.__table__)

event.listen(Session, "before_commit", _write_pending)
event.listen(Session, "after_transaction_create", _savepoint_begun)
event.listen(Session, "after_soft_rollback", _rolled_back)
event.listen(Session, "after_transaction_end", _ended)
