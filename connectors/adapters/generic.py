"""The generic JSON format, for devices zigbee2mqtt does not cover. Topic ``gridcase/devices/<device_id>``
(MQTT) or ``POST /api/v1/ingest/<device_id>`` (HTTP); the payload is one JSON object::

    {"kind": "hydrant", "pressure_kpa": 96.5, "battery": 80, "ts": "2026-11-02T09:00:00+08:00"}

``kind`` picks the module that reads the rest (hydrant, elevator, smartwatch, ai_camera: one small module
each, listed in ``KINDS``); every payload may also carry ``battery`` (0-100), ``battery_low``, ``tamper``
(raise / clear those alarms) and ``ts`` (the device's own time, kept as telemetry). A field the kind does not
know, a wrong type or a value out of range makes the message a dead letter. ``null`` means "not reported".
"""

from __future__ import annotations

import re
from typing import Any

from app.devices.types import GENERIC
from connectors.adapters import ai_camera, elevator, hydrant, smartwatch
from connectors.adapters.base import (
    Check,
    DeadLetterReason,
    ParsedMessage,
    Reading,
    boolean,
    check_fields,
    decode_json_object,
    number,
    text,
)

BASE_TOPIC = "gridcase/devices"
FAMILY = GENERIC
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
KINDS = {module.KIND: module for module in (hydrant, elevator, smartwatch, ai_camera)}
COMMON_FIELDS: dict[str, Check] = {
    "kind": text(32),
    "ts": text(40),
    "battery": number(0, 100),
    "battery_low": boolean,
    "tamper": boolean,
}


def matches(topic: str) -> bool:
    return topic.startswith(BASE_TOPIC + "/")


def parse(topic: str, payload: bytes, retained: bool, max_bytes: int) -> ParsedMessage:
    device_id = topic[len(BASE_TOPIC) + 1 :]
    if not DEVICE_ID.match(device_id):
        raise DeadLetterReason("unknown_topic", f"topic {topic!r}: expected {BASE_TOPIC}/<device id>")
    data = decode_json_object(payload, max_bytes)
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise DeadLetterReason("wrong_type", f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    module = KINDS.get(kind)
    if module is None:
        raise DeadLetterReason("out_of_range", f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    schema: dict[str, Check] = {**COMMON_FIELDS, **module.FIELDS}
    fields = check_fields(data, schema, f"{kind} payload")
    missing = [name for name in module.REQUIRED if name not in fields]
    if missing:
        raise DeadLetterReason("wrong_type", f"{kind} payload needs field(s): {', '.join(missing)}")
    readings = [Reading(flag, fields[flag]) for flag in ("battery_low", "tamper") if flag in fields]
    readings.extend(module.readings(fields))
    # Decoded snapshots (bytes) travel with their reading as a hash, not as telemetry.
    telemetry: dict[str, Any] = {
        name: value for name, value in fields.items() if name != "kind" and not isinstance(value, bytes)
    }
    return ParsedMessage(FAMILY, device_id, False, tuple(readings), telemetry, kind=kind)
