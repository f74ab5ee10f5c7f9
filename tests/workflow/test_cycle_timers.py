"""Cycle timers (``timeCycle``) of running instances on the database scheduler, by the injected clock
(#16 item 9): a non-interrupting boundary reminder ``R3/PT1H`` fires at each hour exactly, three times,
and stops with its task (withdrawing the reminders still open); an intermediate cycle event continues its
path once per occurrence; after downtime each missed occurrence fires. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.clock import FrozenClock, as_utc
from app.extensions import db
from app.workflow import instances, scheduler
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance
from tests.factories import app_on_both_backends
from tests.helpers import complete_by_id
from tests.probes import deploy_diagram
from tests.workflow.cycle_diagrams import boundary_reminder, intermediate_cycle

app = app_on_both_backends


def _start(key: str, content: bytes) -> int:
    deploy_diagram(f"{key}.bpmn", content)
    outcome = instances.start_instance(key, business_key=None, variables={})
    db.session.commit()
    return outcome.instance.id


def _instance(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    found = db.session.get(ProcessInstance, instance_id)
    assert found is not None
    return found


def _open(instance_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.execute(
            select(HumanTask.element_id).where(
                HumanTask.instance_id == instance_id, HumanTask.status.in_(("ready", "claimed"))
            )
        ).scalars()
    )


def test_a_boundary_reminder_fires_each_hour_three_times(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    started = clock.now()
    instance_id = _start("cycle_reminder", boundary_reminder("'R3/PT1H'"))
    assert as_utc(_instance(instance_id).next_timer_at) == started + timedelta(hours=1)
    for hour in (1, 2, 3):
        clock.set(started + timedelta(hours=hour) - timedelta(seconds=1))
        assert scheduler.tick() == 0
        clock.set(started + timedelta(hours=hour))  # due exactly now: fires now
        assert scheduler.tick() == 1
        assert _open(instance_id) == ["follow_up"] * hour + ["handle"]
    assert _instance(instance_id).next_timer_at is None  # three times, then no more
    clock.advance(hours=5)
    scheduler.tick()
    assert _open(instance_id) == ["follow_up"] * 3 + ["handle"]


def test_completing_the_task_stops_its_reminder_and_withdraws_the_open_reminders(
    app: Any, client: Any, auth: Any, users: Any
) -> None:
    """SpiffWorkflow ends a cycle boundary event with its task, and the paths its occurrences started are
    its children: an open 催办 task is withdrawn (cancelled) with it. (A one-off duration timer's path is
    not: it completed when it fired.) Documented in docs/engine.md."""
    clock: FrozenClock = app.extensions["gridcase.clock"]
    instance_id = _start("cycle_reminder", boundary_reminder("'R/PT1H'"))  # for ever, while it waits
    clock.advance(hours=1)
    scheduler.tick()
    assert _open(instance_id) == ["follow_up", "handle"]
    handle = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.element_id == "handle")
    ).scalar_one()
    complete_by_id(client, auth, "supervisor", handle.id, {"review_decision": "approve"})
    assert _open(instance_id) == []
    follow_up = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.element_id == "follow_up")
    ).scalar_one()
    assert follow_up.status == "cancelled"
    instance = _instance(instance_id)
    assert instance.next_timer_at is None and instance.status == InstanceStatus.COMPLETED
    clock.advance(hours=3)
    assert scheduler.tick() == 0


def test_an_intermediate_cycle_continues_its_path_once_per_occurrence(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    started = clock.now()
    instance_id = _start("cycle_wait", intermediate_cycle("'R2/PT1H'"))
    assert _open(instance_id) == []
    clock.set(started + timedelta(hours=1))
    assert scheduler.tick() == 1
    assert _open(instance_id) == ["check"]
    clock.set(started + timedelta(hours=2))
    assert scheduler.tick() == 1
    assert _open(instance_id) == ["check", "check"]
    assert _instance(instance_id).next_timer_at is None
    assert _instance(instance_id).status == InstanceStatus.RUNNING


def test_after_downtime_a_reminder_fires_its_missed_occurrences(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    started = clock.now()
    instance_id = _start("cycle_reminder", boundary_reminder("'R3/PT1H'"))
    clock.set(started + timedelta(hours=5))  # the scheduler was down for all three
    rounds = 0
    while scheduler.tick():
        rounds += 1
        assert rounds < 5
    assert _open(instance_id) == ["follow_up"] * 3 + ["handle"]
    assert _instance(instance_id).next_timer_at is None
