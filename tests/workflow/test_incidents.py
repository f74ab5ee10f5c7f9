"""Incidents instead of failures landing on people (#15 item 1): a person's valid step is kept, the engine
failure after it parks the instance with an incident (element, name, reason, actor, audit) in the same
transaction, the person gets a 2xx that says the case continues after a repair; timers and messages the
same; a parked instance accepts no task completion and fires no timer; a retry after a repair continues;
an instance left with nothing to do and nothing to wait for is an incident too. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.services import record
from app.extensions import db
from app.workflow import instances, operators, scheduler
from app.workflow.models import EngineIncident, HumanTask, ProcessInstance, TaskStatus
from app.workflow.notices import CONTINUES_AFTER_REPAIR, WAITS_FOR_REPAIR
from tests.factories import app_on_both_backends
from tests.helpers import complete_by_id
from tests.probes import deploy_diagram
from tests.workflow.incident_diagrams import (
    GATEWAY_PROBE,
    MESSAGE_PROBE,
    PARALLEL_PROBE,
    STUCK_PROBE,
    TIMER_PROBE,
)

app = app_on_both_backends

REJECT = {"review_decision": "reject", "review_comment": "不同意"}
APPROVE = {"review_decision": "approve"}
ERROR_STATE = 128  # SpiffWorkflow's TaskState.ERROR in the stored state


# -- helpers -------------------------------------------------------------------------------------------


def _start(process_key: str, content: bytes, actor: Any = None, **variables: Any) -> ProcessInstance:
    deploy_diagram(f"{process_key}.bpmn", content)
    outcome = instances.start_instance(process_key, business_key=None, variables=variables, actor=actor)
    db.session.commit()
    return outcome.instance


def _reload(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    found = db.session.get(ProcessInstance, instance_id)
    assert found is not None
    return found


def _open_task(instance_id: int, element_id: str) -> HumanTask:
    db.session.expire_all()
    return db.session.execute(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id,
            HumanTask.element_id == element_id,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalar_one()


def _open_elements(instance_id: int) -> list[str]:
    db.session.expire_all()
    rows = db.session.execute(
        select(HumanTask.element_id).where(
            HumanTask.instance_id == instance_id, HumanTask.status.in_(TaskStatus.OPEN)
        )
    ).scalars()
    return sorted(rows)


def _incidents(instance_id: int) -> list[EngineIncident]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(EngineIncident)
            .where(EngineIncident.instance_id == instance_id)
            .order_by(EngineIncident.id)
        ).scalars()
    )


def _events(instance_id: int, action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).scalars()
    )


def _repair(instance_id: int, **values: Any) -> None:
    """Set ``values`` in the data of the instance's failed task, as the operations page's variable edit will:
    the repair a retry needs (here the stored state is edited directly)."""
    instance = _reload(instance_id)
    state = json.loads(instance.state)
    tasks = [t for t in state["tasks"].values() if t["state"] == ERROR_STATE]
    for sub in state["subprocesses"].values():
        tasks += [t for t in sub["tasks"].values() if t["state"] == ERROR_STATE]
    assert len(tasks) == 1, "one failed task"
    delta = tasks[0].get("delta")  # SpiffWorkflow 3.2 stores a task's data as changes to its parent's
    if delta:
        delta.setdefault("updates", {}).update(values)
    else:
        tasks[0]["data"].update(values)
    instance.state = json.dumps(state)
    db.session.commit()


def _assert_notice(body: dict[str, Any]) -> None:
    """The person's 2xx says the case continues after a repair, and nothing of the designer's internals."""
    assert body["notice"] == {"code": "incident_opened", "message": CONTINUES_AFTER_REPAIR["zh-CN"]}
    text = json.dumps(body, ensure_ascii=False)
    for internal in (
        "route",
        "分流",
        "No conditions",
        "share",
        "ZeroDivision",
        "dead_end",
        "triage_candidate",
    ):
        assert internal not in text


# -- a person's completion into a gateway where no condition holds ---------------------------------


def test_completion_into_a_gateway_without_condition_is_kept_with_an_incident(app, client, auth, users):
    instance_id = _start("gateway_probe", GATEWAY_PROBE, users["admin"]).id
    decide = _open_task(instance_id, "decide")

    body = complete_by_id(client, auth, "supervisor", decide.id, REJECT)

    _assert_notice(body)
    assert body["task"]["status"] == "completed"
    assert body["instance_status"] == "error"
    assert body["next_tasks"] == []
    # The person's part is committed: the task row, its data, its audit event.
    task = db.session.get(HumanTask, decide.id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert task.submitted_data == REJECT
    assert task.completed_by_id == users["supervisor"].id
    assert [e.entity_id for e in _events(instance_id, "task.completed")] == [str(decide.id)]
    # Exactly one open incident at the gateway, with its name, the reason and whose step it was.
    [incident] = _incidents(instance_id)
    assert (incident.kind, incident.element_id, incident.element_name) == ("step", "route", "分流")
    assert "No conditions satisfied" in incident.reason
    assert incident.actor_id == users["supervisor"].id
    assert incident.resolved_at is None
    [opened] = _events(instance_id, "incident.opened")
    assert opened.actor_id == users["supervisor"].id
    assert opened.data["incident_id"] == incident.id
    assert opened.data["element_id"] == "route"
    assert (opened.before, opened.after) == ({"status": "running"}, {"status": "error"})
    # The stored state is what the engine left: the work before the gateway done, the gateway failed.
    instance = _reload(instance_id)
    assert instance.status == "error"
    state = instances.instance_state(instance)
    assert {"decide", "noted"} <= set(state["completed_element_ids"])
    assert state["active_element_ids"] == ["route"]

    # The cause is removed (the decision the gateway reads), then retried: the case goes on to the next task.
    _repair(instance_id, review_decision="approve")
    outcome = instances.retry_incident(incident.id, users["admin"])
    db.session.commit()
    assert outcome.incident is None
    assert [t.element_id for t in outcome.created_tasks] == ["carry_on"]
    [retried] = _incidents(instance_id)
    assert retried.resolution == "retried"
    assert retried.resolved_by_id == users["admin"].id
    assert _reload(instance_id).status == "running"
    assert len(_events(instance_id, "incident.resolved")) == 1
    carry_on = _open_task(instance_id, "carry_on")
    assert complete_by_id(client, auth, "supervisor", carry_on.id, APPROVE)["instance_status"] == "completed"


def test_a_retry_that_fails_again_opens_a_new_incident(app, client, auth, users):
    instance_id = _start("gateway_probe", GATEWAY_PROBE, users["admin"]).id
    complete_by_id(client, auth, "supervisor", _open_task(instance_id, "decide").id, REJECT)
    [first] = _incidents(instance_id)

    outcome = instances.retry_incident(first.id, users["admin"])  # nothing repaired
    db.session.commit()

    assert outcome.incident is not None
    first, second = _incidents(instance_id)
    assert first.resolution == "retried"
    assert (second.kind, second.element_id, second.resolved_at) == ("step", "route", None)
    assert _reload(instance_id).status == "error"
    with pytest.raises(instances.Conflict):
        instances.retry_incident(first.id, users["admin"])  # resolved already
    db.session.rollback()


# -- what a failed run leaves: the other branch's work, none of the failed operator's writes -------------


@operators.register("probe.half_write", "test probe: writes an audit event, then fails unless allowed")
def _half_write(call: operators.OperatorCall) -> dict[str, bool]:
    record("probe.half_written", entity_type="process_instance", entity_id=call.instance_id)
    db.session.flush()
    if not call.data.get("allowed"):
        raise RuntimeError("half way through")
    return {"ok": True}


def test_a_failed_branch_keeps_the_other_branchs_task_and_none_of_its_operators_writes(
    app, client, auth, users
):
    instance_id = _start("parallel_probe", PARALLEL_PROBE, users["admin"]).id
    decide = _open_task(instance_id, "decide").id

    body = complete_by_id(client, auth, "supervisor", decide, APPROVE)

    assert body["instance_status"] == "error"
    [incident] = _incidents(instance_id)
    assert (incident.element_id, incident.element_name) == ("half_write", "写一半")
    assert "half way through" in incident.reason
    half_written = select(AuditEvent).where(AuditEvent.action == "probe.half_written")
    assert db.session.execute(half_written).first() is None  # the operator's savepoint was rolled back
    # ... and only what it wrote: the person's completion, recorded before it, is in the timeline
    completed = select(AuditEvent.actor_label).where(
        AuditEvent.action == "task.completed", AuditEvent.entity_id == str(decide)
    )
    assert db.session.execute(completed).scalars().all() == ["supervisor"]
    # The left branch's task is ready in the stored state and has its row: rows and state agree.
    assert [t["element_id"] for t in body["next_tasks"]] == ["left_task"]
    assert _open_elements(instance_id) == ["left_task"]
    assert instances.instance_state(_reload(instance_id))["active_element_ids"] == ["half_write", "left_task"]
    left = _open_task(instance_id, "left_task")
    refused = client.post(
        f"/api/v1/tasks/{left.id}/complete", json={"data": APPROVE}, headers=auth("supervisor")
    )
    assert refused.status_code == 409

    _repair(instance_id, allowed=True)
    instances.retry_incident(incident.id, users["admin"])
    db.session.commit()
    assert len(db.session.execute(half_written).all()) == 1
    assert _open_elements(instance_id) == ["left_task"]
    assert complete_by_id(client, auth, "supervisor", left.id, APPROVE)["instance_status"] == "completed"


# -- a parked instance takes no task completion ----------------------------------------------------


@pytest.mark.parametrize("status", ["error", "suspended", "terminated"])
def test_a_parked_instance_accepts_no_task_completion(app, client, auth, users, status):
    instance_id = _start("timer_probe", TIMER_PROBE, users["admin"], divisor=1).id
    wait_here = _open_task(instance_id, "wait_here")
    db.session.get(ProcessInstance, instance_id).status = status  # as an incident or an operator leaves it
    db.session.commit()

    response = client.post(
        f"/api/v1/tasks/{wait_here.id}/complete", json={"data": APPROVE}, headers=auth("supervisor")
    )

    assert response.status_code == 409
    assert response.get_json()["details"] == {"instance_status": status}
    if status == "error":
        assert response.get_json()["message"] == WAITS_FOR_REPAIR["zh-CN"]
        assert response.get_json()["message"].startswith("该流程正在等待修复")
    assert _open_task(instance_id, "wait_here").status == TaskStatus.READY
    assert _events(instance_id, "task.completed") == []


# -- timers -------------------------------------------------------------------------------------------


def test_a_timer_failure_opens_an_incident_and_a_retry_lets_the_timer_path_continue(
    app, client, auth, users, clock
):
    instance_id = _start("timer_probe", TIMER_PROBE, users["admin"], divisor=0).id
    wait_here = _open_task(instance_id, "wait_here")

    clock.advance(hours=1, minutes=1)
    scheduler.tick()

    [incident] = _incidents(instance_id)
    assert (incident.kind, incident.element_id, incident.element_name) == ("timer", "share", "分摊")
    assert "division by zero" in incident.reason
    assert incident.actor_id is None
    assert len(_events(instance_id, "incident.opened")) == 1
    assert _reload(instance_id).status == "error"
    assert _open_elements(instance_id) == ["wait_here"]  # the person's task stays, but waits
    response = client.post(
        f"/api/v1/tasks/{wait_here.id}/complete", json={"data": APPROVE}, headers=auth("supervisor")
    )
    assert response.status_code == 409
    assert response.get_json()["message"] == WAITS_FOR_REPAIR["zh-CN"]

    # While parked, its timers are not fired: the three-hour timer is due and stays unfired.
    fired = len(_events(instance_id, "timer.fired"))
    clock.advance(hours=3)
    scheduler.tick()
    assert len(_events(instance_id, "timer.fired")) == fired
    assert "note_late" not in instances.instance_state(_reload(instance_id))["completed_element_ids"]

    _repair(instance_id, divisor=2)
    outcome = instances.retry_incident(incident.id, users["admin"])
    db.session.commit()

    assert outcome.incident is None
    assert _reload(instance_id).status == "running"
    assert _open_elements(instance_id) == ["after_timer", "wait_here"]
    completed = instances.instance_state(_reload(instance_id))["completed_element_ids"]
    assert {"share", "note_late"} <= set(completed)  # the repaired path, then the timer that came due
    assert _incidents(instance_id)[0].resolution == "retried"
    complete_by_id(client, auth, "supervisor", _open_task(instance_id, "wait_here").id, APPROVE)


# -- messages -----------------------------------------------------------------------------------------


def test_a_message_failure_opens_an_incident(app, users):
    """A job delivering a message (no person): the failure after the catch is a ``message`` incident."""
    instance_id = _start("message_probe", MESSAGE_PROBE).id

    outcome = instances.correlate_message("poke", {"level": 1}, instance_id=instance_id)
    db.session.commit()

    assert outcome.incident is not None
    [incident] = _incidents(instance_id)
    assert (incident.kind, incident.element_id, incident.element_name) == ("message", "use_poke", "处理提醒")
    assert "missing_variable" in incident.reason
    assert [e.data["message"] for e in _events(instance_id, "message.correlated")] == ["poke"]
    instance = _reload(instance_id)
    assert instance.status == "error"
    assert instances.instance_state(instance)["active_element_ids"] == ["use_poke"]

    _repair(instance_id, missing_variable=1)
    instances.retry_incident(incident.id, None)
    db.session.commit()
    assert _open_elements(instance_id) == ["after_poke"]


def test_a_message_through_the_api_into_a_failure_answers_200_with_the_notice(app, client, auth, users):
    instance_id = _start("message_probe", MESSAGE_PROBE).id

    response = client.post(
        "/api/v1/messages",
        json={"name": "poke", "payload": {}, "instance_id": instance_id},
        headers=auth("dispatcher"),
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["notice"]["message"] == CONTINUES_AFTER_REPAIR["zh-CN"]
    assert body["status"] == "error"
    [incident] = _incidents(instance_id)
    assert (incident.kind, incident.actor_id) == ("message", users["dispatcher"].id)


# -- stuck --------------------------------------------------------------------------------------------


def test_an_instance_left_with_nothing_to_do_or_await_is_a_stuck_incident(app, client, auth, users):
    instance_id = _start("stuck_probe", STUCK_PROBE, users["admin"]).id

    body = complete_by_id(client, auth, "supervisor", _open_task(instance_id, "first").id, APPROVE)

    _assert_notice(body)
    assert body["instance_status"] == "error"
    [incident] = _incidents(instance_id)
    assert (incident.kind, incident.element_id) == ("stuck", None)
    assert incident.actor_id == users["supervisor"].id
    assert "nothing is awaited" in incident.reason
    assert "dead_end" in instances.instance_state(_reload(instance_id))["completed_element_ids"]


def test_a_waiting_instance_is_not_stuck(app, users):
    """Waiting on a person, a timer or a message is not being stuck."""
    for key, content in (("timer_probe", TIMER_PROBE), ("message_probe", MESSAGE_PROBE)):
        instance = _start(key, content, divisor=1)
        assert _reload(instance.id).status == "running"
        assert _incidents(instance.id) == []
