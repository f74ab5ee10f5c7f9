"""zigbee2mqtt: state topic ``zigbee2mqtt/<friendly_name>`` and ``…/availability`` (friendly names may contain
'/'). Bridge topics and ``…/set`` / ``…/get`` commands are not device messages and are ignored.

Alarm fields (see ../shared/DOMAIN.md): ``water_leak``, ``smoke`` (+ ``smoke_density``), ``gas``,
``carbon_monoxide``, ``tamper``, ``battery_low``, ``sos``, ``vibration`` map one to one; ``contact`` is
inverted (true means closed, so ``contact: false`` raises ``contact_open``); ``action: "emergency"`` raises
``sos`` and ``action: "tilt"`` raises ``tilt`` (``action: ""`` is zigbee2mqtt resetting the event field, not a
clear); ``fall_status`` fall_warning / fall_alarm raise ``fall``, normal clears it; ``liquid_state`` high
raises ``tank_high``, low / normal clear it. Anything else must be a known telemetry field.
"""

from __future__ import annotations

from typing import Any

from app.devices.types import ZIGBEE2MQTT
from connectors.adapters.base import (
    Check,
    DeadLetterReason,
    ParsedMessage,
    Reading,
    anything,
    boolean,
    check_fields,
    decode_json_object,
    number,
    one_of,
    text,
)

BASE_TOPIC = "zigbee2mqtt"
FAMILY = ZIGBEE2MQTT

# Fields whose boolean value is the alarm state itself.
ALARM_FLAGS = ("water_leak", "smoke", "gas", "carbon_monoxide", "tamper", "battery_low", "sos", "vibration")
ACTION_ALARMS = {"emergency": "sos", "tilt": "tilt"}

STATE_FIELDS: dict[str, Check] = {
    **dict.fromkeys(ALARM_FLAGS, boolean),
    "contact": boolean,
    "action": text(64),
    "fall_status": one_of("normal", "fall_warning", "fall_alarm"),
    "liquid_state": one_of("low", "normal", "high"),
    "smoke_density": number(0, 10_000),
    "gas_density": number(0, 100_000),
    # telemetry and diagnostics zigbee2mqtt adds to most devices
    "battery": number(0, 100),
    "voltage": number(0, 10_000),
    "linkquality": number(0, 255, integer=True),
    "temperature": number(-60, 150),
    "device_temperature": number(-60, 150),
    "humidity": number(0, 100),
    "power_outage_count": number(0, 1e9, integer=True),
    "battery_state": text(16),
    "sensitivity": text(16),
    "test": boolean,
    "silence": boolean,
    "selftest": anything,
    "last_seen": anything,  # ISO string or epoch milliseconds, by zigbee2mqtt setting
    "update": anything,  # {"state": "idle", ...}
    "update_available": boolean,
}
AVAILABILITY_FIELDS: dict[str, Check] = {"state": one_of("online", "offline")}


def matches(topic: str) -> bool:
    return topic.startswith(BASE_TOPIC + "/")


def parse(topic: str, payload: bytes, retained: bool, max_bytes: int) -> ParsedMessage | None:
    rest = topic[len(BASE_TOPIC) + 1 :]
    segments = rest.split("/")
    if segments[0] == "bridge" or "set" in segments[-2:] or "get" in segments[-2:]:
        return None
    if rest.endswith("/availability"):
        name = rest.removesuffix("/availability")
        return ParsedMessage(FAMILY, _name(name, topic), True, available=_availability(payload, max_bytes))
    data = decode_json_object(payload, max_bytes)
    fields = check_fields(data, STATE_FIELDS, "zigbee2mqtt state")
    return ParsedMessage(FAMILY, _name(rest, topic), True, _readings(fields), _telemetry(fields))


def _name(name: str, topic: str) -> str:
    if not name or name.startswith("/") or name.endswith("/"):
        raise DeadLetterReason("unknown_topic", f"no friendly name in topic {topic!r}")
    return name


def _availability(payload: bytes, max_bytes: int) -> bool:
    if payload in (b"online", b"offline"):  # the legacy plain-text availability payload
        return payload == b"online"
    data = decode_json_object(payload, max_bytes)
    fields = check_fields(data, AVAILABILITY_FIELDS, "zigbee2mqtt availability")
    if "state" not in fields:
        raise DeadLetterReason("wrong_type", "availability needs state: online or offline")
    return bool(fields["state"] == "online")


def _readings(fields: dict[str, Any]) -> tuple[Reading, ...]:
    readings: dict[str, Reading] = {}

    def add(alarm_type: str, active: bool, **values: Any) -> None:
        readings.setdefault(alarm_type, Reading(alarm_type, active, values))

    for flag in ALARM_FLAGS:
        if flag in fields:
            density = fields.get("smoke_density") if flag == "smoke" else None
            add(flag, fields[flag], **({"smoke_density": density} if density is not None else {}))
    if "contact" in fields:
        add("contact_open", not fields["contact"])
    action = fields.get("action")
    if action in ACTION_ALARMS:
        add(ACTION_ALARMS[action], True, action=action)
    if "fall_status" in fields:
        add("fall", fields["fall_status"] != "normal", fall_status=fields["fall_status"])
    if "liquid_state" in fields:
        add("tank_high", fields["liquid_state"] == "high", liquid_state=fields["liquid_state"])
    return tuple(readings.values())


def _telemetry(fields: dict[str, Any]) -> dict[str, Any]:
    """The latest state as reported, minus the event field (an action is an event, not a state)."""
    return {name: value for name, value in fields.items() if name != "action"}
