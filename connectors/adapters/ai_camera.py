"""AI camera detections (AI 摄像头):
``{"kind": "ai_camera", "detection": "garbage_overflow", "active": true, "confidence": 0.93,
"snapshot_url": "https://…/snap.jpg"}`` or with ``"snapshot_base64": "<JPEG, base64>"`` instead of a URL.

Each detection is its own alarm type ``camera_<detection>``; ``active`` false (the scene is clear again)
clears it, and a missing ``active`` means true. The snapshot travels with the reading as its URL (a link we
never fetch), or as the SHA-256 and size of the decoded image: the bytes themselves are never in the alarm,
the device's latest values or the process variables. They are staged on disk by their hash
(``app.devices.snapshots.stage``, this adapter's one side effect, and none outside an app) until the
incident's case is opened, where they become a photo of the case if they pass the photo content check.
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
    values.update(_snapshot(fields))
    return [Reading(f"camera_{fields['detection']}", fields.get("active", True), values)]


def _snapshot(fields: dict[str, Any]) -> dict[str, Any]:
    if "snapshot_url" in fields:
        return {"snapshot_url": fields["snapshot_url"]}
    if "snapshot_base64" in fields:
        image: bytes = fields["snapshot_base64"]
        if image and fields.get("active", True):  # a clear's snapshot opens nothing: not worth keeping
            snapshots.stage(image)
        return snapshots.marker(image)
    return {}
