"""Payload adapters: one small module per device family (``zigbee2mqtt``, ``generic``) and, inside the
generic JSON format, one per device kind (``hydrant``, ``elevator``, ``smartwatch``, ``ai_camera``).

``adapt(topic, payload, retained, max_bytes)`` turns a message into a ``ParsedMessage`` of normalized
``Reading``s, returns None for topics that are not device messages (zigbee2mqtt's bridge, commands), or
raises ``DeadLetterReason``. Adapters are pure functions of their input: the table-driven tests in
tests/connectors/test_adapters.py hold every field and every kind of bad payload.
"""

from __future__ import annotations

from connectors.adapters import generic, zigbee2mqtt
from connectors.adapters.base import REASON_CODES, DeadLetterReason, ParsedMessage, Reading

FAMILIES = (zigbee2mqtt, generic)

__all__ = [
    "FAMILIES",
    "REASON_CODES",
    "DeadLetterReason",
    "ParsedMessage",
    "Reading",
    "adapt",
    "device_ref",
    "topic_for",
]


def adapt(topic: str, payload: bytes, retained: bool, max_bytes: int) -> ParsedMessage | None:
    for family in FAMILIES:
        if family.matches(topic):
            return family.parse(topic, payload, retained, max_bytes)
    raise DeadLetterReason("unknown_topic", f"no adapter reads topic {topic!r}")


def device_ref(topic: str) -> tuple[bool, str] | None:
    """The device a topic names, (by friendly name, ref), whatever its payload: a dead letter of a
    registered device is linked to it. None for topics that name no device."""
    if topic.startswith(zigbee2mqtt.BASE_TOPIC + "/"):
        name = topic[len(zigbee2mqtt.BASE_TOPIC) + 1 :].removesuffix("/availability")
        return None if not name or name.split("/")[0] == "bridge" else (True, name)
    if generic.matches(topic):
        return False, topic[len(generic.BASE_TOPIC) + 1 :]
    return None


def topic_for(family: str, device_id: str, friendly_name: str) -> str:
    """The state topic a device of ``family`` publishes to (HTTP ingestion feeds the same adapters)."""
    if family == zigbee2mqtt.FAMILY:
        return f"{zigbee2mqtt.BASE_TOPIC}/{friendly_name}"
    return f"{generic.BASE_TOPIC}/{device_id}"
