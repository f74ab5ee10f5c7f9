"""The transactional outbox: ``enqueue`` writes the job's row in the caller's transaction; after the commit
the row is sent to RQ (stack mode) or handed to the in-process runner (embedded mode).

Sending never fails the transaction it follows (it has committed): jobs Redis does not take are kept by
this process to send again (``UnsentJobs``: the next commit, or the listener while idle), and their rows
stay ``pending``. The scheduler's round (``app.jobs.recovery``) looks at the rows still open after
``SEND_GRACE``: the RQ job id is ``outbox-<row id>``, so it asks Redis whether each job is there; a job that
is there is only marked ``sent``, one that is not (never sent: the process died; or lost: Redis restarted
without persistence) is sent. A worker marks a row ``done`` in the transaction of the job's effects, so a
job delivered twice runs to its end once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app import logs, metrics, runtime
from app.clock import now
from app.extensions import db
from app.jobs.models import JobOutbox, OutboxStatus, rq_job_id
from app.jobs.queues import QUEUES, Job, QueueSpec, job_path
from app.jobs.running import OutboxJob, run_job

log = logging.getLogger(__name__)

_PENDING = "gridcase.outbox_pending"  # jobs enqueued in the current transaction, written before it commits
_COMMITTING = "gridcase.outbox_committing"  # the same with their row ids, sent (or run) after the commit
SEND_GRACE = timedelta(seconds=30)  # the committing process sends its rows at once; the round after this
ROUND_LIMIT = 1000  # rows the round looks at per kind of work
PRUNE_LIMIT = 10_000  # done rows deleted per round (short transactions; the next round goes on)
UNSENT_LIMIT = 100_000  # jobs kept in memory while Redis is away; beyond, the round sends them from the rows
RESEND_SECONDS = 2.0  # while jobs wait for Redis, a commit tries again at most this often
RESULT_TTL = 3600
FAILURE_TTL = 7 * 86400


def enqueue(
    queue: QueueSpec,
    func: Job,
    *args: Any,
    instance_id: int | None = None,
    retry_intervals: tuple[int, ...] | None = None,
) -> None:
    """Run ``func(*args)`` in the background once the current transaction has committed (never if it rolls
    back). ``args`` are stored as JSON (ids, not objects); ``instance_id``: the process instance the job
    concerns (its last failure opens an incident there); ``retry_intervals``: this job kind's own retries."""
    path = job_path(func)
    try:
        stored = json.loads(json.dumps(list(args)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job {path}: arguments must be JSON values (ids), got {args!r}") from exc
    intervals = list(queue.retry_intervals if retry_intervals is None else retry_intervals)
    row = {
        "queue": queue.name,
        "func_path": path,
        "args": stored,
        "retry_intervals": intervals,
        "instance_id": instance_id,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": now(),
    }
    request_id = logs.job_context().get("request_id")
    job = OutboxJob(0, queue.name, path, tuple(stored), tuple(intervals), instance_id, request_id)
    db.session.info.setdefault(_PENDING, []).append((row, job))


def _write_pending(session: Session) -> None:
    """Just before the commit, in its transaction: the rows of its jobs, in one INSERT (no ORM unit of work,
    as for audit events: ``bench.outbox``), keeping their ids for ``_dispatch``."""
    pending: list[tuple[dict[str, Any], OutboxJob]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    connection = session.connection(bind_arguments={"mapper": JobOutbox})
    ids = connection.execute(_INSERT, [row for row, _ in pending]).scalars().all()
    committing: list[OutboxJob] = session.info.setdefault(_COMMITTING, [])
    committing.extend(replace(job, id=row_id) for (_, job), row_id in zip(pending, ids, strict=True))


def _dispatch(session: Session) -> None:
    jobs: list[OutboxJob] = session.info.pop(_COMMITTING, [])
    if not jobs:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for job in jobs:
        metrics.JOBS_QUEUED.labels(job.queue).inc()
    if runtime.settings(app).redis_url:
        _send_or_keep(app, jobs)
    else:
        inline = runtime.inline_jobs(app)
        for job in jobs:
            inline.put(job)


def _discard(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMITTING, None)


_TABLE = JobOutbox.__table__
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


# -- sending (stack mode) ------------------------------------------------------------------------------


@dataclass
class UnsentJobs:
    """Jobs of committed transactions that Redis did not take, oldest first, to send again soon.

    Their rows are ``pending`` in the database, which is what guarantees them (the scheduler's round sends
    them if this process dies or drops them past ``UNSENT_LIMIT``); keeping them here lets the listener
    send them again the moment Redis is back without reading the database."""

    jobs: deque[OutboxJob] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_attempt: float = 0.0
    dropped: int = 0  # left to the round (memory bound)
    error: str | None = None  # why the last attempt failed


def _send_or_keep(app: Any, jobs: list[OutboxJob]) -> None:
    unsent = runtime.unsent_jobs(app)
    with unsent.lock:
        unsent.jobs.extend(jobs)
        overflow = len(unsent.jobs) - UNSENT_LIMIT
        for _ in range(max(0, overflow)):
            unsent.jobs.popleft()
        if overflow > 0:
            unsent.dropped += overflow
            log.error("%d waiting jobs left to the scheduler's round (their rows are pending)", overflow)
        if len(unsent.jobs) > len(jobs) and time.monotonic() - unsent.last_attempt < RESEND_SECONDS:
            return  # Redis was away a moment ago: no connection attempt per commit
        _flush(app, unsent)


def _flush(app: Any, unsent: UnsentJobs) -> None:
    """Send what is kept, in order, in one round trip (the caller holds the lock). The rows are not marked
    here: a transaction of its own per commit cost the committing process more than the row and the send
    together (``bench.outbox``), and nothing needs it: the worker marks a row ``done`` when it runs it, and
    the round marks ``sent`` the rows still waiting on a queue after ``SEND_GRACE`` (asking Redis)."""
    from redis.exceptions import RedisError

    unsent.last_attempt = time.monotonic()
    jobs = list(unsent.jobs)
    if not jobs:
        return
    try:
        send(runtime.redis(app), jobs)
    except (RedisError, OSError) as exc:
        if unsent.error is None:
            log.error("Redis did not take %d jobs (%s); kept to send again", len(jobs), exc)
        unsent.error = f"{exc.__class__.__name__}: {exc}"
        return
    except Exception:
        # Not Redis being away but a bug: keeping them would block the rest. Their rows stay pending.
        log.exception("%d jobs could not be queued; left to the scheduler's round: %s", len(jobs), jobs[:10])
        unsent.dropped += len(jobs)
        unsent.jobs.clear()
        return
    for _ in jobs:
        unsent.jobs.popleft()
    if unsent.error is not None:
        log.warning("Redis is back: %d kept jobs sent", len(jobs))
    unsent.error = None


def send(connection: Any, jobs: list[OutboxJob]) -> None:
    """Put ``jobs`` on their RQ queues in one round trip, each under its ``outbox-<id>`` job id, with its
    retries (``rq.Retry``: RQ re-queues a failed job after each interval)."""
    from rq import Queue, Retry

    by_queue: dict[str, list[Any]] = {}
    for job in jobs:
        spec = QUEUES[job.queue]
        intervals = list(job.retry_intervals)
        retry = Retry(max=len(intervals), interval=intervals) if intervals else None
        by_queue.setdefault(job.queue, []).append(
            Queue.prepare_data(
                run_job,
                (job.func_path, *job.args),
                {"outbox_id": job.id},
                timeout=spec.timeout_seconds,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                job_id=rq_job_id(job.id),
                retry=retry,
                meta={"request_id": job.request_id} if job.request_id else None,
            )
        )
    # All of a transaction's jobs in one round trip (a listener's batch may open many cases).
    with connection.pipeline() as pipeline:
        for queue_name, datas in by_queue.items():
            Queue(queue_name, connection=connection).enqueue_many(datas, pipeline=pipeline)
        pipeline.execute()


def resend_unsent_jobs() -> int:
    """Send the jobs Redis did not take (at most every ``RESEND_SECONDS``); returns how many still wait."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    unsent = runtime.unsent_jobs(app)
    with unsent.lock:
        if unsent.jobs and time.monotonic() - unsent.last_attempt >= RESEND_SECONDS:
            _flush(app, unsent)
        return len(unsent.jobs)


def unsent_jobs() -> tuple[int, str | None]:
    """How many jobs wait for Redis in this process, and why the last attempt failed (health checks)."""
    unsent = runtime.unsent_jobs()
    with unsent.lock:
        return len(unsent.jobs), unsent.error


def send_again(row: JobOutbox) -> None:
    """Make a failed job ``pending`` again with all its retries; it is sent (or run) after the caller's
    commit like a new one. Its old RQ job, kept by RQ as failed, is deleted first so the id is free."""
    if runtime.settings().redis_url:
        _forget_rq_job(row.id)
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.sent_at = None
    row.next_attempt_at = None
    row.finished_at = None
    row.created_at = now()  # the round's grace counts from here
    job = OutboxJob.of(row)
    committing: list[OutboxJob] = db.session.info.setdefault(_COMMITTING, [])
    committing.append(job)


def _forget_rq_job(outbox_id: int) -> None:
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        Job.fetch(rq_job_id(outbox_id), connection=runtime.redis()).delete()
    except NoSuchJobError:
        pass
    except (RedisError, OSError) as exc:
        # Sending it again overwrites the job anyway; only RQ's failed registry keeps a stale entry.
        log.warning("could not delete the failed RQ job of outbox row %s: %s", outbox_id, exc)
