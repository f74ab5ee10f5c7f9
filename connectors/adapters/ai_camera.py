"""AI camera detections (AI 摄像头):
``{"kind": "ai_camera", "detection": "garbage_overflow", "active": true, "confidence": 0.93,
"snapshot_url": "https://…/snap.jpg"}`` or with ``"snapshot_base64": "<JPEG, base64>"`` instead of a URL.

Each detection is its own alarm type ``camera_<detection>``; ``active`` false (the scene is clear again)
clears it, and a missing ``active`` means true. The snapshot travels with the reading as its URL (a link we
never fetch), or as the SHA-256 and size of the decoded image in the values and the bytes beside them
(``Reading.snapshot``): the bytes are never in the alarm, the device's latest values or the process
variables. Ingestion stages them (``app.devices.snapshots.stage``) when the reading opens or reopens an
alarm, so the incident's case gets them as a photo if they pass the photo content check; a repeat's
snapshot is not kept.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from app.devices import snapshots
from connectors.adapters.base import Check, DeadLetterReason, Reading, boolean, number, one_of, text

KIND = "ai_camera"
DETECTIONS = ("fire", "smoke", "garbage_overflow", "illegal_parking", "water_logging")


def _snapshot_url(name: str, value: Any) -> str:
    url: str = text(2000)(name, value)
    if not url.startswith(("https://", "http://")):
        raise DeadLetterReason("out_of_range", f"{name} must be an http(s) URL, got {url[:80]!r}")
    return url


def _snapshot_base64(name: str, value: Any) -> bytes:
    # No length of its own: the payload limit (SENSOR_MAX_PAYLOAD_BYTES) bounds it.
    encoded: str = text(10**9)(name, value)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DeadLetterReason("wrong_type", f"{name} is not base64: {exc}") from exc


FIELDS: dict[str, Check] = {
    "detection": one_of(*DETECTIONS),
    "active": boolean,
    "confidence": number(0, 1),
    "snapshot_url": _snapshot_url,
    "snapshot_base64": _snapshot_base64,
}
REQUIRED = ("detection",)


def readings(fields: dict[str, Any]) -> list[Reading]:
    values: dict[str, Any] = {"detection": fields["detection"]}
    if "confidence" in fields:
        values["confidence"] = fields["confidence"]
    image: bytes | None = fields.get("snapshot_base64") or None
    if "snapshot_url" in fields:
        values["snapshot_url"] = fields["snapshot_url"]
    elif image is not None:
        values.update(snapshots.marker(image))
    active = fields.get("active", True)
    # A clear's snapshot opens nothing: not worth keeping.
    return [Reading(f"camera_{fields['detection']}", active, values, image if active else None)]
