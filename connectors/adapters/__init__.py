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

__all__ = ["FAMILIES", "REASON_CODES", "DeadLetterReason", "ParsedMessage", "Reading", "adapt", "topic_for"]


def adapt(topic: str, payload: bytes, retained: bool, max_bytes: int) -> ParsedMessage | None:
    for family in FAMILIES:
        if family.matches(topic):
            return family.parse(topic, payload, retained, max_bytes)
    raise DeadLetterReason("unknown_topic", f"no adapter reads topic {topic!r}")


def topic_for(family: str, device_id: str, friendly_name: str) -> str:
    """The state topic a device of ``family`` publishes to (HTTP ingestion feeds the same adapters)."""
    if family == zigbee2mqtt.FAMILY:
        return f"{zigbee2mqtt.BASE_TOPIC}/{friendly_name}"
    return f"{generic.BASE_TOPIC}/{device_id}"
