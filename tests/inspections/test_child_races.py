"""The two races of child instances (app/workflow/children.py), on PostgreSQL (real row locks):

- the last place finishing while its campaign is parked (an incident, or being suspended) keeps its result:
  the message to the campaign waits in the join row and is delivered when the campaign is repaired or
  resumed (it was a 409 that undid the place's step);
- an operator terminating (or suspending) the campaign while its last place finishes: both succeed (the
  place never waits for the campaign's lock, the operator takes the children's after the campaign's), where
  the two used to deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import ANY

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import runtime
from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.inspections.models import ItemStatus
from app.jobs import run_inline_jobs
from app.tasks import services as task_services
from app.workflow import children, instances, operations, scheduler
from app.workflow.models import IncidentKind, InstanceStatus, ProcessInstance, ProcessJoin
from tests.cases.territory import EAST_GRID
from tests.factories import pushed
from tests.inspections.conftest import item_of, open_tasks, results

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


@pytest.fixture
def app(make_app: Any) -> Iterator[Flask]:
    with pushed(make_app("postgresql")) as app:
        yield app


def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _complete(task_id: int) -> None:
    task_services.complete(_user("worker"), task_id, {"results": results()})


def _campaign_one_place_left(launch: Any) -> tuple[int, int, int]:
    """A campaign over R1 and R2 with R1 inspected: (campaign id, its instance, R2's open task)."""
    campaign = launch(place_types=["restaurant"], grid_codes=[EAST_GRID])
    first, last = (t.id for t in open_tasks(campaign["instance_id"], "inspect"))
    _complete(first)
    db.session.commit()
    return campaign["id"], campaign["instance_id"], last


def _status(instance_id: int) -> str:
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None
    return instance.status


def _joins() -> list[tuple[int, int]]:
    return [tuple(row) for row in db.session.execute(select(ProcessJoin.total, ProcessJoin.pending))]


def _count(action: str, instance_id: int) -> int:
    return int(
        db.session.execute(
            select(func.count()).where(AuditEvent.action == action, AuditEvent.instance_id == instance_id)
        ).scalar_one()
    )


def test_the_last_place_of_a_campaign_with_an_incident_is_kept_and_delivered_on_retry(
    app: Flask, launch: Any
) -> None:
    campaign_id, parent_id, last = _campaign_one_place_left(launch)
    instances.mark_failed(parent_id, IncidentKind.STEP, "数据库连接中断")
    db.session.commit()
    assert _status(parent_id) == InstanceStatus.ERROR

    _complete(last)  # was a 409 that undid the inspection
    db.session.commit()
    assert item_of(campaign_id, "R2").status == ItemStatus.PASSED
    assert _status(parent_id) == InstanceStatus.ERROR
    assert _joins() == [(2, 0)]  # queued
    assert db.session.execute(
        select(AuditEvent.data).where(AuditEvent.action == "instance.children_done_queued")
    ).scalar_one() == {"join_id": ANY, "parent_id": parent_id, "parent": InstanceStatus.ERROR}

    operations.retry(parent_id, None, "连接已恢复")
    db.session.commit()
    assert _status(parent_id) == InstanceStatus.COMPLETED  # the campaign went on with both results
    assert _joins() == []
    assert _count("message.correlated", parent_id) == 1


def _race(
    app: Flask, operator: Callable[[int, threading.Event], Any], parent_id: int, last_task: int
) -> list[BaseException]:
    """The operator's transaction takes the campaign's lock first; the last place's step then reaches its end
    (holding the place's lock), and the operator goes on to the children: the interleaving that deadlocked."""
    parent_locked, child_ending, child_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    ended = children.child_ended

    def announcing(child: ProcessInstance, actor: Any) -> None:
        child_ending.set()
        ended(child, actor)

    def operate() -> None:
        with app_of_test.app_context():
            try:
                instances.lock_instance(parent_id)
                parent_locked.set()
                assert child_ending.wait(30)
                operator(parent_id, child_done)
                db.session.commit()
            except BaseException as exc:  # reported by the test
                db.session.rollback()
                errors.append(exc)
                parent_locked.set()
            finally:
                db.session.remove()

    def finish_last() -> None:
        with app_of_test.app_context():
            try:
                assert parent_locked.wait(30)
                _complete(last_task)
                db.session.commit()
            except BaseException as exc:
                db.session.rollback()
                errors.append(exc)
                child_ending.set()
            finally:
                child_done.set()
                db.session.remove()

    app_of_test = app
    children.child_ended = announcing  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=operate), threading.Thread(target=finish_last)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        children.child_ended = ended  # type: ignore[assignment]
    return errors


def test_terminating_a_campaign_while_its_last_place_finishes_both_succeed(app: Flask, launch: Any) -> None:
    campaign_id, parent_id, last = _campaign_one_place_left(launch)
    (child_id,) = db.session.execute(
        select(ProcessInstance.id).where(
            ProcessInstance.parent_id == parent_id, ProcessInstance.status == InstanceStatus.RUNNING
        )
    ).scalars()

    errors = _race(app, lambda pid, _: operations.terminate(pid, None, "活动取消"), parent_id, last)

    assert errors == []
    assert _status(parent_id) == InstanceStatus.TERMINATED
    assert _status(child_id) == InstanceStatus.COMPLETED  # its step went through, not terminated under it
    assert item_of(campaign_id, "R2").status == ItemStatus.PASSED
    assert _joins() == []
    run_inline_jobs()  # the queued delivery finds the campaign terminated: nothing to do
    assert _status(parent_id) == InstanceStatus.TERMINATED
    assert _count("message.correlated", parent_id) == 0


def test_suspending_a_campaign_while_its_last_place_finishes_keeps_the_result_until_resumed(
    app: Flask, launch: Any
) -> None:
    campaign_id, parent_id, last = _campaign_one_place_left(launch)

    errors = _race(app, lambda pid, _: operations.suspend(pid, None, "暂停检查"), parent_id, last)

    assert errors == []
    assert _status(parent_id) == InstanceStatus.SUSPENDED
    assert item_of(campaign_id, "R2").status == ItemStatus.PASSED
    assert _joins() == [(2, 0)]
    run_inline_jobs()  # the queued delivery: the campaign is suspended, it stays queued
    assert _joins() == [(2, 0)]

    operations.resume(parent_id, None, "继续")
    db.session.commit()
    assert _status(parent_id) == InstanceStatus.COMPLETED
    assert _joins() == []
    assert _count("message.correlated", parent_id) == 1


def test_a_busy_campaign_gets_the_message_from_the_job(app: Flask, launch: Any) -> None:
    """The campaign's lock held by another step (not an operator) when its last place ends: the job the
    place queued delivers it once that step has committed."""
    _, parent_id, last = _campaign_one_place_left(launch)

    errors = _race(app, lambda _, child_done: child_done.wait(30), parent_id, last)

    assert errors == []
    assert _status(parent_id) == InstanceStatus.RUNNING
    assert _joins() == [(2, 0)]
    assert run_inline_jobs() >= 1
    assert _status(parent_id) == InstanceStatus.COMPLETED
    assert _joins() == []


def test_a_lost_delivery_is_made_by_the_scheduler_round(app: Flask, launch: Any) -> None:
    _, parent_id, last = _campaign_one_place_left(launch)
    errors = _race(app, lambda _, child_done: child_done.wait(30), parent_id, last)
    assert errors == []
    inline = runtime.inline_jobs(app)
    while not inline.empty():  # the job is lost (a worker died with it)
        inline.get_nowait()

    assert scheduler.run_periodic() >= 1
    assert _status(parent_id) == InstanceStatus.COMPLETED
    assert _joins() == []
