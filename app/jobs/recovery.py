"""The scheduler's round over the outbox: what the committing processes did not finish.

Stack mode: rows still ``pending`` after ``SEND_GRACE`` are marked ``sent`` when Redis has their job, and
sent when it has not (their process died before sending, or Redis was away); ``sent`` rows whose job Redis
lost are sent again, those RQ failed without the row knowing are failed; retries whose wait is over are
moved onto their queues (``rq.Retry`` parks them in RQ's scheduled registry; this round is the RQ
scheduler, so no worker forks one).
Embedded mode: rows never run (the process stopped first) and retries that are due run here.
Both: ``done`` rows older than ``JOB_OUTBOX_RETENTION_HOURS`` are deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, text, update

from app import runtime
from app.clock import now
from app.extensions import db
from app.jobs.models import JobOutbox, OutboxStatus, rq_job_id
from app.jobs.outbox import PRUNE_LIMIT, ROUND_LIMIT, SEND_GRACE, send
from app.jobs.queues import QUEUES
from app.jobs.running import OutboxJob, fail_lost_job, run_job

log = logging.getLogger(__name__)


@dataclass
class RoundReport:
    sent: int = 0  # pending rows sent by the round
    marked: int = 0  # pending rows Redis had already: only marked sent
    resent: int = 0  # sent rows Redis had lost, sent again
    failed: int = 0  # sent rows RQ had failed without the row knowing
    retried: int = 0  # retries moved from RQ's scheduled registry onto their queues
    ran: int = 0  # embedded mode: jobs run by the round
    pruned: int = 0  # done rows deleted

    def total(self) -> int:
        return sum(vars(self).values())


def outbox_round() -> RoundReport:
    """One round; each part commits on its own, and Redis being away only postpones the stack-mode parts."""
    from redis.exceptions import RedisError

    report = RoundReport()
    if runtime.settings().redis_url:
        connection = runtime.redis()
        try:
            report.retried = move_due_retries(connection)
            report.sent, report.marked = send_pending(connection)
            report.resent, report.failed = recover_sent(connection)
        except (RedisError, OSError) as exc:
            db.session.rollback()
            log.warning("the outbox round waits for Redis: %s", exc)
    else:
        report.ran = run_due_jobs()
    report.pruned = prune_done()
    return report


def _statuses(connection: Any, ids: list[int]) -> list[str | None]:
    """RQ's status of each row's job, None where Redis has no such job; one round trip."""
    from rq.job import Job

    with connection.pipeline() as pipeline:
        for row_id in ids:
            pipeline.hget(Job.key_for(rq_job_id(row_id)), "status")
        values = pipeline.execute()
    return [value.decode() if value is not None else None for value in values]


def send_pending(connection: Any) -> tuple[int, int]:
    rows = list(
        db.session.execute(
            select(JobOutbox)
            .where(JobOutbox.status == OutboxStatus.PENDING, JobOutbox.created_at < now() - SEND_GRACE)
            .order_by(JobOutbox.id)
            .limit(ROUND_LIMIT)
        ).scalars()
    )
    db.session.rollback()  # a read: no lock held while talking to Redis
    if not rows:
        return 0, 0
    statuses = _statuses(connection, [row.id for row in rows])
    missing = [OutboxJob.of(row) for row, status in zip(rows, statuses, strict=True) if status is None]
    if missing:
        send(connection, missing)
        log.warning("the round sent %d jobs their process had not", len(missing))
    mark_sent([row.id for row in rows])
    return len(missing), len(rows) - len(missing)


def mark_sent(ids: list[int]) -> None:
    """Mark rows that Redis has as sent (the round), in a transaction of its own. Rows a worker holds are
    skipped: it is running them already, and it marks them done."""
    if not ids:
        return
    try:
        with db.engine.begin() as connection:
            claimable = select(JobOutbox.id).where(
                JobOutbox.id.in_(ids), JobOutbox.status == OutboxStatus.PENDING
            )
            if connection.dialect.name == "postgresql":
                # Nothing to wait for on disk: a lost mark only makes the next round look at Redis again.
                connection.execute(text("SET LOCAL synchronous_commit = off"))
                claimable = claimable.with_for_update(skip_locked=True)
            connection.execute(
                update(JobOutbox)
                .where(JobOutbox.id.in_(claimable.scalar_subquery()))
                .values(status=OutboxStatus.SENT, sent_at=now())
            )
    except Exception:
        log.exception("marking %d jobs sent failed; the next round marks them", len(ids))


def recover_sent(connection: Any) -> tuple[int, int]:
    rows = list(
        db.session.execute(
            select(JobOutbox)
            .where(JobOutbox.status == OutboxStatus.SENT, JobOutbox.sent_at < now() - SEND_GRACE)
            .order_by(JobOutbox.sent_at)
            .limit(ROUND_LIMIT)
        ).scalars()
    )
    db.session.rollback()
    if not rows:
        return 0, 0
    statuses = _statuses(connection, [row.id for row in rows])
    lost = [OutboxJob.of(row) for row, status in zip(rows, statuses, strict=True) if status is None]
    if lost:
        send(connection, lost)
        log.warning("Redis had lost %d sent jobs: sent again", len(lost))
    failed = 0
    for row, status in zip(rows, statuses, strict=True):
        if status == "failed" and fail_lost_job(row.id, "RQ failed the job (its worker stopped mid-job?)"):
            failed += 1
    return len(lost), failed


def move_due_retries(connection: Any) -> int:
    """Put the retries whose wait is over onto their queues (what RQ's own scheduler would do)."""
    from rq import Queue
    from rq.job import Job
    from rq.utils import current_timestamp

    moved = 0
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        registry = queue.scheduled_job_registry
        job_ids = registry.get_jobs_to_schedule(current_timestamp())
        if not job_ids:
            continue
        with connection.pipeline() as pipeline:
            for job in Job.fetch_many(job_ids, connection=connection):
                if job is not None:
                    queue.enqueue_job(job, pipeline=pipeline)
                    moved += 1
            for job_id in job_ids:
                registry.remove(job_id, pipeline=pipeline)
            pipeline.execute()
    return moved


def run_due_jobs() -> int:
    """Embedded mode: run the rows never run after ``SEND_GRACE`` and the retries that are due."""
    timestamp = now()
    rows = list(
        db.session.execute(
            select(JobOutbox)
            .where(
                JobOutbox.status == OutboxStatus.PENDING,
                or_(
                    JobOutbox.next_attempt_at <= timestamp,
                    (JobOutbox.next_attempt_at.is_(None)) & (JobOutbox.created_at < timestamp - SEND_GRACE),
                ),
            )
            .order_by(JobOutbox.id)
            .limit(ROUND_LIMIT)
        ).scalars()
    )
    jobs = [OutboxJob.of(row) for row in rows]
    db.session.rollback()
    for job in jobs:
        try:
            run_job(job.func_path, *job.args, outbox_id=job.id)
        except Exception:
            log.exception("job %s%r failed", job.func_path, job.args)
    return len(jobs)


def prune_done() -> int:
    """Delete ``done`` rows past the retention (failed rows stay until an admin queues them again)."""
    cutoff = now() - timedelta(hours=runtime.settings().job_outbox_retention_hours)
    ids = (
        select(JobOutbox.id)
        .where(JobOutbox.status == OutboxStatus.DONE, JobOutbox.finished_at < cutoff)
        .limit(PRUNE_LIMIT)
    )
    result = db.session.execute(
        delete(JobOutbox)
        .where(JobOutbox.id.in_(ids.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
