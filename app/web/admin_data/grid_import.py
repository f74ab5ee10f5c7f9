"""A GeoJSON import run for the page with its progress: the import (``app.grids.services.import_geojson``,
all or nothing) runs in a thread of its own, in its own app context and transaction, and this request
streams a line of JSON per step: ``{"phase": "checking", "done": n, "total": m}`` as features are read and
checked on their own, ``{"phase": "relations"}`` while parents, duplicates and overlaps are checked and the
grids written, then ``{"phase": "done" | "rejected" | "failed", "html": ...}`` with the report rendered
for the page. The thread is the transaction's edge: it commits or rolls back, like a CLI command."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask

from app.auth.models import User
from app.errors import DomainError
from app.extensions import db
from app.grids import services
from app.grids.services import GridImportRejected, GridImportReport

log = logging.getLogger(__name__)
STEPS = 50  # progress lines per import at most, whatever its size
# ("done", report) | ("rejected", report) | ("invalid", DomainError) | ("failed", None)
Outcome = tuple[str, Any]


def feature_count(collection: dict[str, Any]) -> int:
    features = collection.get("features")
    return len(features) if isinstance(features, list) else 0


def run_import(
    collection: dict[str, Any], actor: User, progress: Callable[[int], None] | None = None
) -> Outcome:
    """Import and commit, or roll back and say why. Joins (and ends) the current app context's transaction."""
    try:
        report = services.import_geojson(collection, actor=actor, progress=progress)
        db.session.commit()
        return "done", report
    except GridImportRejected as exc:
        db.session.rollback()
        return "rejected", exc.report
    except DomainError as exc:
        db.session.rollback()
        return "invalid", exc


def stream_import(
    app: Flask, collection: dict[str, Any], actor_id: int, render: Callable[[Outcome], str]
) -> Iterator[str]:
    """The lines of the streamed answer (see the module's docstring)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    total = feature_count(collection)
    step = max(1, total // STEPS)

    def work() -> None:
        with app.app_context():
            try:
                actor = db.session.get(User, actor_id)
                assert actor is not None
                events.put(("outcome", run_import(collection, actor, lambda n: events.put(("read", n)))))
            except Exception:  # reported to the page as a failure; the import wrote nothing
                log.exception("grid import failed")
                db.session.rollback()
                events.put(("outcome", ("failed", None)))
            finally:
                db.session.remove()

    # This request's own transaction (the after-request hooks may have begun one) ends before the import's
    # begins: on SQLite every transaction takes the write lock.
    db.session.close()
    threading.Thread(target=work, name="grid-import", daemon=True).start()
    done = 0
    while True:
        kind, value = events.get()
        if kind == "read":
            done += value
            if done % step == 0 or done == total:
                yield _line({"phase": "checking", "done": done, "total": total})
            if done == total:
                yield _line({"phase": "relations"})
            continue
        outcome: Outcome = value
        yield _line({"phase": outcome[0], "html": render(outcome)})
        return


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


__all__ = ["GridImportReport", "feature_count", "run_import", "stream_import"]
