"""Embedded mode runs jobs in this process after the commit, through the same outbox rows as stack mode: a
job runs once, a failed one is retried at its intervals by the scheduler's round and then fails for good
(an incident on its instance), a job whose process stopped first is run by the round, and rows that ran
are deleted after the retention. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.audit.services import record
from app.extensions import db
from app.jobs import ENGINE_QUEUE, enqueue, outbox, run_inline_jobs
from app.jobs.models import JobOutbox, OutboxStatus
from app.workflow import scheduler
from app.workflow.models import EngineIncident, IncidentKind, InstanceStatus, ProcessInstance
from tests.factories import app_on_both_backends, create_case
from tests.helpers import instance

app = app_on_both_backends

GRACE = outbox.SEND_GRACE + timedelta(seconds=1)


def note_run(tag: str) -> None:
    record("probe.ran", entity_type="probe", entity_id=tag)


def fails_twice(tag: str) -> None:
    """Fails until two failures of ``tag`` are on its row, then works."""
    row = db.session.execute(
        select(JobOutbox).where(JobOutbox.func_path.endswith("fails_twice"))
    ).scalar_one()
    if row.attempts < 2:
        raise RuntimeError(f"暂时不可用 (unavailable, attempt {row.attempts + 1})")
    note_run(tag)


def always_fails(instance_id: int) -> None:
    raise RuntimeError(f"下游服务不可用 (downstream unavailable for instance {instance_id})")


def _runs(tag: str) -> int:
    query = select(func.count()).select_from(AuditEvent)
    return db.session.execute(
        query.where(AuditEvent.action == "probe.ran", AuditEvent.entity_id == tag)
    ).scalar_one()


def _row(func_name: str) -> JobOutbox:
    db.session.expire_all()
    row = db.session.execute(select(JobOutbox).where(JobOutbox.func_path.endswith(func_name))).scalar_one()
    db.session.rollback()
    return row


def test_a_job_runs_after_the_commit_once_and_its_row_says_so(app: Flask) -> None:
    record("probe.change", entity_type="probe", entity_id="a")
    enqueue(ENGINE_QUEUE, note_run, "a")
    assert _runs("a") == 0
    db.session.commit()
    assert _row("note_run").status == OutboxStatus.PENDING  # not inside the request: the runner runs it
    assert run_inline_jobs() == 1
    assert _runs("a") == 1
    row = _row("note_run")
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.DONE, 0, None)
    assert run_inline_jobs() == 0
    scheduler.tick()  # nothing left for the round either
    assert _runs("a") == 1


def test_a_job_whose_process_stopped_before_running_it_is_run_by_the_round(app: Flask, clock: Any) -> None:
    enqueue(ENGINE_QUEUE, note_run, "b")
    db.session.commit()
    app.extensions["gridcase.inline_jobs"].get_nowait()  # the process stopped: its queue is gone
    scheduler.tick()
    assert _runs("b") == 0  # within the grace its own process may still run it
    clock.advance(GRACE)
    scheduler.tick()
    scheduler.tick()
    assert _runs("b") == 1
    assert _row("note_run").status == OutboxStatus.DONE


def test_a_failing_job_is_retried_at_its_intervals_by_the_round(app: Flask, clock: Any) -> None:
    enqueue(ENGINE_QUEUE, fails_twice, "c", retry_intervals=(10, 60))
    db.session.commit()
    run_inline_jobs()
    row = _row("fails_twice")
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at is not None and "attempt 1" in (row.last_error or "")
    clock.advance(seconds=9)
    scheduler.tick()
    assert _row("fails_twice").attempts == 1  # not due yet
    clock.advance(seconds=1)
    scheduler.tick()
    assert _row("fails_twice").attempts == 2
    clock.advance(seconds=59)
    scheduler.tick()
    assert _runs("c") == 0
    clock.advance(seconds=1)
    scheduler.tick()
    assert _runs("c") == 1
    row = _row("fails_twice")
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.DONE, 2, None)


def test_a_job_failing_after_its_last_retry_opens_an_incident_on_its_instance(
    app: Flask, client: Any, auth: Any, users: Any, deployed: None, clock: Any
) -> None:
    key = create_case(client, auth, "handle")
    instance_id = instance(key).id
    run_inline_jobs()
    enqueue(ENGINE_QUEUE, always_fails, instance_id, instance_id=instance_id, retry_intervals=(5,))
    db.session.commit()
    run_inline_jobs()
    assert db.session.get(ProcessInstance, instance_id).status == InstanceStatus.RUNNING
    clock.advance(seconds=5)
    scheduler.tick()
    row = _row("always_fails")
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    db.session.expire_all()
    incident = db.session.execute(
        select(EngineIncident).where(EngineIncident.instance_id == instance_id)
    ).scalar_one()
    assert incident.kind == IncidentKind.JOB and "downstream unavailable" in incident.reason
    assert db.session.get(ProcessInstance, instance_id).status == InstanceStatus.ERROR
    listed = client.get("/api/v1/jobs?status=failed", headers=auth("admin")).get_json()
    assert [item["id"] for item in listed["items"]] == [row.id]
    clock.advance(hours=1)
    scheduler.tick()  # failed for good: not run again
    assert _row("always_fails").attempts == 2


def test_rows_that_ran_are_deleted_after_the_retention_and_failed_ones_stay(app: Flask, clock: Any) -> None:
    retention_hours = app.extensions["gridcase.settings"].job_outbox_retention_hours
    assert retention_hours == 72  # JOB_OUTBOX_RETENTION_HOURS' default
    enqueue(ENGINE_QUEUE, note_run, "old")
    enqueue(ENGINE_QUEUE, always_fails, 0, retry_intervals=())
    db.session.commit()
    run_inline_jobs()
    clock.advance(hours=retention_hours - 1)
    enqueue(ENGINE_QUEUE, note_run, "recent")
    db.session.commit()
    run_inline_jobs()
    clock.advance(hours=1, seconds=1)
    scheduler.tick()
    db.session.expire_all()
    left = db.session.execute(select(JobOutbox.args, JobOutbox.status).order_by(JobOutbox.id)).all()
    assert [(args, status) for args, status in left] == [([0], "failed"), (["recent"], "done")]
