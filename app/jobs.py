"""Background jobs: queue names, timeouts, and one ``enqueue`` helper.

Jobs take ids and re-read rows (a job may run after the data changed). In stack mode (REDIS_URL set)
jobs go to RQ queues and ``flask worker`` runs them; in embedded mode they run in this process right
after the current transaction commits, so a job never sees uncommitted data.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import runtime
from app.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    timeout_seconds: int
    description: str


QUEUES: dict[str, QueueSpec] = {
    q.name: q
    for q in (
        QueueSpec("engine", 120, "advance workflow instances: due timers, messages"),
        QueueSpec("photos", 60, "thumbnails and photo processing"),
        QueueSpec("notifications", 30, "notices to people about their tasks"),
    )
}


def _resolve(func_path: str) -> Callable[..., Any]:
    module_name, _, attribute = func_path.rpartition(".")
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return func


def enqueue(queue: str, func_path: str, *args: Any) -> None:
    """Run ``func_path(*args)`` in the background once the current transaction has committed."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    pending: list[tuple[str, str, tuple[Any, ...]]] = db.session.info.setdefault("gridcase.pending_jobs", [])
    pending.append((queue, func_path, args))


def _dispatch(session: Any) -> None:
    jobs = session.info.pop("gridcase.pending_jobs", [])
    if not jobs:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if runtime.settings(app).redis_url:
        from rq import Queue

        connection = runtime.redis(app)
        by_queue: dict[str, list[Any]] = {}
        for queue, func_path, args in jobs:
            by_queue.setdefault(queue, []).append(
                Queue.prepare_data(
                    run_job,
                    (func_path, *args),
                    timeout=QUEUES[queue].timeout_seconds,
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                )
            )
        # All of a transaction's jobs in one round trip (a listener's batch may open many cases).
        with connection.pipeline() as pipeline:
            for queue, datas in by_queue.items():
                Queue(queue, connection=connection).enqueue_many(datas, pipeline=pipeline)
            pipeline.execute()
    else:
        inline = runtime.inline_jobs(app)
        for _, func_path, args in jobs:
            inline.put((func_path, args))


def _discard(session: Any, *_: Any) -> None:
    session.info.pop("gridcase.pending_jobs", None)


def run_job(func_path: str, *args: Any) -> Any:
    """Run one job in its own transaction: commit on success, roll back on failure, then a fresh session.
    RQ and the embedded runner both call jobs through this, so they behave the same."""
    try:
        result = _resolve(func_path)(*args)
        db.session.commit()
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def run_inline_jobs() -> int:
    """Embedded mode: run the jobs queued by committed transactions, in this thread. Returns how many."""
    inline = runtime.inline_jobs()
    ran = 0
    while True:
        try:
            func_path, args = inline.get_nowait()
        except Empty:
            return ran
        try:
            run_job(func_path, *args)
        except Exception:
            log.exception("job %s%r failed", func_path, args)
        ran += 1


_listening = False


def init_jobs(app: Any) -> None:
    global _listening
    redis_url = runtime.settings(app).redis_url
    connection = None
    if redis_url:
        from redis import Redis

        connection = Redis.from_url(redis_url)
    runtime.install_jobs(app, SimpleQueue(), connection)
    if not _listening:
        event.listen(Session, "after_commit", _dispatch)
        event.listen(Session, "after_rollback", _discard)
        _listening = True


def enqueue_now(queue: str, func_path: str, *args: Any, job_id: str | None = None) -> bool:
    """Stack mode, outside a transaction (the scheduler): put a job on RQ now.

    With ``job_id``, a job still waiting or running under that id is not queued twice. Returns whether
    a job was queued.
    """
    from rq import Queue

    connection = runtime.redis()
    rq_queue = Queue(queue, connection=connection)
    if job_id is not None:
        existing = rq_queue.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=True) in (
            "queued",
            "started",
            "deferred",
            "scheduled",
        ):
            return False
    spec = QUEUES[queue]
    rq_queue.enqueue(
        run_job,
        func_path,
        *args,
        job_id=job_id,
        job_timeout=spec.timeout_seconds,
        result_ttl=600,
        failure_ttl=7 * 86400,
    )
    return True
