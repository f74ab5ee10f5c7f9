"""The alarm model through ``ingest``: repeat, clear, re-open window, flapping, retained messages, incidents
and cases, QoS 1 redelivery keys, device status. Time moves by the injected clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.clock import FrozenClock
from app.devices.models import Alarm, DeadLetter, Device, Incident
from app.extensions import db
from tests.devices.conftest import BUILDING_A, BUILDING_B, Send, known_building

LEAK = "zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸"


def alarms(alarm_type: str | None = None) -> list[Alarm]:
    db.session.expire_all()
    query = select(Alarm).order_by(Alarm.id)
    if alarm_type:
        query = query.where(Alarm.alarm_type == alarm_type)
    return list(db.session.execute(query).scalars())


def count(model: Any) -> int:
    return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture(autouse=True)
def _deployed(deployed: None) -> None:
    """Incidents open cases, which start case_handling."""


def test_repeats_raise_the_count_and_open_one_case(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    first = send(LEAK, {"water_leak": True, "battery": 96})
    assert first.outcome == "processed" and first.changes[0] == "water_leak:opened"
    assert len(first.case_keys) == 1
    for _ in range(3):
        clock.advance(seconds=30)
        assert send(LEAK, {"water_leak": True, "battery": 96}).changes[0] == "water_leak:repeated"
    (alarm,) = alarms("water_leak")
    assert (alarm.active, alarm.count, alarm.active_key) == (True, 4, f"{elderly_leak_sensor.id}:water_leak")
    assert alarm.last_seen_at.replace(tzinfo=None) == clock.now().replace(tzinfo=None)
    case = db.session.execute(select(Case)).scalar_one()
    assert (case.key, case.source_channel, case.category_code, case.severity) == (
        first.case_keys[0],
        "sensor",
        "E04",
        "orange",
    )
    assert case.grid_code == BUILDING_A and case.status == "triage"
    assert "王大爷" in case.description and "王小明" in case.description
    assert alarm.incident is not None and alarm.incident.case_id == case.id


def test_clear_ends_the_alarm_and_a_later_trigger_is_a_new_alarm(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    send(LEAK, {"water_leak": True})
    clock.advance(minutes=2)
    assert send(LEAK, {"water_leak": False}).changes == ("water_leak:cleared",)
    (cleared,) = alarms()
    assert (cleared.active, cleared.active_key) == (False, None) and cleared.cleared_at is not None
    assert send(LEAK, {"water_leak": False}).changes == ()  # already clear: nothing changes
    clock.advance(minutes=30)  # beyond the re-open, flapping and correlation windows
    result = send(LEAK, {"water_leak": True})
    assert result.changes == ("water_leak:opened",) and len(result.case_keys) == 1
    assert [a.active for a in alarms()] == [False, True]
    assert count(Case) == 2 and count(Incident) == 2


def test_a_trigger_within_the_reopen_window_reopens_the_old_alarm(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    send(LEAK, {"water_leak": True})
    clock.advance(minutes=1)
    send(LEAK, {"water_leak": False})
    clock.advance(minutes=4)  # within the 5 minute window
    result = send(LEAK, {"water_leak": True})
    assert result.changes == ("water_leak:reopened",) and result.case_keys == ()
    (alarm,) = alarms()
    assert (alarm.active, alarm.reopen_count, alarm.count, alarm.cleared_at) == (True, 1, 2, None)
    assert count(Case) == 1


def test_flapping_is_folded_into_one_alarm_and_flagged(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    for toggle in range(10):
        send(LEAK, {"water_leak": toggle % 2 == 0})
        clock.advance(seconds=20)
    (alarm,) = alarms()
    assert alarm.flapping and alarm.toggle_count == 10 and alarm.reopen_count == 4
    assert count(Case) == 1
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.action == "alarm.flapping")).all()
    assert len(actions) == 1


def test_slow_flapping_beyond_the_reopen_window_is_folded_once_it_flaps(
    make_app: Any, register: Callable[..., Any]
) -> None:
    from app.config import SensorSettings

    app: Flask = make_app(
        "sqlite", sensors=SensorSettings(reopen_window_seconds=0, correlation_window_seconds=0)
    )
    with app.app_context():
        from app.workflow import deploy
        from connectors.ingest import ingest

        deploy.deploy_folder(
            app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
        )
        db.session.commit()
        clock: FrozenClock = app.extensions["gridcase.clock"]
        from app.devices.services import register_device, validate_device_fields

        register_device(validate_device_fields({"device_id": "leak-1", "device_type": "water_leak_sensor"}))
        db.session.commit()
        for toggle in range(8):
            ingest("zigbee2mqtt/leak-1", b'{"water_leak": %s}' % (b"true" if toggle % 2 == 0 else b"false"))
            clock.advance(seconds=60)
        found = alarms()
        # toggles 1-4 are ordinary (two alarms); the 5th makes it flap and everything after folds in
        assert len(found) == 2 and found[-1].flapping and not found[0].flapping
        db.session.remove()


def test_retained_messages_rebuild_state_but_never_open_alarms_or_cases(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    result = send(LEAK, {"water_leak": True, "battery": 42}, retained=True)
    assert result.outcome == "processed" and result.changes == () and result.case_keys == ()
    assert alarms() == [] and count(Case) == 0
    db.session.refresh(elderly_leak_sensor)
    assert elderly_leak_sensor.last_values["battery"] == 42
    assert elderly_leak_sensor.last_seen_at is None  # an old copy from the broker, not a sign of life
    send(LEAK, {"water_leak": True})
    assert send(LEAK, {"water_leak": True}, retained=True).changes == ()  # no count for a replay
    assert alarms()[0].count == 1
    assert send(LEAK, {"water_leak": False}, retained=True).changes == ("water_leak:cleared",)


def test_a_fire_setting_off_many_detectors_is_one_incident_and_one_case(
    send: Send, clock: FrozenClock, register: Callable[..., Any]
) -> None:
    for n in range(1, 5):
        register(f"smoke-{n}", "smoke_detector", friendly_name=f"3栋/{n}F/烟感", building_code=BUILDING_A)
    register("smoke-far", "smoke_detector", friendly_name="9栋/1F/烟感", building_code=BUILDING_B)
    register("sos-1", "sos_button", friendly_name="3栋/1201/紧急按钮", building_code=BUILDING_A)
    register("sos-2", "sos_button", friendly_name="3栋/1502/紧急按钮", building_code=BUILDING_A)
    case_keys: list[str] = []
    for n in range(1, 5):
        case_keys += send(f"zigbee2mqtt/3栋/{n}F/烟感", {"smoke": True, "smoke_density": 20 * n}).case_keys
        clock.advance(seconds=40)
    assert len(case_keys) == 1
    (incident,) = db.session.execute(select(Incident)).scalars()
    assert incident.alarm_count == 4 and {a.incident_id for a in alarms("smoke")} == {incident.id}
    case = db.session.execute(select(Case)).scalar_one()
    assert (case.severity, case.category_code, case.key) == ("red", "E04", case_keys[0])
    # another building: its own incident; personal alarms in the same building: never merged
    assert len(send("zigbee2mqtt/9栋/1F/烟感", {"smoke": True}).case_keys) == 1
    assert len(send("zigbee2mqtt/3栋/1201/紧急按钮", {"action": "emergency"}).case_keys) == 1
    assert len(send("zigbee2mqtt/3栋/1502/紧急按钮", {"sos": True}).case_keys) == 1
    assert count(Case) == 4 and count(Incident) == 4


def test_devices_close_together_without_a_building_code_correlate_by_distance(
    send: Send, register: Callable[..., Any]
) -> None:
    register("gas-1", "gas_detector", lat=30.75890, lon=103.97180)
    register("gas-2", "gas_detector", lat=30.75900, lon=103.97190)  # ~15 m away
    register("gas-3", "gas_detector", lat=30.76900, lon=103.97180)  # ~1.1 km away
    keys = [send(f"zigbee2mqtt/gas-{n}", {"gas": True}).case_keys for n in (1, 2, 3)]
    assert [len(k) for k in keys] == [1, 0, 1]


def test_alarm_types_without_a_category_open_no_case(send: Send, register: Callable[..., Any]) -> None:
    register("door-1", "door_contact")
    assert send("zigbee2mqtt/door-1", {"contact": False, "tamper": True}).changes == (
        "tamper:opened",
        "contact_open:opened",
    )
    assert count(Case) == 0 and count(Incident) == 0


def test_device_status_follows_availability_battery_and_tamper(
    send: Send, elderly_leak_sensor: Device
) -> None:
    def status() -> str:
        db.session.refresh(elderly_leak_sensor)
        return elderly_leak_sensor.status

    assert status() == "never_seen"  # registered, never reported (从未上报): not "online"
    send(LEAK + "/availability", {"state": "offline"}, retained=True)
    assert status() == "offline"
    send(LEAK + "/availability", b"online")
    assert status() == "never_seen"  # zigbee2mqtt sees it on the network; it has still sent nothing
    send(LEAK, {"water_leak": False, "battery": 90})
    assert status() == "online"
    send(LEAK, {"battery_low": True, "battery": 3})
    assert status() == "low_battery"
    send(LEAK, {"tamper": True})
    assert status() == "tampered"
    send(LEAK, {"tamper": False, "battery_low": False})
    assert status() == "online"
    changes = db.session.execute(select(AuditEvent).where(AuditEvent.action == "device.status_changed")).all()
    assert len(changes) == 6


def test_a_qos1_redelivery_is_recognized_and_changes_nothing(
    send: Send, clock: FrozenClock, elderly_leak_sensor: Device
) -> None:
    payload = {"water_leak": True}
    assert send(LEAK, payload, message_ref="client:7").outcome == "processed"
    assert send(LEAK, payload, message_ref="client:7", redelivery=True).outcome == "duplicate"
    assert alarms()[0].count == 1
    # the same packet id, not a redelivery: the broker reused it for a new message, which counts
    clock.advance(minutes=1)
    assert send(LEAK, payload, message_ref="client:7").outcome == "processed"
    assert alarms()[0].count == 2
    # a redelivery after the dedup window is processed again (the key has expired)
    clock.advance(hours=2)
    assert send(LEAK, payload, message_ref="client:7", redelivery=True).outcome == "processed"


def test_unknown_and_mismatched_devices_are_dead_letters(send: Send, register: Callable[..., Any]) -> None:
    register("hydrant-1", "hydrant_monitor")
    result = send("zigbee2mqtt/nobody", {"water_leak": True})
    assert (result.outcome, result.reason_code) == ("dead_letter", "unknown_device")
    result = send("gridcase/devices/hydrant-1", {"kind": "elevator", "fault_code": "E1"})
    assert result.reason_code == "device_mismatch"
    # its friendly name defaults to its id: found, but a hydrant monitor does not speak zigbee2mqtt
    assert send("zigbee2mqtt/hydrant-1", {"water_leak": True}).reason_code == "device_mismatch"
    letters = list(db.session.execute(select(DeadLetter).order_by(DeadLetter.id)).scalars())
    assert [(d.topic, d.reason_code) for d in letters] == [
        ("zigbee2mqtt/nobody", "unknown_device"),
        ("gridcase/devices/hydrant-1", "device_mismatch"),
        ("zigbee2mqtt/hydrant-1", "device_mismatch"),
    ]
    assert letters[0].payload == b'{"water_leak": true}'


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b'{"water_leak": tr', "malformed_json"),
        (b"\x89PNG\r\n\x1a\n\x00", "binary"),
        (b'{"water_leak": 1}', "wrong_type"),
        (b'{"fall_status": "fallen"}', "out_of_range"),
        (b"{" + b" " * 300_000 + b"}", "oversized"),
    ],
)
def test_bad_payloads_are_kept_as_dead_letters_and_change_nothing_else(
    send: Send, elderly_leak_sensor: Device, payload: bytes, code: str
) -> None:
    result = send(LEAK, payload)
    assert (result.outcome, result.reason_code) == ("dead_letter", code)
    letter = db.session.execute(select(DeadLetter)).scalar_one()
    assert (letter.topic, letter.reason_code, letter.payload_size) == (LEAK, code, len(payload))
    assert letter.payload == payload[: 256 * 1024]
    assert alarms() == [] and count(Case) == 0
    # the topic names a registered device: the dead letter is linked to it and counted on it
    assert letter.device_id == elderly_leak_sensor.id
    db.session.refresh(elderly_leak_sensor)
    assert elderly_leak_sensor.status == "never_seen"  # a message it could not use is no report


@pytest.mark.postgres
def test_on_postgresql_a_fire_is_one_case_and_a_redelivery_is_recognized(make_app: Any) -> None:
    app: Flask = make_app("postgresql")
    with app.app_context():
        from app.devices.services import register_device, validate_device_fields
        from app.workflow import deploy
        from connectors.ingest import ingest

        deploy.deploy_folder(
            app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
        )
        known_building(BUILDING_A)
        for n in (1, 2, 3):
            register_device(
                validate_device_fields(
                    {"device_id": f"smoke-{n}", "device_type": "smoke_detector", "building_code": BUILDING_A}
                )
            )
        db.session.commit()
        results = [
            ingest(f"zigbee2mqtt/smoke-{n}", b'{"smoke": true}', message_ref=f"c:{n}") for n in (1, 2, 3)
        ]
        assert [len(r.case_keys) for r in results] == [1, 0, 0]
        again = ingest("zigbee2mqtt/smoke-2", b'{"smoke": true}', message_ref="c:2", redelivery=True)
        assert again.outcome == "duplicate"
        assert count(Case) == 1 and count(Incident) == 1 and [a.count for a in alarms()] == [1, 1, 1]
        db.session.remove()
        db.engine.dispose()
