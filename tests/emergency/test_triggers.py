"""What starts bpmn/emergency_escalation.bpmn besides a launched plan: a red report (its category's plan, or
the command centre's assessment when no plan matches) and a critical sensor alarm (smoke, gas, CO, SOS,
fall; the others stay on sensor_alarm.bpmn). SOS and fall call up to three contacts in order, each with a
short limit, then send the grid's worker: reached at the first call, at the third, and by nobody."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from app.clock import as_utc
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from connectors.ingest import ingest
from tests.emergency.conftest import (
    complete_task,
    emergency,
    report_in,
    task_for,
)
from tests.helpers import case_events, case_row, fingerprint, fire_next_timer, instance, open_ids, report

pytestmark = pytest.mark.usefixtures("territory")

CONTACTS = [
    {"name": "王小明", "phone": "13900000002", "relation": "儿子"},
    {"name": "李阿姨", "phone": "13900000003", "relation": "邻居"},
    {"name": "张医生", "phone": "13900000004", "relation": "家庭医生"},
    {"name": "王小红", "phone": "13900000005", "relation": "女儿"},
]


def _device(
    device_id: str, device_type: str, name: str, contacts: list[dict[str, str]] | None = None
) -> None:
    register_device(
        validate_device_fields(
            {
                "device_id": device_id,
                "device_type": device_type,
                "friendly_name": name,
                "lat": 30.7589,
                "lon": 103.9718,
                "address": "锦绣花园 3 栋 1201",
                "resident_name": "王大爷",
                "resident_phone": "13800000001",
                "resident_notes": "独居老人",
                "emergency_contacts": contacts or [],
            }
        )
    )
    db.session.commit()


def _alarm(name: str, payload: dict[str, Any]) -> str:
    result = ingest(f"zigbee2mqtt/{name}", json.dumps(payload).encode())
    (key,) = result.case_keys
    db.session.expire_all()
    return key


def _calls(key: str) -> list[tuple[int, str, str, bool]]:
    return [
        (e.data["order"], e.data["name"], e.data["outcome"], e.data["timeout"])
        for e in case_events(key, "emergency.contact_called")
    ]


def _call(client: Any, auth: Any, key: str, outcome: str) -> None:
    complete_task(
        client, auth, "dispatcher", task_for(key, "emergency_call_contact"), {"contact_outcome": outcome}
    )


def _worker_sent(key: str) -> None:
    """After the calls: the grid's least-loaded worker and the property company must report in."""
    assert open_ids(key) == ["declare_control", "emergency_report_in", "emergency_report_in"]
    worker = task_for(key, "emergency_report_in", user="worker")
    assert worker.assignee_id is not None  # named: the worker has it without claiming
    assert task_for(key, "emergency_report_in", unit="property").candidate_user is None


# -- red reports ----------------------------------------------------------------------------------------


def test_a_red_report_starts_the_emergency_with_its_categorys_plan(app, client, auth):
    key = report(client, auth, who="worker", title="3 栋燃气泄漏", category_code="E0403", severity="red")[
        "key"
    ]
    assert instance(key).process_key == "emergency_escalation"
    shown = emergency(client, auth, key)
    assert (shown["trigger"], shown["plan_code"]) == ("report", "gas_leak")
    assert [r["unit"] for r in shown["responders"]] == ["gas", "fire", "property", "police"]
    assert case_row(key).filed_at is not None and case_row(key).dispatched_at is not None


def test_a_report_below_red_keeps_its_categorys_process(app, client, auth):
    key = report(client, auth, category_code="E0403", severity="orange")["key"]
    assert instance(key).process_key == "case_handling" and open_ids(key) == ["triage"]


def test_a_red_report_without_a_plan_is_assessed_by_the_command_centre(app, client, auth, clock):
    key = report(client, auth, title="路面塌陷", category_code="E0401", severity="red")["key"]
    assert open_ids(key) == ["assess"]
    assert case_row(key).status == "dispatching"
    before = fingerprint()
    task = task_for(key, "assess")
    response = client.post(
        f"/api/v1/tasks/{task.id}/complete",
        json={"data": {"plan_code": "no_such_plan"}},
        headers=auth("dispatcher"),
    )
    assert response.status_code == 422 and "plan_code" in response.get_json()["details"]
    response = client.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {}}, headers=auth("dispatcher"))
    assert response.status_code == 422
    assert fingerprint() == before
    complete_task(
        client,
        auth,
        "dispatcher",
        task,
        {"responder_units": ["district_bureau", "police"], "report_in_minutes": 5},
    )
    shown = emergency(client, auth, key)
    assert [(r["unit"], r["limit"]) for r in shown["responders"]] == [
        ("district_bureau", "5m"),
        ("police", "5m"),
    ]
    assert as_utc(task_for(key, "emergency_report_in", unit="police").due_at) == clock.now() + timedelta(
        minutes=5
    )


def test_the_assessment_may_choose_a_plan_of_the_library(app, client, auth):
    key = report(client, auth, title="小区火情", category_code="E04", severity="red")["key"]
    complete_task(client, auth, "dispatcher", task_for(key, "assess"), {"plan_code": "high_rise_fire"})
    shown = emergency(client, auth, key)
    assert shown["plan_code"] == "high_rise_fire" and shown["checklist"][0] == "疏散楼内人员并清点"
    assert [r["unit"] for r in shown["responders"]] == [
        "fire",
        "property",
        "police",
        "power",
        "street_office",
    ]


# -- critical alarms --------------------------------------------------------------------------------------


def test_a_smoke_alarm_starts_the_high_rise_fire_plan(app, client, auth):
    _device("0xsmoke", "smoke_detector", "锦绣花园/3栋/1201/烟感")
    key = _alarm("锦绣花园/3栋/1201/烟感", {"smoke": True})
    assert instance(key).process_key == "emergency_escalation"
    shown = emergency(client, auth, key)
    assert (shown["trigger"], shown["plan_code"], shown["severity"]) == ("alarm", "high_rise_fire", "red")
    assert len(shown["responders"]) == 5 and _calls(key) == []
    report_in(client, auth, key, "fire")
    assert emergency(client, auth, key)["timings"]["first_ack_seconds"] == 0


def test_a_water_leak_stays_on_the_sensor_alarm_process(app, client, auth):
    _device("0xleak", "water_leak_sensor", "锦绣花园/3栋/1201/水浸", CONTACTS[:1])
    key = _alarm("锦绣花园/3栋/1201/水浸", {"water_leak": True})
    assert instance(key).process_key == "sensor_alarm"
    assert client.get(f"/api/v1/emergencies/{key}", headers=auth("dispatcher")).status_code == 404


def test_sos_reached_at_the_first_call_sends_the_grid_worker(app, client, auth, clock):
    _device("0xsos", "sos_button", "锦绣花园/3栋/1201/紧急按钮", CONTACTS)
    key = _alarm("锦绣花园/3栋/1201/紧急按钮", {"action": "emergency"})
    assert emergency(client, auth, key)["plan_code"] == "elderly_fall"
    assert open_ids(key) == ["emergency_call_contact"] and case_row(key).status == "triage"
    _call(client, auth, key, "reached")
    assert _calls(key) == [(1, "王小明", "reached", False)]
    _worker_sent(key)
    due = as_utc(task_for(key, "emergency_report_in", user="worker").due_at)
    assert due == clock.now() + timedelta(minutes=10)


def test_a_fall_reached_at_the_third_call(app, client, auth, clock):
    _device("0xfall", "fall_detector", "锦绣花园/3栋/1201/跌倒", CONTACTS)
    key = _alarm("锦绣花园/3栋/1201/跌倒", {"fall_status": "fall_alarm"})
    started = clock.now()
    _call(client, auth, key, "no_answer")
    fire_next_timer(clock, key)  # the second contact lets it ring out: 2 minutes
    # duration timers start one microsecond late (app.workflow.timers' resolution)
    assert round((clock.now() - started).total_seconds()) == 120
    _call(client, auth, key, "needs_help")
    assert _calls(key) == [
        (1, "王小明", "no_answer", False),
        (2, "李阿姨", "no_answer", True),
        (3, "张医生", "needs_help", False),
    ]
    _worker_sent(key)
    report_in(client, auth, key, "property")
    complete_task(
        client,
        auth,
        "worker",
        task_for(key, "emergency_report_in", user="worker"),
        {"responsible_person": "网格员小李"},
    )
    shown = emergency(client, auth, key)
    assert shown["counts"]["acknowledged"] == 2 and shown["timings"]["all_ack_seconds"] == 120


def test_nobody_reached_within_three_calls_still_sends_the_worker_within_minutes(app, client, auth, clock):
    _device(
        "0xsos2", "sos_button", "锦绣花园/3栋/1201/紧急按钮2", CONTACTS
    )  # four contacts: three are called
    key = _alarm("锦绣花园/3栋/1201/紧急按钮2", {"sos": True})
    started = clock.now()
    for _ in range(3):
        fire_next_timer(clock, key)
    assert [c[1:] for c in _calls(key)] == [
        ("王小明", "no_answer", True),
        ("李阿姨", "no_answer", True),
        ("张医生", "no_answer", True),
    ]
    assert round((clock.now() - started).total_seconds()) == 6 * 60
    _worker_sent(key)


def test_a_fall_without_contacts_goes_straight_to_the_worker(app, client, auth):
    _device("0xfall2", "fall_detector", "锦绣花园/3栋/1201/跌倒2")
    key = _alarm("锦绣花园/3栋/1201/跌倒2", {"fall_status": "fall_alarm"})
    assert _calls(key) == []
    _worker_sent(key)
