"""The shipped process started by a timer, ``bpmn/daily_patrol.bpmn`` (#16 item 9): every day at 08:00
Beijing time from 7 December 2026 a patrol task is offered to grid workers; a worker records the patrol with
its form; a patrol not recorded by 22:00 is withdrawn and ends as missed. Time moves by the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import FrozenClock, as_utc
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import scheduler, timer_starts
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.probes import deploy_diagram

FIRST_MORNING = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 Beijing time
PATROL = {"patrol_area": "锦绣小区1-6栋、望丛路东段", "issues_found": 2, "issues_reported": "yes"}


def _deploy() -> None:
    deploy_diagram("daily_patrol.bpmn", (PROJECT_ROOT / "bpmn" / "daily_patrol.bpmn").read_bytes())


def _patrols() -> list[ProcessInstance]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessInstance)
            .where(ProcessInstance.process_key == "daily_patrol")
            .order_by(ProcessInstance.id)
        ).scalars()
    )


def _task(instance_id: int) -> HumanTask:
    db.session.expire_all()
    return db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id)).scalar_one()


def test_every_morning_a_patrol_for_grid_workers(app: Any, client: Any, auth: Any, users: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    _deploy()
    scheduler.tick()
    [schedule] = timer_starts.schedules()
    assert schedule.next_fire_at == FIRST_MORNING  # the first morning of the programme, not before
    clock.set(FIRST_MORNING - timedelta(minutes=1))
    scheduler.tick()
    assert _patrols() == []

    clock.set(FIRST_MORNING)
    scheduler.tick()
    [first] = _patrols()
    inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth("worker")).get_json()
    assert [(t["element_id"], t["name"]) for t in inbox["items"]] == [("patrol", "今日网格巡查")]
    task_id = inbox["items"][0]["id"]

    refused = client.post(
        f"/api/v1/tasks/{task_id}/complete", json={"data": {"issues_found": -1}}, headers=auth("worker")
    )
    assert refused.status_code == 422
    clock.advance(hours=3)
    done = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": PATROL}, headers=auth("worker"))
    assert done.status_code == 200, done.get_json()
    db.session.expire_all()
    assert _patrols()[0].status == InstanceStatus.COMPLETED
    assert _task(first.id).submitted_data == {**PATROL, "notes": None}

    # The next morning's patrol, not recorded by 22:00: withdrawn, the day ends as missed.
    clock.set(FIRST_MORNING + timedelta(days=1))
    scheduler.tick()
    second = _patrols()[1]
    assert _task(second.id).status == TaskStatus.READY
    clock.set(FIRST_MORNING + timedelta(days=1, hours=14))  # 22:00 Beijing time
    scheduler.tick()
    assert _task(second.id).status == TaskStatus.CANCELLED
    assert _patrols()[1].status == InstanceStatus.COMPLETED
    assert as_utc(timer_starts.schedules()[0].next_fire_at) == FIRST_MORNING + timedelta(days=2)
    fired = db.session.execute(
        select(AuditEvent.data).where(AuditEvent.action == "timer_start.fired").order_by(AuditEvent.id)
    ).scalars()
    assert [d["due_at"] for d in fired] == [
        FIRST_MORNING.isoformat(),
        (FIRST_MORNING + timedelta(days=1)).isoformat(),
    ]
