"""HTTP ingestion for devices that cannot speak MQTT: ``POST /api/v1/ingest/<device_id>`` with
``Authorization: Device <token>`` and the device's own payload (zigbee2mqtt JSON or the generic format).

Same adapters, same ``ingest`` as MQTT. A bad payload is answered 4xx with the reason and stores nothing
(the sender is there to hear it, unlike over MQTT); a missing or unknown token is 401, a token of another
device 403, an unknown device 404 and a dead letter. An ``Idempotency-Key`` header makes retries safe.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from app.devices import services
from app.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound, PayloadTooLarge
from connectors.adapters import DeadLetterReason, topic_for
from connectors.ingest import IngestResult, Outcome, ingest, store_dead_letter

blp = Blueprint("ingest", __name__, url_prefix="/api/v1/ingest", description="设备数据接入 Device ingestion")
SCHEME = "Device "


@blp.route("/<device_id>", methods=["POST"])
@blp.doc(
    security=[],
    requestBody={"content": {"application/json": {"schema": {"type": "object"}}}},
    responses={"202": {"description": "accepted: processed, or a duplicate of an earlier delivery"}},
)
def ingest_reading(device_id: str) -> ResponseReturnValue:
    """A device sends one message. Answers what became of it."""
    device = _authenticated_device()
    target = services.find_device(device_id, by_friendly_name=False)
    if target is None:
        reason = DeadLetterReason("unknown_device", f"no registered device with device id {device_id!r}")
        store_dead_letter(request.path, request.get_data(cache=False), reason, source="http")
        raise NotFound(f"device {device_id!r} is not registered", {"device_id": "unknown"})
    if target.id != device.id:
        raise Forbidden("this token belongs to another device", {"device_id": device_id})
    topic = topic_for(services.family_of(device), device.device_id, device.friendly_name)
    idempotency_key = request.headers.get("Idempotency-Key")
    try:
        result = ingest(
            topic,
            request.get_data(cache=False),
            source="http",
            message_ref=idempotency_key[:200] if idempotency_key else None,
            redelivery=idempotency_key is not None,
            device=device,
            dead_letters=False,
        )
    except DeadLetterReason as reason:
        error = PayloadTooLarge if reason.code == "oversized" else InvalidInput
        raise error(reason.reason, {"payload": reason.reason, "reason_code": reason.code}) from None
    return jsonify(_body(result)), 202


def _authenticated_device() -> Any:
    header = request.headers.get("Authorization", "")
    if not header.startswith(SCHEME):
        raise NotAuthenticated("send 'Authorization: Device <token>'")
    device = services.device_for_token(header[len(SCHEME) :].strip())
    if device is None:
        raise NotAuthenticated("invalid or revoked device token")
    return device


def _body(result: IngestResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "duplicate": result.outcome == Outcome.DUPLICATE,
        "device_id": result.device_id,
        "changes": list(result.changes),
        "incident_ids": list(result.incident_ids),
        # Embedded mode opens the cases before answering; in stack mode a worker opens them right after.
        "case_keys": list(result.case_keys),
    }
