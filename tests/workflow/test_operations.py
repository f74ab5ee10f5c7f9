"""Instance operations at the engine level (app/workflow/operations.py): each changes exactly what it says
(status, engine position, human tasks, incidents, case) and is audited with before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.workflow import instances, operations, scheduler
from app.workflow.models import EngineIncident, HumanTask, InstanceStatus, TaskStatus
from tests.conftest import START
from tests.workflow.ops_probes import (
    TIMER_PROCESS_KEY,
    deploy_probes,
    fail_at_compute,
    instance_row,
    start_probe,
)


@pytest.fixture
def probes(app, users):
    deploy_probes()


def _tasks(instance_id: int) -> dict[str, str]:
    """element id → status of the instance's human tasks (the newest row per element)."""
    db.session.expire_all()
    rows = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)
    ).scalars()
    return {row.element_id: row.status for row in rows}


def _events(instance_id: int, action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).scalars()
    )


def _incidents(instance_id: int) -> list[EngineIncident]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(EngineIncident)
            .where(EngineIncident.instance_id == instance_id)
            .order_by(EngineIncident.id)
        ).scalars()
    )


def _commit(value):
    db.session.commit()
    return value


def test_variable_edit_then_retry_continues_to_the_next_task(probes, users):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    assert instance_row(instance_id).status == InstanceStatus.ERROR
    assert operations.active_elements(instance_row(instance_id)) == [
        {"element_id": "compute", "name": "计算", "state": "ERROR"}
    ]

    operations.edit_variable(instance_id, users["admin"], "补上缺失的系数", "factor", 21)
    db.session.commit()
    assert operations.variables(instance_row(instance_id))["factor"] == 21
    assert instance_row(instance_id).status == InstanceStatus.ERROR  # an edit runs nothing
    (edited,) = _events(instance_id, "instance.variable_edited")
    assert edited.before == {"name": "factor", "missing": True}
    assert edited.after == {"name": "factor", "value": 21}
    assert edited.data == {"reason": "补上缺失的系数"} and edited.actor_id == users["admin"].id

    _commit(operations.retry(instance_id, users["admin"], "系数已补"))
    row = instance_row(instance_id)
    assert row.status == InstanceStatus.RUNNING and row.error is None
    assert _tasks(instance_id) == {"look": TaskStatus.COMPLETED, "check": TaskStatus.READY}
    assert operations.variables(row)["total"] == 42
    (incident,) = _incidents(instance_id)
    assert incident.resolution == "retried" and incident.resolved_by_id == users["admin"].id
    (retried,) = _events(instance_id, "instance.retried")
    assert retried.before == {"status": "error", "active_element_ids": ["compute"]}
    assert retried.after == {"status": "running", "active_element_ids": ["check"]}
    assert retried.data["reset_element_ids"] == ["compute"] and retried.data["new_incident_id"] is None


def test_a_retry_that_fails_again_opens_a_new_incident(probes, users):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    _commit(operations.retry(instance_id, users["admin"], "再试一次"))
    first, second = _incidents(instance_id)
    assert first.resolution == "retried"
    assert second.resolved_at is None and second.element_id == "compute" and "factor" in second.reason
    assert instance_row(instance_id).status == InstanceStatus.ERROR
    assert _events(instance_id, "instance.retried")[0].data["new_incident_id"] == second.id
    assert _tasks(instance_id) == {"look": TaskStatus.COMPLETED}


def test_a_timer_incident_is_retried_after_a_variable_edit(app, clock, probes, users):
    instance_id = start_probe(TIMER_PROCESS_KEY)
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id)).scalar_one()
    instance = instances.lock_instance(instance_id)
    instances.complete_task(task, {"review_decision": "approve"}, users["supervisor"], instance)
    db.session.commit()
    clock.set(START + timedelta(hours=2))
    scheduler.fire_timers_job(instance_id)
    (incident,) = _incidents(instance_id)
    assert incident.kind == "timer" and incident.element_id == "compute"

    _commit(operations.edit_variable(instance_id, users["admin"], "补上系数", "factor", 5))
    _commit(operations.retry(instance_id, users["admin"], "定时器重试"))
    assert instance_row(instance_id).status == InstanceStatus.RUNNING
    assert _tasks(instance_id)["check"] == TaskStatus.READY
    assert operations.variables(instance_row(instance_id))["total"] == 10


def test_skip_completes_the_failing_element_without_running_it(probes, users):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    _commit(operations.skip(instance_id, users["admin"], "该计算不再需要"))
    row = instance_row(instance_id)
    assert row.status == InstanceStatus.RUNNING
    assert _tasks(instance_id) == {"look": TaskStatus.COMPLETED, "check": TaskStatus.READY}
    assert "total" not in operations.variables(row)  # the script did not run
    assert _incidents(instance_id)[0].resolution == "skipped"
    (skipped,) = _events(instance_id, "instance.skipped")
    assert skipped.data["element_id"] == "compute" and skipped.data["reason"] == "该计算不再需要"
    assert skipped.before["active_element_ids"] == ["compute"]
    assert skipped.after == {"status": "running", "active_element_ids": ["check"]}


def test_move_token_forward_past_the_failing_element(probes, users):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    _commit(operations.move_token(instance_id, users["admin"], "直接核对", "check"))
    assert instance_row(instance_id).status == InstanceStatus.RUNNING
    assert _tasks(instance_id) == {"look": TaskStatus.COMPLETED, "check": TaskStatus.READY}
    assert _incidents(instance_id)[0].resolution == "moved"
    (moved,) = _events(instance_id, "instance.moved")
    assert moved.data["from_element_id"] == "compute" and moved.data["to_element_id"] == "check"


def test_move_token_back_cancels_the_open_task_and_opens_the_earlier_one(probes, users):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    _commit(operations.move_token(instance_id, users["admin"], "跳到核对", "check"))
    check_row = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.element_id == "check")
    ).scalar_one()

    _commit(operations.move_token(instance_id, users["admin"], "退回重新查看", "look"))
    db.session.expire_all()
    assert db.session.get(HumanTask, check_row.id).status == TaskStatus.CANCELLED
    looks = (
        db.session.execute(
            select(HumanTask.status).where(
                HumanTask.instance_id == instance_id, HumanTask.element_id == "look"
            )
        )
        .scalars()
        .all()
    )
    assert sorted(looks) == [TaskStatus.COMPLETED, TaskStatus.READY]
    assert _events(instance_id, "task.cancelled")[-1].entity_id == str(check_row.id)


def test_move_to_an_unknown_element_changes_nothing(probes, users):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    state = instance_row(instance_id).state
    with pytest.raises(InvalidInput) as refused:
        operations.move_token(instance_id, users["admin"], "随便", "nowhere")
    db.session.rollback()
    assert "to_element_id" in refused.value.details and "nowhere" in refused.value.message
    assert instance_row(instance_id).state == state


def test_suspend_refuses_completion_and_resume_allows_it(probes, users):
    instance_id = start_probe()
    _commit(operations.suspend(instance_id, users["admin"], "排查问题"))
    assert instance_row(instance_id).status == InstanceStatus.SUSPENDED
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id)).scalar_one()
    with pytest.raises(Conflict):
        instance = instances.lock_instance(instance_id)
        instances.complete_task(task, {"review_decision": "approve"}, users["supervisor"], instance)
    db.session.rollback()
    assert _tasks(instance_id) == {"look": TaskStatus.READY}
    with pytest.raises(Conflict):
        operations.suspend(instance_id, users["admin"], "再挂起")
    db.session.rollback()

    _commit(operations.resume(instance_id, users["admin"], "排查完毕"))
    assert instance_row(instance_id).status == InstanceStatus.RUNNING
    (suspended,) = _events(instance_id, "instance.suspended")
    (resumed,) = _events(instance_id, "instance.resumed")
    assert (suspended.before, suspended.after) == ({"status": "running"}, {"status": "suspended"})
    assert (resumed.before, resumed.after) == ({"status": "suspended"}, {"status": "running"})


def test_a_suspended_instance_fires_no_timer_until_resumed(app, clock, probes, users):
    instance_id = start_probe(TIMER_PROCESS_KEY, factor=1)
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id)).scalar_one()
    instances.complete_task(
        task, {"review_decision": "approve"}, users["supervisor"], instances.lock_instance(instance_id)
    )
    db.session.commit()
    _commit(operations.suspend(instance_id, users["admin"], "暂停"))
    clock.set(START + timedelta(hours=2))
    assert scheduler.tick() == 0
    assert "check" not in _tasks(instance_id)
    _commit(operations.resume(instance_id, users["admin"], "继续"))
    assert scheduler.tick() == 1
    assert _tasks(instance_id)["check"] == TaskStatus.READY


def test_terminate_cancels_open_tasks_and_resolves_the_incident(probes, users):
    instance_id = start_probe()
    _commit(operations.terminate(instance_id, users["admin"], "测试结束"))
    row = instance_row(instance_id)
    assert row.status == InstanceStatus.TERMINATED and row.completed_at is not None
    assert row.next_timer_at is None
    assert _tasks(instance_id) == {"look": TaskStatus.CANCELLED}
    (terminated,) = _events(instance_id, "instance.terminated")
    assert terminated.before == {"status": "running", "active_element_ids": ["look"]}
    assert terminated.after["status"] == "terminated" and terminated.data["reason"] == "测试结束"
    with pytest.raises(Conflict):
        operations.resume(instance_id, users["admin"], "复活")
    db.session.rollback()

    errored = start_probe()
    fail_at_compute(errored)
    _commit(operations.terminate(errored, users["admin"], "放弃"))
    assert _incidents(errored)[0].resolution == "terminated"
    assert instance_row(errored).status == InstanceStatus.TERMINATED


def test_retry_and_skip_need_an_open_incident(probes, users):
    instance_id = start_probe()
    for operation in (operations.retry, operations.skip):
        with pytest.raises(Conflict):
            operation(instance_id, users["admin"], "没有异常")
        db.session.rollback()
    assert _events(instance_id, "instance.retried") == []


def test_a_variable_name_must_be_plain(probes, users):
    instance_id = start_probe()
    for name in ("_internal", "1abc", "a b", ""):
        with pytest.raises(InvalidInput) as refused:
            operations.edit_variable(instance_id, users["admin"], "试试", name, 1)
        assert "name" in refused.value.details
        db.session.rollback()


def test_a_terminated_instance_fires_no_timer(app, clock, probes, users):
    instance_id = start_probe(TIMER_PROCESS_KEY, factor=1)
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id)).scalar_one()
    instance = instances.lock_instance(instance_id)
    instances.complete_task(task, {"review_decision": "approve"}, users["supervisor"], instance)
    db.session.commit()
    assert instance_row(instance_id).next_timer_at is not None
    _commit(operations.terminate(instance_id, users["admin"], "不再需要"))
    assert instance_row(instance_id).next_timer_at is None
    clock.set(START + timedelta(hours=2))
    assert scheduler.tick() == 0
    assert "check" not in _tasks(instance_id)
    assert operations.active_elements(instance_row(instance_id)) == []
