"""bpmn/sensor_alarm.bpmn through ingest and the task API, time by the injected clock: the elderly water-leak
phone round (resident, then the contacts in order, each with its time limit), dispatch to the grid worker,
verify and close, auto-resolve on a confirmed clear, red alarms dispatched at once, one maintenance case per
offline episode, the handling step's warning and overdue timers, and a clear after dispatch shown to the
worker (who still verifies on site)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.clock import FrozenClock, as_utc, now
from app.devices import maintenance
from app.devices.models import Device
from app.extensions import db
from app.grids.models import GridMember
from app.workflow import scheduler
from app.workflow.models import ProcessDefinition, ProcessInstance
from tests.devices.conftest import BUILDING_A, Send, sensor_grid
from tests.helpers import case_events, case_row, complete, ensure_catalogue, open_tasks, resolved
from tests.web.pages import sign_in

LEAK = "zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸"
SMOKE = "zigbee2mqtt/锦绣花园/3栋/1201/烟感"


@pytest.fixture(autouse=True)
def _signed_in(deployed: None, users: dict[str, Any], auth: Any) -> None:
    """The dispatcher covers the district (the whole command centre); ``worker`` is the building's worker."""
    ensure_catalogue()  # E04's limits apply to the red cases, P01 is the maintenance category
    district = sensor_grid(BUILDING_A[:6], "district", None)
    building = sensor_grid(BUILDING_A, "building", district.id)
    db.session.add(GridMember(user_id=users["dispatcher"].id, grid_id=district.id, created_at=now()))
    db.session.add(GridMember(user_id=users["worker"].id, grid_id=building.id, created_at=now()))
    db.session.commit()
    for username in users:
        auth(username)


def _open_elements(key: str) -> list[str]:
    return [t.element_id for t in open_tasks(key)]


def _calls(key: str) -> list[tuple[str, str | None, str, bool]]:
    events = case_events(key, "case.contact_called")
    return [(e.data["who"], e.data["name"], e.data["outcome"], e.data["timeout"]) for e in events]


def _actions(key: str) -> list[str]:
    return [e.action for e in case_events(key)]


def _leak(send: Send) -> str:
    result = send(LEAK, {"water_leak": True})
    (key,) = result.case_keys
    return key


def _tick(clock: FrozenClock, **delta: float) -> int:
    clock.advance(**delta)
    fired = scheduler.tick()
    db.session.expire_all()
    return fired


def _handle_and_verify(client: Any, auth: Any, key: str) -> None:
    assert _open_elements(key) == ["handle"]
    assert case_row(key).status == "handling"
    complete(client, auth, "worker", key, "handle", resolved("已关闭水阀"))
    assert _open_elements(key) == ["verify"]
    complete(client, auth, "dispatcher", key, "verify", {"verify_decision": "close"})
    case = case_row(key)
    assert case.status == "closed" and case.closed_at is not None


def test_resident_answers_ok_closes_the_case(
    client: Any, auth: Any, send: Send, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    assert _open_elements(key) == ["call_resident"] and case_row(key).status == "triage"
    complete(client, auth, "dispatcher", key, "call_resident", {"resident_outcome": "answered_ok"})
    assert case_row(key).status == "closed"
    assert _calls(key) == [("resident", "王大爷", "answered_ok", False)]
    assert "case.resolved_by_call" in _actions(key) and _open_elements(key) == []


def test_nobody_answers_within_the_limits_dispatches_the_grid_worker(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    assert _tick(clock, minutes=4, seconds=59) == 0
    assert _open_elements(key) == ["call_resident"]
    # Duration timers start one microsecond late (app.workflow.timers' clock resolution): tick just after.
    assert _tick(clock, seconds=2) == 1  # 5 minutes: the resident did not answer
    assert _open_elements(key) == ["call_contact"]
    assert _tick(clock, minutes=4, seconds=58) == 0
    assert _tick(clock, seconds=3) == 1  # the son did not answer within his 5 minutes either
    assert _open_elements(key) == ["call_contact"]
    assert _tick(clock, minutes=5, seconds=1) == 1  # nor the neighbour
    assert _calls(key) == [
        ("resident", "王大爷", "no_answer", True),
        ("contact", "王小明", "no_answer", True),
        ("contact", "李阿姨", "no_answer", True),
    ]
    assert "case.time_limit_set" in _actions(key)
    _handle_and_verify(client, auth, key)


def test_contacts_are_called_in_order_and_one_needing_help_dispatches(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    complete(client, auth, "dispatcher", key, "call_resident", {"resident_outcome": "no_answer"})
    assert _open_elements(key) == ["call_contact"]
    complete(client, auth, "dispatcher", key, "call_contact", {"contact_outcome": "no_answer"})
    complete(
        client,
        auth,
        "dispatcher",
        key,
        "call_contact",
        {"contact_outcome": "needs_help", "call_note": "邻居说家里没人应门"},
    )
    assert [c[1:3] for c in _calls(key)] == [
        ("王大爷", "no_answer"),
        ("王小明", "no_answer"),
        ("李阿姨", "needs_help"),
    ]
    _handle_and_verify(client, auth, key)


def test_a_contact_confirming_all_is_fine_resolves(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    assert _tick(clock, minutes=5, seconds=1) == 1
    complete(client, auth, "dispatcher", key, "call_contact", {"contact_outcome": "answered_ok"})
    assert case_row(key).status == "closed" and _open_elements(key) == []


def test_the_alarm_clearing_during_the_calls_auto_resolves_after_confirmation(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    clock.advance(minutes=1)
    send(LEAK, {"water_leak": False})
    assert _open_elements(key) == ["confirm_clear"]
    assert _tick(clock, minutes=10) == 0  # the call timers went with the phone round
    complete(client, auth, "dispatcher", key, "confirm_clear", {"clear_decision": "cleared"})
    assert case_row(key).status == "closed"
    assert "case.auto_resolved" in _actions(key) and "message.correlated" in _actions(key)


def test_a_wrong_confirmed_clear_does_not_bury_the_leak(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    clock.advance(minutes=1)
    send(LEAK, {"water_leak": False})
    clock.advance(minutes=1)
    assert send(LEAK, {"water_leak": True}).changes == ("water_leak:reopened",)  # wet again, unseen
    complete(client, auth, "dispatcher", key, "confirm_clear", {"clear_decision": "cleared"})
    assert case_row(key).status == "closed"  # closed while the alarm is on
    clock.advance(minutes=1)
    first = send(LEAK, {"water_leak": True})
    clock.advance(minutes=1)
    second = send(LEAK, {"water_leak": True})
    assert (first.changes, second.changes) == (("water_leak:opened",), ("water_leak:repeated",))
    (new_key,) = first.case_keys
    assert case_row(new_key).status not in ("closed",) and "case.alarm_retriggered" in _actions(new_key)
    why = db.session.execute(
        select(AuditEvent.data).where(
            AuditEvent.case_id == case_row(new_key).id, AuditEvent.action == "case.alarm_retriggered"
        )
    ).scalar_one()
    assert why["reason"] == "case_closed" and why["previous_case"] == key


def test_a_clear_not_confirmed_continues_to_dispatch(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _leak(send)
    send(LEAK, {"water_leak": False})
    complete(client, auth, "dispatcher", key, "confirm_clear", {"clear_decision": "not_cleared"})
    _handle_and_verify(client, auth, key)


def test_smoke_is_a_red_case_on_the_emergency_process(
    client: Any, auth: Any, send: Send, register: Callable[..., Any]
) -> None:
    register(
        "0x00158d0001a2b3c5",
        "smoke_detector",
        friendly_name="锦绣花园/3栋/1201/烟感",
        building_code=BUILDING_A,
        resident_name="王大爷",
        resident_phone="13800000001",
    )
    (key,) = send(SMOKE, {"smoke": True}).case_keys
    case = case_row(key)
    assert case.severity == "red" and case.category_code == "E04"
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.case_id == case.id)
    ).scalar_one()
    definition = db.session.get(ProcessDefinition, instance.definition_id)
    assert definition is not None and definition.key == "emergency_escalation"
    # no plan library loaded in this test: the command centre assesses and names the responders
    assert _open_elements(key) == ["assess"] and _calls(key) == []


def test_offline_beyond_the_limit_opens_one_maintenance_case(
    app: Flask, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    settings = app.extensions["gridcase.settings"].sensors
    send("zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸/availability", {"state": "offline"})
    db.session.expire_all()
    assert elderly_leak_sensor.status == "offline"
    clock.advance(minutes=59)
    assert maintenance.sweep(settings) == []
    clock.advance(minutes=1)
    (case,) = maintenance.sweep(settings)
    db.session.commit()
    assert (case.category_code, case.source_channel) == ("P01", "sensor")
    assert _open_elements(case.key) == ["handle"]
    clock.advance(minutes=30)
    send("zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸/availability", {"state": "offline"})  # a second report
    assert maintenance.sweep(settings) == []
    # back online ends the episode; offline again while the first case is open opens no second case
    send("zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸/availability", {"state": "online"})
    assert maintenance.sweep(settings) == []
    send("zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸/availability", {"state": "offline"})
    clock.advance(hours=2)
    assert maintenance.sweep(settings) == []
    db.session.commit()
    count = db.session.execute(select(func.count()).select_from(Case).where(Case.category_code == "P01"))
    assert count.scalar_one() == 1


def test_the_scheduler_round_runs_the_maintenance_check(
    app: Flask, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    send("zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸/availability", {"state": "offline"})
    clock.advance(minutes=61)
    scheduler.tick()
    scheduler.tick()  # a second round opens nothing more
    db.session.expire_all()
    cases = db.session.execute(select(Case).where(Case.category_code == "P01")).scalars().all()
    assert len(cases) == 1
    assert _open_elements(cases[0].key) == ["handle"]


# -- the handling time limit: 临期预警 and 处置超期 on the grid worker's step -------------------------------


def _dispatched_leak(client: Any, auth: Any, send: Send) -> str:
    key = _leak(send)
    complete(client, auth, "dispatcher", key, "call_resident", {"resident_outcome": "needs_help"})
    assert _open_elements(key) == ["handle"]
    return key


def _time_limit(key: str) -> tuple[datetime, datetime]:
    """The latest warn_at and due_at ``case.set_time_limit`` computed for the case."""
    event = case_events(key, "case.time_limit_set")[-1]
    return datetime.fromisoformat(event.after["warn_at"]), datetime.fromisoformat(event.after["due_at"])


def _set_and_tick(clock: FrozenClock, when: datetime) -> int:
    clock.set(when)
    fired = scheduler.tick()
    db.session.expire_all()
    return fired


def test_the_handling_step_warns_at_warn_at_and_is_marked_overdue_at_due_at(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _dispatched_leak(client, auth, send)
    warn_at, due_at = _time_limit(key)
    case = case_row(key)
    assert as_utc(case.due_at) == due_at and now() < warn_at < due_at
    assert _open_task_due(key) == due_at

    assert _set_and_tick(clock, warn_at - timedelta(seconds=1)) == 0
    assert case_row(key).warned_at is None
    assert _set_and_tick(clock, warn_at) == 1  # 临期预警
    case = case_row(key)
    assert case.warned_at is not None and case.overdue_at is None
    assert _actions(key).count("case.due_warning") == 1
    assert _open_elements(key) == ["handle"] and case.status == "handling"  # non-interrupting

    assert _set_and_tick(clock, due_at - timedelta(seconds=1)) == 0
    assert _set_and_tick(clock, due_at) == 1  # 处置超期
    case = case_row(key)
    assert as_utc(case.overdue_at) == due_at
    assert _actions(key).count("case.overdue") == 1
    assert _open_elements(key) == ["handle"] and case.status == "handling"
    # each fires once; the one piece of work three days on is the silent leak sensor going offline
    assert _set_and_tick(clock, due_at + timedelta(days=3)) == 1
    assert _actions(key).count("case.overdue") == 1
    _handle_and_verify(client, auth, key)
    assert _actions(key).count("case.due_warning") == 1 and _actions(key).count("case.overdue") == 1


def test_handling_before_the_warning_fires_neither_timer(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _dispatched_leak(client, auth, send)
    warn_at, due_at = _time_limit(key)
    clock.set(warn_at - timedelta(minutes=1))
    complete(
        client, auth, "worker", key, "handle", {"handle_result": "resolved", "handle_description": "已关阀"}
    )
    assert _open_elements(key) == ["verify"]
    assert _set_and_tick(clock, due_at + timedelta(hours=1)) == 0  # the timers went with the handling task
    complete(client, auth, "dispatcher", key, "verify", {"verify_decision": "close"})
    case = case_row(key)
    assert case.status == "closed" and case.warned_at is None and case.overdue_at is None
    assert "case.due_warning" not in _actions(key) and "case.overdue" not in _actions(key)


def test_rework_starts_a_new_time_limit_with_its_own_timers(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _dispatched_leak(client, auth, send)
    first_warn, first_due = _time_limit(key)
    assert _set_and_tick(clock, first_warn) == 1
    complete(
        client, auth, "worker", key, "handle", {"handle_result": "resolved", "handle_description": "已关阀"}
    )
    complete(
        client,
        auth,
        "dispatcher",
        key,
        "verify",
        {"verify_decision": "rework", "verify_comment": "住户反映仍在漏水"},
    )
    assert _open_elements(key) == ["handle"] and case_row(key).rework_count == 1
    warn_at, due_at = _time_limit(key)
    assert warn_at > first_warn and due_at > first_due
    case = case_row(key)
    assert case.warned_at is None and as_utc(case.due_at) == due_at  # a new limit, a new warning
    assert _set_and_tick(clock, first_due) == 0  # the first round's timers are gone
    assert _set_and_tick(clock, warn_at) == 1 and case_row(key).warned_at is not None
    assert _set_and_tick(clock, due_at) == 1 and case_row(key).overdue_at is not None


def _open_task_due(key: str) -> datetime | None:
    (task,) = open_tasks(key)
    return as_utc(task.due_at) if task.due_at else None


# -- a clear after dispatch: on the timeline and on the worker's form, the case stays open ----------------


def _handle_form(client: Any, auth: Any, key: str) -> dict[str, Any]:
    (task,) = open_tasks(key)
    response = client.get(f"/api/v1/tasks/{task.id}", headers=auth("worker"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_a_clear_after_dispatch_is_shown_to_the_worker_who_still_verifies_on_site(
    app: Flask, client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _dispatched_leak(client, auth, send)
    before = _handle_form(client, auth, key)
    assert before["form_key"] == "sensor_handle.schema.json"
    assert before["form_schema"]["properties"]["alarm_cleared_at"]["options"] == {"hidden": True}
    assert "default" not in before["form_schema"]["properties"]["alarm_cleared_at"]

    clock.advance(minutes=20)
    cleared_at = now()
    send(LEAK, {"water_leak": False})
    assert _open_elements(key) == ["handle"] and case_row(key).status == "handling"  # not auto-closed
    (event,) = [e for e in case_events(key) if e.action == "case.alarm_cleared"]
    assert event.actor_label == "device:0x00158d0001a2b3c4"
    assert event.data["label"] == "报警已解除(设备)" and event.data["open_tasks"] == ["handle"]
    assert datetime.fromisoformat(event.data["cleared_at"]) == cleared_at
    assert "message.correlated" not in _actions(key)  # the phone round's message is not for this step
    timeline = client.get(f"/api/v1/cases/{key}/timeline?page_size=100", headers=auth("worker"))
    assert "case.alarm_cleared" in [e["action"] for e in timeline.get_json()["items"]]

    form = _handle_form(client, auth, key)["form_schema"]
    field = form["properties"]["alarm_cleared_at"]
    assert datetime.fromisoformat(field["default"]) == cleared_at and field["readOnly"] is True
    assert "options" not in field
    assert form["description"].startswith("设备已于 2026-11-02 17:20 报告报警解除,请仍到场核实。")
    # and the worker's phone page shows it, as a read-only field of the form
    web = app.test_client()
    sign_in(web, "worker")
    (task,) = open_tasks(key)
    page = web.get(f"/m/tasks/{task.id}").get_data(as_text=True)
    assert "设备已于 2026-11-02 17:20 报告报警解除" in page and "alarm_cleared_at" in page
    # the worker's form accepts the shown value back, and the case goes on to verification as usual
    cleared = {"alarm_cleared_at": field["default"], **resolved("到场核实,已无漏水")}
    complete(client, auth, "worker", key, "handle", cleared)
    complete(client, auth, "dispatcher", key, "verify", {"verify_decision": "close"})
    assert case_row(key).status == "closed"


def test_an_alarm_back_after_the_clear_takes_the_clear_off_the_form(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _dispatched_leak(client, auth, send)
    send(LEAK, {"water_leak": False})
    assert "default" in _handle_form(client, auth, key)["form_schema"]["properties"]["alarm_cleared_at"]
    clock.advance(seconds=30)
    send(LEAK, {"water_leak": True})  # leaking again: the same alarm reopens, the same case
    form = _handle_form(client, auth, key)["form_schema"]
    assert "default" not in form["properties"]["alarm_cleared_at"]
    assert form["properties"]["alarm_cleared_at"]["options"] == {"hidden": True}
    assert not form["description"].startswith("设备已于")


def test_a_camera_alarm_clearing_after_dispatch_is_on_the_timeline(
    client: Any, auth: Any, send: Send, register: Callable[..., Any]
) -> None:
    register("cam-2", "ai_camera", friendly_name="北门摄像头", building_code=BUILDING_A)
    payload = {"kind": "ai_camera", "detection": "water_logging"}
    key = _only_case_key(send("gridcase/devices/cam-2", payload))
    assert _open_elements(key) == ["handle"]
    send("gridcase/devices/cam-2", {**payload, "active": False})
    assert "case.alarm_cleared" in _actions(key) and _open_elements(key) == ["handle"]


def _only_case_key(result: Any) -> str:
    (key,) = result.case_keys
    return key  # type: ignore[no-any-return]
