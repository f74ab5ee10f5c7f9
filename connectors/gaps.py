"""Gaps a device's own messages reveal: zigbee2mqtt's ``last_seen`` and ``elapsed``.

With zigbee2mqtt's ``advanced.last_seen`` (ISO 8601 or epoch milliseconds) and ``advanced.elapsed`` options,
each state message says when zigbee2mqtt heard the device (``last_seen``) and how long after its previous
message for that device it was published (``elapsed``, milliseconds). So the previous message was published
at about ``last_seen - elapsed``; if the latest message *we* received for that device is older than that
(beyond ``TOLERANCE_MS``), at least one message in between never reached us (dropped by a broker queue that
overflowed, or lost with a session while we were disconnected). The listener records it (an audit event
``device.messages_missed``) instead of pretending the stream was complete.

Only what this listener received counts, so it is off when several listeners share the stream
(``MQTT_SHARE_GROUP``: each sees a share only). Payloads are looked at only when they carry ``elapsed``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

TOLERANCE_MS = 5_000  # zigbee2mqtt's debounce and the gap between hearing a device and publishing
BASE_TOPIC = "zigbee2mqtt/"


def _millis(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None  # zigbee2mqtt's ISO_8601_local has an offset; a bare local time cannot be compared
        return int(parsed.timestamp() * 1000)
    return None


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat()


class SequenceWatch:
    """The latest ``last_seen`` received per zigbee2mqtt device topic, and the gaps the next message shows."""

    def __init__(self) -> None:
        self._latest: dict[str, int] = {}

    def observe(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        """A gap this message reveals (what to record), or None."""
        if b'"elapsed"' not in payload or not topic.startswith(BASE_TOPIC) or topic.endswith("/availability"):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        seen = _millis(data.get("last_seen"))
        elapsed = data.get("elapsed")
        if seen is None:
            return None
        previous = self._latest.get(topic)
        if previous is not None and seen <= previous:
            return None  # a redelivery or an older copy: nothing new about the stream
        self._latest[topic] = seen
        if previous is None or isinstance(elapsed, bool) or not isinstance(elapsed, int | float):
            return None
        published_before = seen - int(elapsed)
        if published_before - previous <= TOLERANCE_MS:
            return None
        return {
            "friendly_name": topic[len(BASE_TOPIC) :],
            "previous_received_last_seen": _iso(previous),
            "missed_message_at": _iso(published_before),
            "last_seen": _iso(seen),
            "elapsed_ms": int(elapsed),
            "reason": "a message published between these was not received (zigbee2mqtt last_seen/elapsed)",
        }
