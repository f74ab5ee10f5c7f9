"""Alarm semantics per device kind (issue 13): momentary alarms are events (a press after the previous case
closed, or after the quiet time, is a new case; sooner, a repeat on that case's timeline); a case closed
while its alarm is still on does not bury the device; a fire case names every detector; a device that never
reported is "never seen"; dead letters are linked to and counted on their device. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.lifecycle import close_case
from app.cases.models import Case, CaseStatus
from app.clock import FrozenClock
from app.devices.models import Alarm, Device
from app.extensions import db
from tests.devices.conftest import BUILDING_A, Send
from tests.factories import app_on_both_backends
from tests.helpers import case_row

SOS = "zigbee2mqtt/锦绣花园/3栋/1201/紧急按钮"
LEAK = "zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸"
WATCH = "gridcase/devices/watch-1"


app = app_on_both_backends


@pytest.fixture(autouse=True)
def _deployed(deployed: None) -> None:
    """Incidents open cases, which start their processes."""


def _close(key: str) -> None:
    """The case is closed (by hand, or on a confirmed clear) while the device's alarm may still be on."""
    close_case(case_row(key), CaseStatus.CLOSED, None)
    db.session.commit()


def _events(key: str, action: str) -> list[dict[str, Any]]:
    case = case_row(key)
    rows = db.session.execute(
        select(AuditEvent.data).where(AuditEvent.case_id == case.id, AuditEvent.action == action)
    ).scalars()
    return [dict(data or {}) for data in rows]


def _open_cases() -> int:
    return int(
        db.session.execute(
            select(func.count()).select_from(Case).where(Case.status.not_in(CaseStatus.FINAL))
        ).scalar_one()
    )


def test_sos_pressed_again_after_its_emergency_closed_opens_a_second_case(
    send: Send, clock: FrozenClock, register: Callable[..., Any]
) -> None:
    register(
        "0xa4c138sos0001", "sos_button", friendly_name="锦绣花园/3栋/1201/紧急按钮", resident_name="王大爷"
    )
    first = send(SOS, {"action": "emergency", "battery": 100, "linkquality": 76})
    assert first.changes == ("sos:opened",) and len(first.case_keys) == 1
    send(SOS, {"action": ""})  # zigbee2mqtt resets the event field: not a clear
    clock.advance(minutes=3)
    _close(first.case_keys[0])
    second = send(SOS, {"action": "emergency"})
    assert second.changes == ("sos:opened",) and len(second.case_keys) == 1
    assert second.case_keys != first.case_keys and _open_cases() == 1
    (why,) = _events(second.case_keys[0], "case.alarm_retriggered")
    assert why["reason"] == "case_closed" and why["previous_case"] == first.case_keys[0]
    assert "前案已办结" in why["label"]
    old, new = db.session.execute(select(Alarm).order_by(Alarm.id)).scalars()
    assert (old.active, old.cleared_at, old.values["ended"]) == (False, None, "case_closed")
    assert (new.active, new.values["retrigger"]) == (True, "case_closed")
    superseded = db.session.execute(select(AuditEvent).where(AuditEvent.action == "alarm.superseded")).all()
    assert len(superseded) == 1


def test_a_smartwatch_sos_twice_within_the_quiet_time_is_one_case_and_later_a_new_one(
    send: Send, clock: FrozenClock, register: Callable[..., Any]
) -> None:
    register("watch-1", "smartwatch", resident_name="李奶奶")
    first = send(WATCH, {"kind": "smartwatch", "sos": True, "lat": 30.75, "lon": 103.97})
    assert first.changes == ("sos:opened",) and len(first.case_keys) == 1
    clock.advance(minutes=4)
    second = send(WATCH, {"kind": "smartwatch", "sos": True})
    assert second.changes == ("sos:repeated",) and second.case_keys == ()
    assert _open_cases() == 1
    clock.advance(seconds=10)  # the watch repeats sos in its next report: counted, not noted again
    assert send(WATCH, {"kind": "smartwatch", "sos": True}).changes == ("sos:repeated",)
    (repeat,) = _events(first.case_keys[0], "case.alarm_repeated")
    assert repeat["count"] == 2 and repeat["label"] == "设备再次触发报警"
    clock.advance(minutes=16)  # past the quiet time (15 minutes) since the last press
    third = send(WATCH, {"kind": "smartwatch", "sos": True})
    assert third.changes == ("sos:opened",) and len(third.case_keys) == 1
    (why,) = _events(third.case_keys[0], "case.alarm_retriggered")
    assert why["reason"] == "quiet_time" and why["previous_case"] == first.case_keys[0]


def test_a_wrong_confirmed_clear_on_an_active_leak_does_not_bury_the_next_wet_reports(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    first = send(LEAK, {"water_leak": True})
    clock.advance(minutes=1)
    send(LEAK, {"water_leak": False})  # flapping: the clear the dispatcher confirms…
    clock.advance(minutes=1)
    assert send(LEAK, {"water_leak": True}).changes == ("water_leak:reopened",)  # …but it is wet again
    _close(first.case_keys[0])
    clock.advance(minutes=1)
    wet = send(LEAK, {"water_leak": True, "trigger_count": 4})
    assert wet.changes == ("water_leak:opened",) and len(wet.case_keys) == 1
    clock.advance(minutes=1)
    assert send(LEAK, {"water_leak": True}).changes == ("water_leak:repeated",)
    assert _open_cases() == 1
    (why,) = _events(wet.case_keys[0], "case.alarm_retriggered")
    assert why["reason"] == "case_closed" and why["previous_case"] == first.case_keys[0]
    # and a wet report within the re-open window of a clear whose case is closed opens a case too
    clock.advance(minutes=1)
    send(LEAK, {"water_leak": False})
    _close(wet.case_keys[0])
    again = send(LEAK, {"water_leak": True})
    assert again.changes == ("water_leak:opened",) and len(again.case_keys) == 1


def test_a_fire_case_names_the_building_and_every_detector(
    send: Send, clock: FrozenClock, register: Callable[..., Any]
) -> None:
    for floor in (1, 2, 3):
        register(
            f"smoke-{floor}", "smoke_detector", friendly_name=f"3栋/{floor}F/烟感", building_code=BUILDING_A
        )
    first = send("zigbee2mqtt/3栋/1F/烟感", {"smoke": True})
    (key,) = first.case_keys
    assert "1 个" not in case_row(key).title
    for floor in (2, 3):
        clock.advance(seconds=40)
        joined = send(f"zigbee2mqtt/3栋/{floor}F/烟感", {"smoke": True})
        assert joined.changes == ("smoke:opened",) and joined.case_keys == ()
    case = case_row(key)
    assert case.title.endswith("(3 个设备报警)") and BUILDING_A in case.title
    for floor in (1, 2, 3):
        assert f"3栋/{floor}F/烟感" in case.description
    assert case.description.count("联动报警设备") == 1  # rewritten, not appended twice
    assert [e["device"] for e in _events(key, "case.alarm_joined")] == ["smoke-2", "smoke-3"]


def test_never_seen_and_dead_letters_show_on_the_device(
    send: Send, client: FlaskClient, auth: Any, users: dict[str, Any], elderly_leak_sensor: Device
) -> None:
    device = client.get(f"/api/v1/devices/{elderly_leak_sensor.device_id}", headers=auth("admin")).get_json()
    assert (device["status"], device["dead_letter_count"]) == ("never_seen", 0)
    assert send(LEAK, {"water_leak": "yes"}).outcome == "dead_letter"
    assert (
        send(LEAK, {"water_leak": False, "elapsed": 100, "last_seen": 1764942133000}).outcome == "processed"
    )
    device = client.get(f"/api/v1/devices/{elderly_leak_sensor.device_id}", headers=auth("admin")).get_json()
    assert (device["status"], device["dead_letter_count"]) == ("online", 1)
    assert device["last_values"]["elapsed"] == 100
    letters = client.get(
        f"/api/v1/dead-letters?device={elderly_leak_sensor.device_id}", headers=auth("admin")
    ).get_json()
    assert letters["total"] == 1 and letters["items"][0]["device"] == elderly_leak_sensor.device_id


def test_the_cli_lists_never_seen_devices_and_their_dead_letters(
    app: Flask, send: Send, elderly_leak_sensor: Device
) -> None:
    send(LEAK, {"water_leak": "yes"})
    result = app.test_cli_runner().invoke(args=["devices", "list", "--status", "never_seen"])
    assert result.exit_code == 0, result.output
    assert "never_seen(从未上报)" in result.output and "dead letters 1" in result.output
