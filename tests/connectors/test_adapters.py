"""Payload adapters, table-driven: every alarm field of each family, and every kind of bad payload."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from connectors.adapters import DeadLetterReason, adapt

LIMIT = 4096
Z = "zigbee2mqtt/3栋/1201/厨房"  # friendly names may contain '/'
G = "gridcase/devices/dev-1"


def readings(topic: str, payload: Any, retained: bool = False) -> dict[str, tuple[bool, dict[str, Any]]]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    parsed = adapt(topic, raw, retained, LIMIT)
    assert parsed is not None
    return {r.alarm_type: (r.active, dict(r.values)) for r in parsed.readings}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"water_leak": True}, {"water_leak": (True, {})}),
        ({"water_leak": False}, {"water_leak": (False, {})}),
        ({"smoke": True, "smoke_density": 12.5}, {"smoke": (True, {"smoke_density": 12.5})}),
        ({"gas": True}, {"gas": (True, {})}),
        ({"carbon_monoxide": True}, {"carbon_monoxide": (True, {})}),
        ({"tamper": True}, {"tamper": (True, {})}),
        ({"battery_low": True, "battery": 5}, {"battery_low": (True, {})}),
        ({"contact": True}, {"contact_open": (False, {})}),  # true means CLOSED
        ({"contact": False}, {"contact_open": (True, {})}),
        ({"sos": True}, {"sos": (True, {})}),
        ({"sos": False}, {"sos": (False, {})}),
        ({"action": "emergency"}, {"sos": (True, {"action": "emergency"})}),
        ({"action": ""}, {}),  # zigbee2mqtt resetting the event field: not a clear
        ({"action": "single"}, {}),
        ({"fall_status": "fall_alarm"}, {"fall": (True, {"fall_status": "fall_alarm"})}),
        ({"fall_status": "fall_warning"}, {"fall": (True, {"fall_status": "fall_warning"})}),
        ({"fall_status": "normal"}, {"fall": (False, {"fall_status": "normal"})}),
        ({"liquid_state": "high"}, {"tank_high": (True, {"liquid_state": "high"})}),
        ({"liquid_state": "normal"}, {"tank_high": (False, {"liquid_state": "normal"})}),
        ({"liquid_state": "low"}, {"tank_high": (False, {"liquid_state": "low"})}),
        ({"vibration": True}, {"vibration": (True, {})}),
        ({"action": "tilt"}, {"tilt": (True, {"action": "tilt"})}),
        ({"battery": 100, "voltage": 3025, "linkquality": 120, "water_leak": None}, {}),
        (
            {"battery": 100, "battery_low": False, "tamper": False, "voltage": 3025, "water_leak": True},
            {"water_leak": (True, {}), "tamper": (False, {}), "battery_low": (False, {})},
        ),
    ],
)
def test_zigbee2mqtt_fields(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    assert readings(Z, payload) == expected


def test_zigbee2mqtt_state_topic_names_the_device_and_keeps_telemetry() -> None:
    parsed = adapt(Z, b'{"water_leak": true, "battery": 97, "action": ""}', False, LIMIT)
    assert parsed is not None
    assert (parsed.family, parsed.device_ref, parsed.by_friendly_name) == (
        "zigbee2mqtt",
        "3栋/1201/厨房",
        True,
    )
    assert parsed.telemetry == {"water_leak": True, "battery": 97}


@pytest.mark.parametrize(
    ("payload", "online"),
    [(b'{"state":"online"}', True), (b'{"state":"offline"}', False), (b"online", True), (b"offline", False)],
)
def test_zigbee2mqtt_availability(payload: bytes, online: bool) -> None:
    parsed = adapt(Z + "/availability", payload, True, LIMIT)
    assert parsed is not None
    assert (parsed.device_ref, parsed.available, parsed.readings) == ("3栋/1201/厨房", online, ())


@pytest.mark.parametrize(
    "topic",
    ["zigbee2mqtt/bridge/info", "zigbee2mqtt/bridge/devices", Z + "/set", Z + "/get", Z + "/set/state"],
)
def test_zigbee2mqtt_bridge_and_commands_are_ignored(topic: str) -> None:
    assert adapt(topic, b'{"state":"online"}', False, LIMIT) is None


@pytest.mark.parametrize(("payload", "online"), [(b"offline", False), (b'{"state":"online"}', True)])
def test_zigbee2mqtt_bridge_state_is_the_coordinators_availability(payload: bytes, online: bool) -> None:
    parsed = adapt("zigbee2mqtt/bridge/state", payload, True, LIMIT)
    assert parsed is not None
    assert (parsed.device_ref, parsed.by_friendly_name, parsed.available) == ("bridge", True, online)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {
                "type": "device_leave",
                "data": {"ieee_address": "0x00158d0001a2b3c4", "friendly_name": "3栋/1201"},
            },
            ("3栋/1201", True, False, "device_leave"),
        ),
        ({"type": "device_leave", "data": {"ieee_address": "0x1"}}, ("0x1", False, False, "device_leave")),
        (
            {"type": "device_joined", "data": {"friendly_name": "0x2", "ieee_address": "0x2"}},
            ("0x2", True, None, "device_joined"),
        ),
    ],
)
def test_zigbee2mqtt_bridge_events_name_the_device(
    payload: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    parsed = adapt("zigbee2mqtt/bridge/event", json.dumps(payload).encode(), False, LIMIT)
    assert parsed is not None
    assert (parsed.device_ref, parsed.by_friendly_name, parsed.available, parsed.network_event) == expected


def test_other_bridge_events_are_ignored() -> None:
    payload = b'{"type": "device_renamed", "data": {"from": "a", "to": "b"}}'
    assert adapt("zigbee2mqtt/bridge/event", payload, False, LIMIT) is None


def test_zigbee2mqtt_fields_we_do_not_use_are_kept_unchecked() -> None:
    payload = b'{"water_leak": true, "colour": "red", "battery": "full", "linkquality": 1.5, "elapsed": 12}'
    parsed = adapt(Z, payload, False, LIMIT)
    assert parsed is not None
    assert [(r.alarm_type, r.active) for r in parsed.readings] == [("water_leak", True)]
    assert parsed.telemetry == {
        "water_leak": True,
        "colour": "red",
        "battery": "full",
        "linkquality": 1.5,
        "elapsed": 12,
    }


SNAPSHOT = base64.b64encode(b"\xff\xd8\xff\xe0 a jpeg").decode()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"kind": "hydrant", "pressure_kpa": 96.5}, {"hydrant_low_pressure": (True, {"pressure_kpa": 96.5})}),
        ({"kind": "hydrant", "pressure_kpa": 300}, {"hydrant_low_pressure": (False, {"pressure_kpa": 300})}),
        ({"kind": "elevator", "fault_code": "E35"}, {"elevator_fault": (True, {"fault_code": "E35"})}),
        ({"kind": "elevator", "fault_code": ""}, {"elevator_fault": (False, {})}),
        ({"kind": "elevator", "trapped": True, "floor": 7}, {"elevator_entrapment": (True, {"floor": 7})}),
        ({"kind": "smartwatch", "heart_rate": 38}, {"heart_rate_abnormal": (True, {"heart_rate": 38})}),
        ({"kind": "smartwatch", "heart_rate": 72}, {"heart_rate_abnormal": (False, {"heart_rate": 72})}),
        (
            {"kind": "smartwatch", "geofence": "exit", "lat": 30.7, "lon": 103.9},
            {"geofence_exit": (True, {"lat": 30.7, "lon": 103.9})},
        ),
        ({"kind": "smartwatch", "geofence": "inside"}, {"geofence_exit": (False, {})}),
        ({"kind": "smartwatch", "sos": True}, {"sos": (True, {})}),
        (
            {"kind": "ai_camera", "detection": "fire", "confidence": 0.9, "snapshot_url": "https://c/1.jpg"},
            {
                "camera_fire": (
                    True,
                    {"detection": "fire", "confidence": 0.9, "snapshot_url": "https://c/1.jpg"},
                )
            },
        ),
        (
            {"kind": "ai_camera", "detection": "garbage_overflow", "active": False},
            {"camera_garbage_overflow": (False, {"detection": "garbage_overflow"})},
        ),
        (
            {"kind": "hydrant", "pressure_kpa": 200, "tamper": True},
            {"tamper": (True, {}), "hydrant_low_pressure": (False, {"pressure_kpa": 200})},
        ),
    ],
)
def test_generic_kinds(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    assert readings(G, payload) == expected


def test_camera_snapshot_base64_travels_as_its_hash() -> None:
    found = readings(G, {"kind": "ai_camera", "detection": "smoke", "snapshot_base64": SNAPSHOT})
    active, values = found["camera_smoke"]
    assert active and values["snapshot_bytes"] == 11 and len(values["snapshot_sha256"]) == 64


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        (Z, b'{"water_leak": tru', "malformed_json"),
        (Z, b"[1, 2]", "malformed_json"),
        (Z, b'{"smoke_density": NaN}', "malformed_json"),
        (Z, b"\xff\xd8\xff\xe0\x00\x10JFIF", "binary"),
        (Z, b'{"a": "\x00"}', "binary"),
        (Z, b"", "empty"),
        (Z, b'{"water_leak": true, "pad": "' + b"x" * LIMIT + b'"}', "oversized"),
        (Z, b'{"water_leak": "yes"}', "wrong_type"),
        (Z, b'{"contact": 1}', "wrong_type"),
        (Z, b'{"fall_status": "fallen"}', "out_of_range"),
        (Z, b'{"liquid_state": 3}', "wrong_type"),
        (Z, b'{"smoke_density": -1}', "out_of_range"),
        ("zigbee2mqtt/bridge/event", b'{"type": "device_leave", "data": "0x1"}', "wrong_type"),
        ("zigbee2mqtt/bridge/event", b'{"type": "device_leave", "data": {}}', "wrong_type"),
        (Z + "/availability", b'{"state": "sleeping"}', "out_of_range"),
        (Z + "/availability", b"{}", "wrong_type"),
        ("zigbee2mqtt//", b"{}", "unknown_topic"),
        ("home/kitchen/leak", b"{}", "unknown_topic"),
        (G, b'{"pressure_kpa": 10}', "wrong_type"),
        (G, b'{"kind": "toaster"}', "out_of_range"),
        (G, b'{"kind": "hydrant"}', "wrong_type"),
        (G, b'{"kind": "hydrant", "pressure_kpa": -5}', "out_of_range"),
        (G, b'{"kind": "hydrant", "pressure_kpa": 100, "flow": 3}', "unknown_field"),
        (G, b'{"kind": "elevator", "fault_code": "E 35!"}', "out_of_range"),
        (G, b'{"kind": "smartwatch", "heart_rate": 400}', "out_of_range"),
        (G, b'{"kind": "smartwatch", "geofence": "outside"}', "out_of_range"),
        (G, b'{"kind": "ai_camera", "detection": "ufo"}', "out_of_range"),
        (
            G,
            b'{"kind": "ai_camera", "detection": "fire", "snapshot_url": "file:///etc/passwd"}',
            "out_of_range",
        ),
        (G, b'{"kind": "ai_camera", "detection": "fire", "snapshot_base64": "not base64!"}', "wrong_type"),
        ("gridcase/devices/a/b", b'{"kind": "hydrant", "pressure_kpa": 1}', "unknown_topic"),
    ],
)
def test_bad_payloads_are_dead_letters_with_the_reason(topic: str, payload: bytes, code: str) -> None:
    with pytest.raises(DeadLetterReason) as caught:
        adapt(topic, payload, False, LIMIT)
    assert caught.value.code == code, caught.value.reason
    assert caught.value.reason
