"""Stack mode: jobs go through real Redis (RQ) to a worker, on PostgreSQL. The database decides what is due;
Redis only carries the work."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask import Flask
from PIL import Image
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Attachment, Case
from app.extensions import db
from app.worker import run_worker
from app.workflow import scheduler
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.conftest import REDIS_URL
from tests.factories import create_case
from tests.helpers import jpeg, report, upload_photo

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def app(make_app, redis) -> Iterator[Flask]:
    """Replaces conftest's ``app``: stack mode (PostgreSQL + Redis). ``client``, ``auth``, ``users``,
    ``deployed`` and ``clock`` use this one."""
    app = make_app("postgresql", redis_url=REDIS_URL)
    assert not app.extensions["gridcase.settings"].embedded
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis)


def _case(key: str) -> Case:
    db.session.expire_all()
    return db.session.execute(select(Case).where(Case.key == key)).scalar_one()


def _instance_id(key: str) -> int:
    return db.session.execute(
        select(ProcessInstance.id).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == key)
    ).scalar_one()


def _count(action: str, **where: object) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return db.session.execute(query).scalar_one()


def test_thumbnail_job_goes_through_redis(app, client, auth, users, deployed, redis):
    key = report(client, auth)["key"]
    content = jpeg((30, 120, 220), size=(640, 400))
    photo = upload_photo(client, auth, "resident", key, kind="report", content=content)

    # Queued on RQ after the commit, not run in the request nor on the embedded in-process queue.
    queue = _queue(redis, "photos")
    assert queue.count == 1
    [job] = queue.get_jobs()
    assert job.func_name == "app.jobs.running.run_job"
    assert job.args == ("app.cases.jobs.make_thumbnail", photo["id"])
    assert app.extensions["gridcase.inline_jobs"].empty()
    db.session.expire_all()
    assert db.session.get(Attachment, photo["id"]).thumbnail_path is None
    before = client.get(f"/api/v1/attachments/{photo['id']}/content?thumbnail=1", headers=auth("resident"))
    assert before.status_code == 200
    # No thumbnail yet: the photo itself, as a resident gets it (the stored image without its metadata).
    photo_itself = client.get(f"/api/v1/attachments/{photo['id']}/content", headers=auth("resident"))
    assert before.data == photo_itself.data
    with Image.open(io.BytesIO(before.data)) as shown:
        assert shown.size == (640, 400)

    run_worker(app, ["photos"], burst=True)

    assert queue.count == 0
    assert len(queue.finished_job_registry) == 1
    assert len(queue.failed_job_registry) == 0
    db.session.expire_all()
    attachment = db.session.get(Attachment, photo["id"])
    assert attachment.thumbnail_path
    thumbnail = app.extensions["gridcase.settings"].upload_folder / attachment.thumbnail_path
    assert thumbnail.is_file()
    response = client.get(f"/api/v1/attachments/{photo['id']}/content?thumbnail=1", headers=auth("resident"))
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data == thumbnail.read_bytes()
    assert response.data != content
    original = client.get(f"/api/v1/attachments/{photo['id']}/content", headers=auth("resident"))
    assert original.data == photo_itself.data


def test_due_timers_are_queued_once_and_fired_by_the_worker(app, client, auth, users, deployed, clock, redis):
    key = create_case(client, auth, "handle", hours=10)
    instance_id = _instance_id(key)
    assert scheduler.tick() == 0  # nothing due yet
    assert _queue(redis, "engine").count == 0

    clock.advance(hours=48)  # past the 10 working hours (due Wednesday 10:30 CST)
    assert scheduler.tick() == 1
    engine_queue = _queue(redis, "engine")
    assert engine_queue.job_ids == [f"timers-{instance_id}"]
    assert scheduler.tick() == 0  # still queued under the same job id: not queued twice
    assert engine_queue.count == 1
    # Queuing changed nothing yet: the worker does the work.
    case = _case(key)
    assert case.warned_at is None
    assert case.overdue_at is None

    run_worker(app, ["engine"], burst=True)

    assert engine_queue.count == 0
    assert len(engine_queue.failed_job_registry) == 0
    case = _case(key)
    assert case.warned_at is not None
    assert case.overdue_at is not None
    assert case.status == "handling"
    coordinate = (  # overdue escalates to the community coordinator (三级联动, tests/test_escalation.py)
        db.session.execute(
            select(HumanTask).where(
                HumanTask.case_id == case.id, HumanTask.element_id == "coordinate_community"
            )
        )
        .scalars()
        .all()
    )
    assert [t.status for t in coordinate] == [TaskStatus.READY]
    handle = db.session.execute(
        select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.element_id == "handle")
    ).scalar_one()
    assert handle.status in TaskStatus.OPEN  # non-interrupting timers: the handler keeps the task
    assert _count("timer.fired", instance_id=instance_id) == 1
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance.status == "running"
    assert instance.next_timer_at is None
    assert scheduler.tick() == 0  # nothing left to fire


def test_losing_redis_loses_no_timer(app, client, auth, users, deployed, clock, redis):
    key = create_case(client, auth, "handle", hours=10)
    instance_id = _instance_id(key)
    clock.advance(hours=48)  # past the 10 working hours (due Wednesday 10:30 CST)
    assert scheduler.tick() == 1
    assert _queue(redis, "engine").count == 1

    redis.flushdb()  # Redis restarted empty: the queued job is gone
    assert _queue(redis, "engine").count == 0
    assert scheduler.tick() == 1  # the database still says the timer is due
    assert _queue(redis, "engine").job_ids == [f"timers-{instance_id}"]

    run_worker(app, ["engine"], burst=True)
    case = _case(key)
    assert case.warned_at is not None
    assert case.overdue_at is not None
    assert _count("timer.fired", instance_id=instance_id) == 1
    assert _count("case.due_warning", case_id=case.id) == 1
    assert _count("case.overdue", case_id=case.id) == 1
    assert scheduler.tick() == 0
