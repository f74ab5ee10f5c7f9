"""``SENSOR_AFTER_CLOSED_CASE`` (issue 13 item 2): after a case was closed while its latched alarm was still
on (a wrong confirmed clear), the next trigger reopens that case (``reopen``) or opens a new one (``open``,
the default); a momentary alarm (SOS) always opens a new case. Through ingest, bpmn/sensor_alarm.bpmn and the
task API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.cases.lifecycle import close_case
from app.cases.models import Case, CaseStatus
from app.cases.services import case_instance
from app.clock import FrozenClock, as_utc, now
from app.config import ConfigError, SensorSettings, Settings
from app.devices.case_timeline import REOPEN_LABEL
from app.devices.models import Device
from app.extensions import db
from app.grids.models import GridMember
from app.kpi.services import KpiQuery, kpi_rows
from app.workflow.models import InstanceStatus, ProcessInstance
from tests.devices.conftest import BUILDING_A, Send, sensor_grid
from tests.helpers import case_events, case_row, complete, ensure_catalogue, open_tasks
from tests.web.pages import PageClient, sign_in

LEAK = "zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸"
SOS = "zigbee2mqtt/锦绣花园/3栋/1201/紧急按钮"


@pytest.fixture
def mode() -> str:
    """SENSOR_AFTER_CLOSED_CASE of the test's app (a test parametrizes ``mode`` for the other one)."""
    return "reopen"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(make_app: Any, request: pytest.FixtureRequest, mode: str) -> Iterator[Flask]:
    app: Flask = make_app(request.param, sensors=SensorSettings(after_closed_case=mode))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _signed_in(deployed: None, users: dict[str, Any], auth: Any) -> None:
    """The dispatcher covers the district; ``worker`` is the building's worker."""
    ensure_catalogue()
    district = sensor_grid(BUILDING_A[:6], "district", None)
    building = sensor_grid(BUILDING_A, "building", district.id)
    db.session.add(GridMember(user_id=users["dispatcher"].id, grid_id=district.id, created_at=now()))
    db.session.add(GridMember(user_id=users["worker"].id, grid_id=building.id, created_at=now()))
    db.session.commit()


def _elements(key: str) -> list[str]:
    return [task.element_id for task in open_tasks(key)]


def _cases() -> int:
    return int(db.session.execute(select(func.count()).select_from(Case)).scalar_one())


def _wrongly_confirmed_clear(client: Any, auth: Any, send: Send, clock: FrozenClock) -> str:
    """A leak case closed by the dispatcher confirming a clear while the sensor is wet again."""
    (key,) = send(LEAK, {"water_leak": True}).case_keys
    clock.advance(minutes=1)
    send(LEAK, {"water_leak": False})
    assert _elements(key) == ["confirm_clear"]
    clock.advance(minutes=1)
    assert send(LEAK, {"water_leak": True}).changes == ("water_leak:reopened",)  # wet again, unseen
    complete(client, auth, "dispatcher", key, "confirm_clear", {"clear_decision": "cleared"})
    assert case_row(key).status == CaseStatus.CLOSED  # closed while the alarm is on
    clock.advance(minutes=1)
    return key


def test_reopen_mode_reopens_the_wrongly_closed_case_with_a_new_task(
    app: Flask,
    users: dict[str, Any],
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _wrongly_confirmed_clear(client, auth, send, clock)
    wet = send(LEAK, {"water_leak": True})
    assert wet.changes == ("water_leak:opened",) and wet.case_keys == (key,)
    case = case_row(key)
    assert (case.status, case.closed_at) == (CaseStatus.TRIAGE, None)
    assert _elements(key) == ["call_resident"]  # the dispatcher's task again
    clock.advance(minutes=1)
    again = send(LEAK, {"water_leak": True})
    assert again.changes == ("water_leak:repeated",) and again.case_keys == ()
    assert _cases() == 1
    (reopened,) = case_events(key, "case.reopened")
    assert reopened.actor_label == "device:0x00158d0001a2b3c4"
    assert reopened.before["status"] == CaseStatus.CLOSED and reopened.before["closed_at"] is not None
    assert reopened.after == {"status": CaseStatus.REPORTED, "closed_at": None}
    assert reopened.data["reason"] == REOPEN_LABEL == "前案已办结但报警未解除,设备再次报警,重新打开原案"
    assert case_events(key, "case.alarm_retriggered") == []
    # The case page and the task API follow the newest run; the first one is over.
    runs = db.session.execute(
        select(ProcessInstance.status).where(ProcessInstance.case_id == case.id).order_by(ProcessInstance.id)
    ).scalars()
    assert list(runs) == [InstanceStatus.COMPLETED, InstanceStatus.RUNNING]
    assert case_instance(case).status == InstanceStatus.RUNNING
    # The supervisor's timeline says why, in Chinese.
    pages = PageClient(app, app.response_class, use_cookies=True)
    sign_in(pages, "dispatcher")
    body = pages.get(f"/supervise/cases/{key}").get_data(as_text=True)
    entry = body.split('data-action="case.reopened"')[1].split("</li>")[0]
    assert "重新打开案件" in entry and "已结案 → " in entry and REOPEN_LABEL in entry
    # The reopened case runs to its end again: one closing counted, at the second one.
    clock.advance(minutes=5)
    complete(client, auth, "dispatcher", key, "call_resident", {"resident_outcome": "answered_ok"})
    case = case_row(key)
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None and _cases() == 1
    # KPIs: one case received and closed, at its second closing (the first one's closed_at is gone).
    day = KpiQuery("overall", now() - timedelta(days=1), now() + timedelta(days=1))
    (row,) = kpi_rows(users["admin"], day)
    assert (row["received"], row["closed"]) == (1, 1)
    assert as_utc(case.closed_at) == now()


@pytest.mark.parametrize("mode", ["open"])
def test_open_mode_opens_a_new_case_and_leaves_the_closed_one(
    client: Any, auth: Any, send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    key = _wrongly_confirmed_clear(client, auth, send, clock)
    wet = send(LEAK, {"water_leak": True})
    assert wet.changes == ("water_leak:opened",)
    (new_key,) = wet.case_keys
    assert new_key != key and case_row(key).status == CaseStatus.CLOSED
    assert _elements(new_key) == ["call_resident"] and _cases() == 2
    (why,) = case_events(new_key, "case.alarm_retriggered")
    assert why.data["reason"] == "case_closed" and why.data["previous_case"] == key
    assert case_events(key, "case.reopened") == []


def test_reopen_mode_still_opens_a_new_case_for_a_second_sos_press(
    send: Send, clock: FrozenClock, register: Any
) -> None:
    register(
        "0xa4c138sos0001", "sos_button", friendly_name="锦绣花园/3栋/1201/紧急按钮", resident_name="王大爷"
    )
    (first,) = send(SOS, {"action": "emergency"}).case_keys
    clock.advance(minutes=3)
    close_case(case_row(first), CaseStatus.CLOSED, None)  # the emergency was handled and closed
    db.session.commit()
    (second,) = send(SOS, {"action": "emergency"}).case_keys
    assert second != first and case_row(first).status == CaseStatus.CLOSED
    assert case_events(first, "case.reopened") == []
    (why,) = case_events(second, "case.alarm_retriggered")
    assert why.data["reason"] == "case_closed" and why.data["previous_case"] == first


def test_the_setting_refuses_a_bad_value_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENSOR_AFTER_CLOSED_CASE", raising=False)
    assert SensorSettings.from_env().after_closed_case == "open"  # the default keeps KPIs final
    monkeypatch.setenv("SENSOR_AFTER_CLOSED_CASE", " reopen ")
    assert SensorSettings.from_env().after_closed_case == "reopen"
    monkeypatch.setenv("SENSOR_AFTER_CLOSED_CASE", "reuse")
    with pytest.raises(
        ConfigError, match="SENSOR_AFTER_CLOSED_CASE must be one of open, reopen, got 'reuse'"
    ):
        Settings.from_env(database_url="sqlite://")
