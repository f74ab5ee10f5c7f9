"""What admins do with jobs: list them (failed ones with their reason) and queue a failed one again."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from app.audit.services import Actor, record
from app.errors import Conflict, NotFound
from app.extensions import db
from app.jobs.models import JobOutbox, OutboxStatus
from app.jobs.outbox import send_again


def list_jobs(status: str | None = None, queue: str | None = None) -> Select[tuple[JobOutbox]]:
    """Jobs, newest first."""
    query = select(JobOutbox).order_by(JobOutbox.id.desc())
    if status is not None:
        query = query.where(JobOutbox.status == status)
    if queue is not None:
        query = query.where(JobOutbox.queue == queue)
    return query


def requeue(outbox_id: int, actor: Actor) -> JobOutbox:
    """Queue a failed job again (after its cause was repaired), audited; the caller commits."""
    row = db.session.get(JobOutbox, outbox_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(f"后台任务 {outbox_id} 不存在 (no job {outbox_id})")
    if row.status != OutboxStatus.FAILED:
        raise Conflict(
            f"只能重新排队失败的后台任务，此任务状态为 {row.status} (only a failed job can be queued again)",
            {"status": row.status},
        )
    before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error}
    send_again(row)
    record(
        "job.requeued",
        entity_type="job",
        entity_id=row.id,
        actor=actor,
        before=before,
        after={"status": row.status, "attempts": row.attempts},
        data={"job": row.func_path, "args": row.args, "instance_id": row.instance_id},
    )
    return row


def counts_by_status() -> dict[str, int]:
    """How many jobs are in each status (``pending`` waits for Redis, ``failed`` waits for an admin)."""
    rows = db.session.execute(select(JobOutbox.status, func.count()).group_by(JobOutbox.status)).all()
    counts = dict.fromkeys(OutboxStatus.ALL, 0)
    counts.update({status: count for status, count in rows})
    return counts
