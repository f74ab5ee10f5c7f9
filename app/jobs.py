"""Background jobs: queue names, timeouts, and one ``enqueue`` helper.

Jobs take ids and re-read rows (a job may run after the data changed). In stack mode (REDIS_URL set)
jobs go to RQ queues and ``flask worker`` runs them; in embedded mode they run in this process right
after the current transaction commits, so a job never sees uncommitted data.

Sending jobs never fails the transaction they belong to (it has committed): jobs Redis does not take are
kept in this process and sent again (``UnsentJobs``), and the scheduler's round recovers from the database
what a lost job would have done.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import logs, metrics, runtime
from app.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    timeout_seconds: int
    description: str


ENGINE_QUEUE = QueueSpec("engine", 120, "advance workflow instances: due timers, messages")
PHOTOS_QUEUE = QueueSpec("photos", 60, "thumbnails and photo processing")
QUEUES: dict[str, QueueSpec] = {q.name: q for q in (ENGINE_QUEUE, PHOTOS_QUEUE)}

Job = Callable[..., Any]
# A job waiting to be sent: its queue, function path, arguments, and meta (the request id that queued it).
PendingJob = tuple[QueueSpec, str, tuple[Any, ...], dict[str, str]]


def job_path(func: Job) -> str:
    """The import path a worker finds ``func`` by (what RQ stores). Only a module-level function has one."""
    qualname = getattr(func, "__qualname__", "")
    if not qualname or "." in qualname or "<" in qualname:
        raise ValueError(f"a job must be a module-level function, not {func!r}")
    return f"{func.__module__}.{qualname}"


def _resolve(func_path: str) -> Job:
    module_name, _, attribute = func_path.rpartition(".")
    func: Job = getattr(importlib.import_module(module_name), attribute)
    return func


def enqueue(queue: QueueSpec, func: Job, *args: Any) -> None:
    """Run ``func(*args)`` in the background once the current transaction has committed."""
    pending: list[PendingJob] = db.session.info.setdefault("gridcase.pending_jobs", [])
    pending.append((queue, job_path(func), args, logs.job_context()))


def _dispatch(session: Any) -> None:
    jobs = session.info.pop("gridcase.pending_jobs", [])
    if not jobs:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for queue, *_ in jobs:
        metrics.JOBS_QUEUED.labels(queue.name).inc()
    if runtime.settings(app).redis_url:
        _send_or_keep(app, jobs)
    else:
        inline = runtime.inline_jobs(app)
        for _, func_path, args, meta in jobs:
            inline.put((func_path, args, meta))


UNSENT_LIMIT = 100_000  # jobs kept while Redis is away; beyond that the oldest go (see ``_send_or_keep``)
RESEND_SECONDS = 2.0  # while jobs wait for Redis, a commit tries again at most this often


@dataclass
class UnsentJobs:
    """Jobs of committed transactions that Redis did not take, oldest first, to send again.

    The transaction they belong to has committed: failing now would only make its caller believe it had not
    (the listener would ingest a committed batch a second time). So they are kept here and sent again by
    the next commit or by ``resend_unsent_jobs`` (the listener calls it while idle). In memory only: what
    they would have done is recoverable from the database (the scheduler's round opens the case of any
    incident still without one, and fires due timers), which is also what covers a process that dies
    with jobs here, or more than ``UNSENT_LIMIT`` of them."""

    jobs: deque[PendingJob] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_attempt: float = 0.0
    dropped: int = 0
    error: str | None = None  # why the last attempt failed


def _send_or_keep(app: Any, jobs: list[PendingJob]) -> None:
    unsent = runtime.unsent_jobs(app)
    with unsent.lock:
        unsent.jobs.extend(jobs)
        overflow = len(unsent.jobs) - UNSENT_LIMIT
        for _ in range(max(0, overflow)):
            unsent.jobs.popleft()
        if overflow > 0:
            unsent.dropped += overflow
            log.error("%d jobs dropped while Redis is away; the scheduler's round recovers them", overflow)
        if len(unsent.jobs) > len(jobs) and time.monotonic() - unsent.last_attempt < RESEND_SECONDS:
            return  # Redis was away a moment ago: no connection attempt per commit
        _flush(app, unsent)


def _flush(app: Any, unsent: UnsentJobs) -> None:
    """Send what is kept, in order, in one round trip (the caller holds the lock)."""
    from redis.exceptions import RedisError
    from rq import Queue

    unsent.last_attempt = time.monotonic()
    jobs = list(unsent.jobs)
    if not jobs:
        return
    connection = runtime.redis(app)
    by_queue: dict[str, list[Any]] = {}
    for queue, func_path, args, meta in jobs:
        by_queue.setdefault(queue.name, []).append(
            Queue.prepare_data(
                run_job,
                (func_path, *args),
                timeout=queue.timeout_seconds,
                result_ttl=3600,
                failure_ttl=7 * 86400,
                meta=meta,
            )
        )
    try:
        # All of a transaction's jobs in one round trip (a listener's batch may open many cases).
        with connection.pipeline() as pipeline:
            for queue_name, datas in by_queue.items():
                Queue(queue_name, connection=connection).enqueue_many(datas, pipeline=pipeline)
            pipeline.execute()
    except (RedisError, OSError) as exc:
        if unsent.error is None:
            log.error("Redis did not take %d jobs (%s); kept to send again", len(jobs), exc)
        unsent.error = f"{exc.__class__.__name__}: {exc}"
        return
    except Exception:
        # Not Redis being away but jobs that can never be sent (a bug): keeping them would block the rest.
        log.exception("%d jobs could not be queued and are dropped: %s", len(jobs), jobs[:10])
        unsent.dropped += len(jobs)
        unsent.jobs.clear()
        return
    for _ in jobs:
        unsent.jobs.popleft()
    if unsent.error is not None:
        log.warning("Redis is back: %d kept jobs sent", len(jobs))
    unsent.error = None


def resend_unsent_jobs() -> int:
    """Send the jobs Redis did not take (at most every ``RESEND_SECONDS``); returns how many still wait."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    unsent = runtime.unsent_jobs(app)
    with unsent.lock:
        if unsent.jobs and time.monotonic() - unsent.last_attempt >= RESEND_SECONDS:
            _flush(app, unsent)
        return len(unsent.jobs)


def unsent_jobs() -> tuple[int, str | None]:
    """How many jobs wait for Redis, and why the last attempt failed (health checks)."""
    unsent = runtime.unsent_jobs()
    with unsent.lock:
        return len(unsent.jobs), unsent.error


def _discard(session: Any, *_: Any) -> None:
    session.info.pop("gridcase.pending_jobs", None)


def run_job(func_path: str, *args: Any) -> Any:
    """Run one job in its own transaction: commit on success, roll back on failure, then a fresh session.
    RQ and the embedded runner both call jobs through this, so they behave the same (and count the same:
    ``gridcase_jobs_run`` by outcome, ``gridcase_job_duration_seconds``)."""
    started = time.perf_counter()
    outcome = "failed"
    try:
        result = _resolve(func_path)(*args)
        db.session.commit()
        outcome = "ok"
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
        elapsed = time.perf_counter() - started
        metrics.JOBS_RUN.labels(func_path, outcome).inc()
        metrics.JOB_LATENCY.labels(func_path).observe(elapsed)
        log.log(
            logging.INFO if outcome == "ok" else logging.WARNING,
            "job %s %s in %.0f ms",
            func_path,
            outcome,
            elapsed * 1000,
            extra={"job": func_path, "outcome": outcome, "duration_ms": round(elapsed * 1000, 1)},
        )


def run_inline_jobs() -> int:
    """Embedded mode: run the jobs queued by committed transactions, in this thread. Returns how many."""
    inline = runtime.inline_jobs()
    ran = 0
    while True:
        try:
            func_path, args, meta = inline.get_nowait()
        except Empty:
            return ran
        try:
            with logs.bound(meta.get("request_id")):
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

        # A Redis that does not answer (a dropped network) costs a committing process 5 s, not the system's
        # two-minute connect timeout; its jobs are then kept and sent again (``UnsentJobs``).
        connection = Redis.from_url(redis_url, socket_connect_timeout=5)
    runtime.install_jobs(app, SimpleQueue(), UnsentJobs(), connection)
    if not _listening:
        event.listen(Session, "after_commit", _dispatch)
        event.listen(Session, "after_rollback", _discard)
        _listening = True


def enqueue_now(queue: QueueSpec, func: Job, *args: Any, job_id: str | None = None) -> bool:
    """Stack mode, outside a transaction (the scheduler): put a job on RQ now.

    With ``job_id``, a job still waiting or running under that id is not queued twice. Returns whether
    a job was queued.
    """
    from rq import Queue

    connection = runtime.redis()
    rq_queue = Queue(queue.name, connection=connection)
    if job_id is not None:
        existing = rq_queue.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=True) in (
            "queued",
            "started",
            "deferred",
            "scheduled",
        ):
            return False
    metrics.JOBS_QUEUED.labels(queue.name).inc()
    rq_queue.enqueue(
        run_job,
        job_path(func),
        *args,
        job_id=job_id,
        job_timeout=queue.timeout_seconds,
        result_ttl=600,
        failure_ttl=7 * 86400,
    )
    return True
