"""zigbee2mqtt: state topic ``zigbee2mqtt/<friendly_name>`` and ``…/availability`` (friendly names may contain
'/'); the bridge's ``bridge/state`` and ``bridge/event``. Other bridge topics and ``…/set`` / ``…/get``
commands are not device messages and are ignored.

Alarm fields (see ../shared/DOMAIN.md): ``water_leak``, ``smoke`` (+ ``smoke_density``), ``gas``,
``carbon_monoxide``, ``tamper``, ``battery_low``, ``sos``, ``vibration`` map one to one; ``contact`` is
inverted (true means closed, so ``contact: false`` raises ``contact_open``); ``action: "emergency"`` raises
``sos`` and ``action: "tilt"`` raises ``tilt`` (``action: ""`` is zigbee2mqtt resetting the event field, not a
clear); ``fall_status`` fall_warning / fall_alarm raise ``fall``, normal clears it; ``liquid_state`` high
raises ``tank_high``, low / normal clear it. Only these fields are type-checked: every other field
(``battery``, ``voltage``, ``linkquality``, ``last_seen``, ``elapsed``, ``trigger_count``,
``device_temperature``, ``power_outage_count``, whatever a model or a zigbee2mqtt version adds) is kept as
the device's latest values as it came, and never makes a message a dead letter.

The bridge: ``bridge/state`` (``online`` / ``offline``, plain or ``{"state": …}``) is the availability of
the coordinator, registered as the device of type ``zigbee_coordinator`` with the friendly name ``bridge``;
``bridge/event`` ``device_joined`` / ``device_announce`` / ``device_interview`` / ``device_leave`` is
recorded on the device it names (a device that left the network is offline).
"""

from __future__ import annotations

from typing import Any

from app.devices.types import COORDINATOR_NAME, ZIGBEE2MQTT
from connectors.adapters.base import (
    Check,
    DeadLetterReason,
    ParsedMessage,
    Reading,
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

# The fields we use, checked; any other field is kept unchecked.
STATE_FIELDS: dict[str, Check] = {
    **dict.fromkeys(ALARM_FLAGS, boolean),
    "contact": boolean,
    "action": text(64),
    "fall_status": one_of("normal", "fall_warning", "fall_alarm"),
    "liquid_state": one_of("low", "normal", "high"),
    "smoke_density": number(0, 10_000),
    "gas_density": number(0, 100_000),
}
AVAILABILITY_FIELDS: dict[str, Check] = {"state": one_of("online", "offline")}
# bridge/event types about one device; a leave takes it off the network (offline).
NETWORK_EVENTS = ("device_joined", "device_announce", "device_interview", "device_leave")
BRIDGE_EVENT_FIELDS: dict[str, Check] = {"type": text(64)}
EVENT_DATA_FIELDS: dict[str, Check] = {"friendly_name": text(200), "ieee_address": text(64)}


def matches(topic: str) -> bool:
    return topic.startswith(BASE_TOPIC + "/")


def parse(topic: str, payload: bytes, retained: bool, max_bytes: int) -> ParsedMessage | None:
    rest = topic[len(BASE_TOPIC) + 1 :]
    segments = rest.split("/")
    if segments[0] == "bridge":
        return _bridge(segments[1:], payload, max_bytes)
    if "set" in segments[-2:] or "get" in segments[-2:]:
        return None
    if rest.endswith("/availability"):
        name = rest.removesuffix("/availability")
        return ParsedMessage(FAMILY, _name(name, topic), True, available=_availability(payload, max_bytes))
    data = decode_json_object(payload, max_bytes)
    fields = check_fields(data, STATE_FIELDS, "zigbee2mqtt state", tolerant=True)
    return ParsedMessage(FAMILY, _name(rest, topic), True, _readings(fields), _telemetry(fields))


def _bridge(path: list[str], payload: bytes, max_bytes: int) -> ParsedMessage | None:
    if path == ["state"]:
        return ParsedMessage(FAMILY, COORDINATOR_NAME, True, available=_availability(payload, max_bytes))
    if path != ["event"]:
        return None  # bridge/devices, bridge/info, bridge/logging, bridge/response/…: not ours
    data = check_fields(decode_json_object(payload, max_bytes), BRIDGE_EVENT_FIELDS, "bridge event", True)
    event = data.get("type")
    if event not in NETWORK_EVENTS:
        return None  # e.g. device_renamed, device_options_changed
    about = data.get("data")
    if not isinstance(about, dict):
        raise DeadLetterReason("wrong_type", f"bridge event {event} needs data: an object naming the device")
    named = check_fields(about, EVENT_DATA_FIELDS, f"bridge event {event} data", tolerant=True)
    # A device that left may be named by its IEEE address only: our device id.
    by_name = "friendly_name" in named
    ref = named.get("friendly_name") or named.get("ieee_address")
    if not ref:
        raise DeadLetterReason("wrong_type", f"bridge event {event} names no device")
    available = False if event == "device_leave" else None
    return ParsedMessage(FAMILY, ref, by_name, available=available, network_event=event)


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
