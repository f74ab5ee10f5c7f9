"""Jobs that are never lost: the transactional outbox in stack mode (PostgreSQL, a private Redis the tests
stop and start, RQ's SimpleWorker in this process), retries with backoff, and what a job that fails for
good becomes (an incident on its instance; a failed job listed for admins, who may queue it again)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.audit.services import record
from app.extensions import db
from app.jobs import ENGINE_QUEUE, enqueue, outbox, unsent_jobs
from app.jobs.models import JobOutbox, OutboxStatus
from app.jobs.outbox import send
from app.jobs.running import OutboxJob
from app.worker import run_worker
from app.workflow import scheduler
from app.workflow.models import EngineIncident, IncidentKind, InstanceStatus, ProcessInstance
from tests.connectors.brokers import Redis
from tests.factories import create_case
from tests.helpers import instance

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

GRACE = outbox.SEND_GRACE + timedelta(seconds=1)


# -- the jobs (module level: RQ finds them by their import path) --------------------------------------


def note_run(tag: str) -> None:
    """The side effect we count: one audit event per run that committed."""
    record("probe.ran", entity_type="probe", entity_id=tag)


def always_fails(instance_id: int) -> None:
    raise RuntimeError(f"下游服务不可用 (downstream unavailable for instance {instance_id})")


# -- fixtures and helpers --------------------------------------------------------------------------------


@pytest.fixture
def app(make_app: Any, redis_server: Redis) -> Iterator[Flask]:
    """Replaces conftest's ``app``: stack mode on PostgreSQL with a private Redis the test may stop."""
    flask_app: Flask = make_app("postgresql", redis_url=redis_server.url)
    with flask_app.app_context():
        yield flask_app
        db.session.remove()
        db.engine.dispose()


def _engine_queue(flask_app: Flask) -> Queue:
    return Queue("engine", connection=flask_app.extensions["gridcase.redis"])


def _runs(tag: str) -> int:
    query = select(func.count()).select_from(AuditEvent)
    query = query.where(AuditEvent.action == "probe.ran", AuditEvent.entity_id == tag)
    return db.session.execute(query).scalar_one()


def _rows() -> list[JobOutbox]:
    db.session.expire_all()
    rows = list(db.session.execute(select(JobOutbox).order_by(JobOutbox.id)).scalars())
    db.session.rollback()
    return rows


def _commit_with_job(tag: str) -> None:
    record("probe.change", entity_type="probe", entity_id=tag)  # the change the job follows
    enqueue(ENGINE_QUEUE, note_run, tag)
    db.session.commit()


# -- never lost, never doubled -------------------------------------------------------------------------


def test_redis_stopped_between_the_commit_and_its_enqueue_the_job_runs_once_when_redis_is_back(
    app: Flask, redis_server: Redis, clock: Any
) -> None:
    redis_server.stop()
    _commit_with_job("a")  # the commit stands: Redis being away is not the transaction's failure
    [row] = _rows()
    assert row.status == OutboxStatus.PENDING and row.sent_at is None
    assert unsent_jobs()[0] == 1
    kept_in_memory = app.extensions["gridcase.unsent_jobs"].jobs
    kept_in_memory.clear()  # the process died; its row did not

    redis_server.start()
    scheduler.tick()
    assert _rows()[0].status == OutboxStatus.PENDING  # within the grace its own process may still send it
    clock.advance(GRACE)
    scheduler.tick()
    [row] = _rows()
    assert row.status == OutboxStatus.SENT
    assert _engine_queue(app).job_ids == [f"outbox-{row.id}"]
    scheduler.tick()  # the next round sends nothing twice
    assert _engine_queue(app).count == 1

    run_worker(app, ["engine"], burst=True)
    assert _runs("a") == 1
    [row] = _rows()
    assert (row.status, row.attempts, row.finished_at is not None) == (OutboxStatus.DONE, 0, True)


def test_a_job_redis_has_is_only_marked_by_the_round_and_a_second_delivery_does_nothing(
    app: Flask, clock: Any
) -> None:
    _commit_with_job("b")  # sent after the commit; the committing process does not mark it (bench.outbox)
    [row] = _rows()
    assert row.status == OutboxStatus.PENDING and _engine_queue(app).count == 1

    clock.advance(GRACE)
    scheduler.tick()  # Redis has the job: the round only marks the row
    assert _rows()[0].status == OutboxStatus.SENT
    assert _engine_queue(app).count == 1
    run_worker(app, ["engine"], burst=True)
    assert _runs("b") == 1

    send(app.extensions["gridcase.redis"], [OutboxJob.of(_rows()[0])])  # a second delivery all the same
    run_worker(app, ["engine"], burst=True)
    assert _runs("b") == 1  # the row says done: that run did nothing
    assert _rows()[0].status == OutboxStatus.DONE


def test_a_sent_job_that_redis_lost_in_a_restart_is_sent_again_and_runs_once(
    app: Flask, redis_server: Redis, clock: Any
) -> None:
    _commit_with_job("c")
    clock.advance(GRACE)
    scheduler.tick()
    assert _rows()[0].status == OutboxStatus.SENT  # the round saw it on its queue
    redis_server.stop()
    redis_server.start()  # no persistence: the queued job is gone
    assert _engine_queue(app).count == 0

    clock.advance(GRACE)
    scheduler.tick()
    assert _engine_queue(app).job_ids == [f"outbox-{_rows()[0].id}"]
    run_worker(app, ["engine"], burst=True)
    scheduler.tick()  # done now: nothing to send again
    assert _engine_queue(app).count == 0
    assert _runs("c") == 1


def test_a_job_rq_failed_without_its_row_knowing_is_failed_by_the_round(
    app: Flask, client: Any, auth: Any, users: Any, deployed: None, clock: Any
) -> None:
    key = create_case(client, auth, "handle")
    instance_id = instance(key).id
    enqueue(ENGINE_QUEUE, note_run, "f", instance_id=instance_id)
    db.session.commit()
    [row] = [r for r in _rows() if r.func_path.endswith("note_run")]
    # Its worker was killed mid-job (RQ's cleanup fails the job; our failure handler never ran).
    _engine_queue(app).fetch_job(f"outbox-{row.id}").set_status("failed")
    clock.advance(GRACE)
    scheduler.tick()  # Redis has the job: marked sent
    assert _rows()[0].status == OutboxStatus.SENT
    clock.advance(GRACE)
    scheduler.tick()  # RQ says failed: so does the row, and the instance gets its incident
    [row] = [r for r in _rows() if r.id == row.id]
    assert row.status == OutboxStatus.FAILED and "RQ failed the job" in (row.last_error or "")
    incident = _parked(instance_id)
    assert incident is not None and incident.kind == IncidentKind.JOB
    assert _audited("job.failed", entity_id=str(row.id)) == 1
    assert _runs("f") == 0


def test_a_rolled_back_transaction_leaves_no_job(app: Flask) -> None:
    record("probe.change", entity_type="probe", entity_id="d")
    enqueue(ENGINE_QUEUE, note_run, "d")
    db.session.rollback()
    assert _rows() == []
    assert _engine_queue(app).count == 0


# -- retries, then an incident -------------------------------------------------------------------------


def test_a_failing_job_is_retried_with_backoff_then_opens_an_incident_on_its_instance(
    app: Flask, client: Any, auth: Any, users: Any, deployed: None
) -> None:
    key = create_case(client, auth, "handle")
    instance_id = instance(key).id
    queue = _engine_queue(app)
    enqueue(ENGINE_QUEUE, always_fails, instance_id, instance_id=instance_id, retry_intervals=(3, 5))
    db.session.commit()
    [row] = [r for r in _rows() if r.func_path.endswith("always_fails")]
    job_id = f"outbox-{row.id}"

    for attempt, wait in ((1, 3), (2, 5)):  # the intervals, in order
        started = time.time()
        run_worker(app, ["engine"], burst=True)
        ended = time.time()
        failed = db.session.get(JobOutbox, row.id, populate_existing=True)
        assert (failed.status, failed.attempts) == (OutboxStatus.SENT, attempt)
        assert "downstream unavailable" in (failed.last_error or "")
        db.session.rollback()
        assert queue.fetch_job(job_id).get_status() == "scheduled"
        due = queue.scheduled_job_registry.get_scheduled_time(job_id).timestamp()  # whole seconds
        assert started - 1 <= due - wait <= ended  # ``wait`` seconds after the failure
        scheduler.tick()  # not due yet: stays scheduled
        assert queue.count == 0 and due > time.time()
        time.sleep(due - time.time() + 0.2)
        scheduler.tick()  # due: the round puts it back on its queue
        assert queue.job_ids == [job_id]

    assert _parked(instance_id) is None  # still retrying: the instance runs on
    run_worker(app, ["engine"], burst=True)  # the last attempt
    [row] = [r for r in _rows() if r.id == row.id]
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)
    assert queue.fetch_job(job_id).get_status() == "failed"
    incident = _parked(instance_id)
    assert incident is not None and incident.kind == IncidentKind.JOB
    assert "downstream unavailable" in incident.reason
    assert incident.details["job"] == "tests.test_jobs_outbox.always_fails"
    assert db.session.get(ProcessInstance, instance_id).status == InstanceStatus.ERROR
    assert _audited("incident.opened", instance_id=instance_id) == 1
    assert _audited("job.failed", entity_id=str(row.id)) == 1


def _parked(instance_id: int) -> EngineIncident | None:
    db.session.expire_all()
    return db.session.execute(
        select(EngineIncident).where(EngineIncident.instance_id == instance_id)
    ).scalar_one_or_none()


def _audited(action: str, **where: Any) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return db.session.execute(query).scalar_one()


def test_a_timer_job_that_keeps_failing_parks_its_instance_once_its_retries_are_spent(
    app: Flask,
    client: Any,
    auth: Any,
    users: Any,
    deployed: None,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from app.workflow import instances

    key = create_case(client, auth, "handle", hours=10)
    instance_id = instance(key).id
    clock.advance(hours=48)  # its timers are due

    def database_hiccup(instance_id: int) -> None:
        raise ConnectionError("数据库连接中断 (server closed the connection)")

    monkeypatch.setattr(instances, "fire_due_timers", database_hiccup)  # not an engine error: retried
    monkeypatch.setattr(scheduler, "ENGINE_QUEUE", replace(ENGINE_QUEUE, retry_intervals=(0,)))
    assert scheduler.tick() == 1
    run_worker(app, ["engine"], burst=True)  # fails, retried at once (interval 0), fails again

    incident = _parked(instance_id)
    assert incident is not None and incident.kind == IncidentKind.JOB
    assert "server closed the connection" in incident.reason
    assert incident.details["job"] == "app.workflow.scheduler.fire_timers_job"
    assert scheduler.tick() == 0  # a parked instance is not due: no more rounds of failures


# -- the admins' list and re-queue ---------------------------------------------------------------------


def test_admins_list_failed_jobs_with_their_reason_and_queue_one_again(
    app: Flask, client: Any, auth: Any, users: Any
) -> None:
    enqueue(ENGINE_QUEUE, always_fails, 0, retry_intervals=())  # no retries; concerns no instance
    _commit_with_job("e")
    run_worker(app, ["engine"], burst=True)
    failed, done = _rows()
    assert (failed.status, done.status) == (OutboxStatus.FAILED, OutboxStatus.DONE)

    listing = client.get("/api/v1/jobs?status=failed", headers=auth("admin"))
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["id"] == failed.id and item["job"] == "tests.test_jobs_outbox.always_fails"
    assert item["attempts"] == 1 and "downstream unavailable" in item["last_error"]
    assert client.get("/api/v1/jobs", headers=auth("admin")).get_json()["total"] == 2
    counts = client.get("/api/v1/jobs/counts", headers=auth("admin"))
    assert counts.get_json() == {"pending": 0, "sent": 0, "done": 1, "failed": 1}
    for who in ("worker", "dispatcher", "supervisor", "designer", "resident"):
        assert client.get("/api/v1/jobs?status=failed", headers=auth(who)).status_code == 403
        assert client.post(f"/api/v1/jobs/{failed.id}/requeue", headers=auth(who)).status_code == 403
        assert client.get("/api/v1/jobs/counts", headers=auth(who)).status_code == 403

    again = client.post(f"/api/v1/jobs/{failed.id}/requeue", headers=auth("admin"))
    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["status"], again.get_json()["attempts"]) == ("pending", 0)
    [row] = [r for r in _rows() if r.id == failed.id]
    assert row.last_error == failed.last_error  # the reason stays until it runs again
    assert _engine_queue(app).job_ids == [f"outbox-{failed.id}"]
    assert _audited("job.requeued", entity_id=str(failed.id)) == 1
    refused = client.post(f"/api/v1/jobs/{done.id}/requeue", headers=auth("admin"))
    assert refused.status_code == 409
    assert client.post("/api/v1/jobs/999999/requeue", headers=auth("admin")).status_code == 404
