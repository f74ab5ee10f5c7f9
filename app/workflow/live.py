"""Live workflow objects kept between steps, so a step can skip restoring the state it wrote last time.

Restoring an instance's JSON state is a large part of an engine step. An entry here is the workflow object
that wrote a state, with that exact state string; a step uses it instead of restoring only when the row it
has just read under the instance lock holds that very string. Safety rests on three rules:

- an entry is taken out while in use, so two steps never share an object;
- an entry is put back only after the transaction that wrote its state commits (a rollback, or a savepoint
  rolled back, drops what the transaction staged), so no one ever sees a half-advanced object;
- any other writer (another process, a session that did not stage) leaves a different state string, so the
  entry just misses and the step restores. If in doubt, restore: see ``reuse`` for when an object counts.

One cache per app (``app.extensions``): instance ids are only unique within one database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.workflow.engine import EngineInstance

DEFAULT_CAPACITY = 256  # instances per process; a case_handling entry is some 60-80 KB (object and state)
_EXTENSION = "gridcase.live_workflows"
_STAGED = "gridcase.live_workflows.staged"


@dataclass(frozen=True)
class _Entry:
    definition_id: int
    state: str
    engine: EngineInstance


class LiveWorkflows:
    """A bounded (least recently used first out) map: instance id -> the object that wrote its state."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def take(
        self, session: Session, instance_id: int, definition_id: int, state: str
    ) -> EngineInstance | None:
        """The object whose state is exactly ``state``, removed from the cache; None when there is none.

        Looks first at what this transaction staged (a second step on the same instance before commit).
        Whatever is found is removed either way: an entry that does not match is stale.
        """
        staged = session.info.get(_STAGED) or {}
        mine = staged.pop(instance_id) if staged.get(instance_id, (None,))[0] is self else None
        with self._lock:
            committed = self._entries.pop(instance_id, None)
        entry = mine[1] if mine is not None else committed
        if entry is None or entry.definition_id != definition_id or entry.state != state:
            return None
        return entry.engine if entry.engine.reusable else None

    def stage(
        self, session: Session, instance_id: int, definition_id: int, state: str, engine: EngineInstance
    ) -> None:
        """Offer ``engine`` (which has just dumped ``state``) for after this transaction commits."""
        if self.capacity <= 0 or not engine.reusable:
            return
        session.info.setdefault(_STAGED, {})[instance_id] = (self, _Entry(definition_id, state, engine))

    def forget(self, session: Session, instance_id: int) -> None:
        """Drop whatever is kept for ``instance_id``, committed or staged by this transaction: for writers
        that replace an instance's state without an engine step (a migration to another version, its undo)."""
        (session.info.get(_STAGED) or {}).pop(instance_id, None)
        with self._lock:
            self._entries.pop(instance_id, None)

    def _put(self, instance_id: int, entry: _Entry) -> None:
        with self._lock:
            self._entries[instance_id] = entry
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def live_workflows() -> LiveWorkflows:
    """This app's cache, made on first use."""
    cache: LiveWorkflows = current_app.extensions.setdefault(_EXTENSION, LiveWorkflows())
    return cache


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction may still roll back
    staged: dict[int, tuple[LiveWorkflows, _Entry]] | None = session.info.pop(_STAGED, None)
    for instance_id, (cache, entry) in (staged or {}).items():
        cache._put(instance_id, entry)


def _drop_staged(session: Session, *_: Any) -> None:
    # Any rollback, a savepoint's included, drops everything staged: dropping too much only costs a restore.
    session.info.pop(_STAGED, None)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # closed without commit or rollback (session.close())
        session.info.pop(_STAGED, None)


event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_soft_rollback", _drop_staged)
event.listen(Session, "after_transaction_end", _after_transaction_end)
