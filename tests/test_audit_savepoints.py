"""Audit events and savepoints (an operator runs in one): written once, with the whole transaction, and a
savepoint rolled back drops only the events recorded inside it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.services import record
from app.extensions import db
from tests.factories import app_on_both_backends

app = app_on_both_backends


def _recorded() -> list[str]:
    return list(db.session.execute(select(AuditEvent.entity_id).order_by(AuditEvent.id)).scalars())


def _probe(name: str) -> None:
    record("probe.recorded", entity_type="probe", entity_id=name)


def test_a_released_savepoint_leaves_its_events_for_the_commit(app: Flask) -> None:
    _probe("before")
    with db.session.begin_nested():
        _probe("inside")
        db.session.execute(select(AuditEvent.id)).all()  # the savepoint is really taken
    assert _recorded() == []  # nothing written at the release: one INSERT at the commit
    _probe("after")
    db.session.commit()
    assert _recorded() == ["before", "inside", "after"]


def test_a_savepoint_rolled_back_drops_only_its_own_events(app: Flask) -> None:
    _probe("before")
    try:
        with db.session.begin_nested():
            _probe("undone")
            db.session.execute(select(AuditEvent.id)).all()
            raise LookupError("an operator failing half way")
    except LookupError:
        pass
    with db.session.begin_nested():
        _probe("kept")
        inner = db.session.begin_nested()
        _probe("undone too")
        inner.rollback()
    _probe("after")
    db.session.commit()
    assert _recorded() == ["before", "kept", "after"]


def test_a_transaction_rolled_back_writes_none_of_its_events(app: Flask) -> None:
    _probe("lost")
    with db.session.begin_nested():
        _probe("lost too")
    db.session.rollback()
    _probe("next")
    db.session.commit()
    assert _recorded() == ["next"]
