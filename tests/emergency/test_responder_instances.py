"""Each responder of an emergency reports in in a child instance of the emergency's (app.workflow.children):
the emergency's highlighted diagram shows its responders' elements; an operator suspending, resuming or
terminating the emergency does the same to its responders; the case stays the emergency's alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.workflow import instances, operations, scheduler
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, ProcessJoin, TaskStatus
from tests.emergency.conftest import GAS_LEAK_UNITS, app, launch, report_in  # noqa: F401
from tests.helpers import case_row, instance, open_ids


def _responders(key: str) -> list[ProcessInstance]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessInstance)
            .where(ProcessInstance.parent_id == instance(key).id)
            .order_by(ProcessInstance.id)
        ).scalars()
    )


def test_the_emergencys_diagram_shows_its_responders(
    client: Any, auth: Any, territory: None, users: Any
) -> None:
    key = launch(client, auth)["case_key"]
    responders = _responders(key)
    assert len(responders) == len(GAS_LEAK_UNITS)
    assert {r.process_key for r in responders} == {"emergency_responder"}
    assert all(r.case_id == case_row(key).id for r in responders)  # their tasks are the case's
    shown = instances.instance_state(instance(key))
    assert {"wait_report_ins", "emergency_report_in", "await_report_in", "declare_control"} <= set(
        shown["active_element_ids"]
    )
    assert "start_report_ins" in shown["completed_element_ids"]

    for unit in GAS_LEAK_UNITS:
        report_in(client, auth, key, unit)
    shown = instances.instance_state(instance(key))
    assert "emergency_report_in" not in shown["active_element_ids"]
    assert {"emergency_report_in", "record_ack", "wait_report_ins"} <= set(shown["completed_element_ids"])
    assert db.session.execute(select(ProcessJoin)).first() is None
    assert open_ids(key) == ["declare_control"]


def test_suspending_and_terminating_the_emergency_stops_its_responders(
    client: Any, auth: Any, territory: None, users: Any, clock: Any
) -> None:
    key = launch(client, auth)["case_key"]
    report_in(client, auth, key, "gas")
    parent = instance(key)
    operations.suspend(parent.id, users["admin"], "核实预案")
    db.session.commit()
    statuses = [r.status for r in _responders(key)]
    assert statuses == [InstanceStatus.COMPLETED] + [InstanceStatus.SUSPENDED] * 3
    clock.advance(minutes=30)  # every report-in limit passes: nothing fires while suspended
    assert scheduler.tick() == 0

    operations.resume(parent.id, users["admin"], "继续")
    db.session.commit()
    assert [r.status for r in _responders(key)] == [InstanceStatus.COMPLETED] + [InstanceStatus.RUNNING] * 3

    operations.terminate(parent.id, users["admin"], "误报")
    db.session.commit()
    assert [r.status for r in _responders(key)] == [InstanceStatus.COMPLETED] + [
        InstanceStatus.TERMINATED
    ] * 3
    still_open = db.session.execute(
        select(HumanTask).where(HumanTask.case_id == case_row(key).id, HumanTask.status.in_(TaskStatus.OPEN))
    ).all()
    assert still_open == []
    assert case_row(key).status == "closed"


def test_terminating_one_responder_leaves_the_case_open_and_counts_as_its_end(
    client: Any, auth: Any, territory: None, users: Any
) -> None:
    key = launch(client, auth)["case_key"]
    for unit in GAS_LEAK_UNITS[:3]:
        report_in(client, auth, key, unit)
    last = [r for r in _responders(key) if r.status == InstanceStatus.RUNNING]
    assert len(last) == 1
    operations.terminate(last[0].id, users["admin"], "该单位已撤销")
    db.session.commit()
    assert case_row(key).status not in ("closed", "terminated")
    assert instance(key).status == InstanceStatus.RUNNING
    assert open_ids(key) == ["declare_control"]  # the emergency went on past its report-ins
    shown = instances.instance_state(instance(key))
    assert "wait_report_ins" in shown["completed_element_ids"]
