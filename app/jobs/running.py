"""Running one job: in its own transaction, to its end at most once, and what a failure leaves behind.

A job from the outbox first locks its row: a row already ``done`` (a second delivery of the same job: a
re-send after a crash between sending and marking it sent, or two senders racing) makes the run do nothing,
and the job's effects and its ``done`` mark commit together. A failure is counted on the row; after the
last retry the row is ``failed`` (listed for admins), and a job that concerns a process instance opens an
incident on it through the handler the workflow registers (this package sits below the workflow).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from queue import Empty
from typing import Any

from sqlalchemy import update

from app import logs, metrics, runtime
from app.audit.services import record
from app.clock import now
from app.extensions import db
from app.jobs.models import JobOutbox, OutboxStatus
from app.jobs.queues import resolve

log = logging.getLogger(__name__)

# (instance id, reason, details) → opens an incident on the instance in the current transaction.
InstanceFailureHandler = Callable[[int, str, dict[str, Any]], None]
_instance_failure_handlers: list[InstanceFailureHandler] = []


def on_instance_job_failed(handler: InstanceFailureHandler) -> None:
    """Register what a job concerning an instance does to it when it failed for good (one handler)."""
    _instance_failure_handlers[:] = [handler]


@dataclass(frozen=True)
class OutboxJob:
    """What an outbox row asks for: all the sender and the runner need, without the row."""

    id: int
    queue: str
    func_path: str
    args: tuple[Any, ...]
    retry_intervals: tuple[int, ...]
    instance_id: int | None
    # The request that queued it (log lines of the job carry it). Not stored in the row: a job the round
    # sends again from its row runs without it.
    request_id: str | None = None

    @classmethod
    def of(cls, row: JobOutbox) -> OutboxJob:
        return cls(
            row.id, row.queue, row.func_path, tuple(row.args), tuple(row.retry_intervals), row.instance_id
        )


def run_job(func_path: str, *args: Any, outbox_id: int | None = None, instance_id: int | None = None) -> Any:
    """Run one job in its own transaction: commit on success, roll back on failure, then a fresh session.
    RQ and the embedded runner both call jobs through this, so they behave the same (and count the same:
    ``gridcase_jobs_run`` by outcome, ``gridcase_job_duration_seconds``)."""
    started = time.perf_counter()
    outcome = "failed"
    try:
        if outbox_id is not None and not _claim(outbox_id):
            db.session.rollback()
            log.info("job outbox-%s has run already: this delivery does nothing", outbox_id)
            outcome = "repeat"
            return None
        result = resolve(func_path)(*args)
        if outbox_id is not None:
            _mark_done(outbox_id)
        db.session.commit()
        outcome = "ok"
        return result
    except Exception as exc:
        db.session.rollback()
        _record_failure(func_path, args, outbox_id, instance_id, exc)
        raise
    finally:
        db.session.remove()
        elapsed = time.perf_counter() - started
        metrics.JOBS_RUN.labels(func_path, outcome).inc()
        metrics.JOB_LATENCY.labels(func_path).observe(elapsed)
        log.log(
            logging.WARNING if outcome == "failed" else logging.INFO,
            "job %s %s in %.0f ms",
            func_path,
            outcome,
            elapsed * 1000,
            extra={"job": func_path, "outcome": outcome, "duration_ms": round(elapsed * 1000, 1)},
        )


def _claim(outbox_id: int) -> bool:
    """Lock the job's row for this run; False when it has no business running (done, failed, gone)."""
    row = _locked(outbox_id)
    return row is not None and row.status in OutboxStatus.OPEN


def _mark_done(outbox_id: int) -> None:
    """In the job's (last) transaction: its effects and the mark commit together. A job that commits on its
    way (``open_cases_job``, a transaction per case) relies on its own idempotency for what came before."""
    db.session.execute(
        update(JobOutbox)
        .where(JobOutbox.id == outbox_id)
        .values(status=OutboxStatus.DONE, finished_at=now(), next_attempt_at=None)
    )


def _locked(outbox_id: int) -> JobOutbox | None:
    return db.session.get(JobOutbox, outbox_id, with_for_update=True, populate_existing=True)


def _record_failure(
    func_path: str, args: tuple[Any, ...], outbox_id: int | None, instance_id: int | None, exc: Exception
) -> None:
    """Count the failure in a fresh transaction; after the last attempt, fail the job for good. Never raises:
    the job's own exception is what RQ (or the embedded runner) must see."""
    from rq import get_current_job

    reason = f"{exc.__class__.__name__}: {exc}"[:2000]
    rq_job = get_current_job()
    try:
        if outbox_id is not None:
            row = _locked(outbox_id)
            if row is None or row.status not in OutboxStatus.OPEN:
                db.session.rollback()
                return
            final = _count_failure(row, reason, rq_job)
            if final:
                _failed_for_good(row.func_path, list(row.args), reason, row.id, row.instance_id, row.attempts)
        else:  # a job sent without a row (the scheduler's timers): RQ alone counts its attempts
            final = rq_job is None or not rq_job.retries_left
            if final:
                _failed_for_good(func_path, list(args), reason, None, instance_id, None)
        if not final:
            log.warning("job %s%r failed, to be retried: %s", func_path, args, reason)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("recording the failure of job %s%r failed", func_path, args)


def _count_failure(row: JobOutbox, reason: str, rq_job: Any) -> bool:
    """One more failed attempt on ``row``; returns whether it was the last."""
    row.attempts += 1
    row.last_error = reason
    if rq_job is not None:
        final = not rq_job.retries_left  # RQ schedules the retries (rq.Retry, sent with the job)
        row.status = OutboxStatus.SENT
        row.sent_at = row.sent_at or now()  # the round watches sent rows from here on
    else:
        final = row.attempts > len(row.retry_intervals)
        if not final:  # embedded mode: the scheduler's round runs it again when due
            row.next_attempt_at = now() + timedelta(seconds=row.retry_intervals[row.attempts - 1])
    if final:
        row.status = OutboxStatus.FAILED
        row.finished_at = now()
        row.next_attempt_at = None
    return final


def fail_lost_job(outbox_id: int, reason: str) -> bool:
    """Fail for good a sent job RQ has failed without the row knowing (its worker was killed mid-job, or
    recording the failure did not commit). Commits; returns whether the row was failed here."""
    row = _locked(outbox_id)
    if row is None or row.status != OutboxStatus.SENT:
        db.session.rollback()
        return False
    row.status = OutboxStatus.FAILED
    row.finished_at = now()
    row.last_error = reason
    _failed_for_good(row.func_path, list(row.args), reason, row.id, row.instance_id, row.attempts)
    db.session.commit()
    return True


def _failed_for_good(
    func_path: str,
    args: list[Any],
    reason: str,
    outbox_id: int | None,
    instance_id: int | None,
    attempts: int | None,
) -> None:
    """Log and audit a job that failed after its last retry; one concerning an instance opens an incident."""
    log.error("job %s%r failed after its last retry: %s", func_path, args, reason)
    details = {"job": func_path, "args": args, "outbox_id": outbox_id, "attempts": attempts}
    record(
        "job.failed",
        entity_type="job",
        entity_id=outbox_id if outbox_id is not None else func_path,
        data={**details, "reason": reason, "instance_id": instance_id},
    )
    if instance_id is not None:
        for handler in _instance_failure_handlers:
            handler(instance_id, reason, details)


def run_inline_jobs() -> int:
    """Embedded mode: run the jobs queued by committed transactions, in this thread. Returns how many."""
    inline = runtime.inline_jobs()
    ran = 0
    while True:
        try:
            job: OutboxJob = inline.get_nowait()
        except Empty:
            return ran
        try:
            with logs.bound(job.request_id):
                run_job(job.func_path, *job.args, outbox_id=job.id)
        except Exception:
            log.exception("job %s%r failed", job.func_path, job.args)
        ran += 1
