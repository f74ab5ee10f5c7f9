"""Background jobs: queues, the one ``enqueue`` helper, and how jobs run.

Jobs take ids and re-read rows (a job may run after the data changed). ``enqueue`` writes the job into the
current transaction (``app.jobs.outbox``): in stack mode (REDIS_URL set) it goes to an RQ queue after the
commit and ``flask worker`` runs it; in embedded mode this process runs it after the commit, so a job never
sees uncommitted data. Either way a failed job is retried after the intervals of its queue (or its own),
then fails for good (``app.jobs.running``), and the scheduler's round (``app.jobs.recovery``) sends what
Redis did not take, again what Redis lost, and runs what an embedded process did not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app import metrics, runtime
from app.jobs.outbox import (
    RESEND_SECONDS,
    UnsentJobs,
    _discard,
    _dispatch,
    _write_pending,
    enqueue,
    resend_unsent_jobs,
    unsent_jobs,
)
from app.jobs.queues import ENGINE_QUEUE, PHOTOS_QUEUE, QUEUES, Job, QueueSpec, job_path
from app.jobs.running import on_instance_job_failed, run_inline_jobs, run_job

__all__ = [
    "ENGINE_QUEUE",
    "PHOTOS_QUEUE",
    "QUEUES",
    "RESEND_SECONDS",
    "Job",
    "QueueSpec",
    "UnsentJobs",
    "enqueue",
    "enqueue_now",
    "init_jobs",
    "job_path",
    "on_instance_job_failed",
    "resend_unsent_jobs",
    "run_inline_jobs",
    "run_job",
    "unsent_jobs",
]

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
    from queue import SimpleQueue

    runtime.install_jobs(app, SimpleQueue(), UnsentJobs(), connection)
    if not _listening:
        event.listen(Session, "before_commit", _write_pending)
        event.listen(Session, "after_commit", _dispatch)
        event.listen(Session, "after_rollback", _discard)
        _listening = True


def enqueue_now(
    queue: QueueSpec, func: Job, *args: Any, job_id: str | None = None, instance_id: int | None = None
) -> bool:
    """Stack mode, outside a transaction (the scheduler, whose work the database recovers by itself): put a
    job on RQ now, with its queue's retries; ``instance_id``: the instance its last failure parks.

    With ``job_id``, a job still waiting, running or waiting for a retry under that id is not queued twice.
    Returns whether a job was queued.
    """
    from rq import Queue, Retry

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
    intervals = list(queue.retry_intervals)
    metrics.JOBS_QUEUED.labels(queue.name).inc()
    rq_queue.enqueue(
        run_job,
        job_path(func),
        *args,
        instance_id=instance_id,
        job_id=job_id,
        job_timeout=queue.timeout_seconds,
        result_ttl=600,
        failure_ttl=7 * 86400,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
    )
    return True
