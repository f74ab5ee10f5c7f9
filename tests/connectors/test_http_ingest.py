"""HTTP ingestion: per-device tokens, the same adapters and guarantees as MQTT, 4xx with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.devices.models import Alarm, DeadLetter
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from tests.helpers import fingerprint


@pytest.fixture
def tokens(app: Flask, deployed: None) -> dict[str, str]:
    found = {}
    for device_id, device_type in (("hydrant-1", "hydrant_monitor"), ("watch-1", "smartwatch")):
        _, token = register_device(
            validate_device_fields({"device_id": device_id, "device_type": device_type})
        )
        assert token is not None
        found[device_id] = token
    _, leak_token = register_device(
        validate_device_fields(
            {"device_id": "0xabc", "friendly_name": "1栋/水浸", "device_type": "water_leak_sensor"}
        )
    )
    found["0xabc"] = leak_token or ""
    db.session.commit()
    return found


def post(client: FlaskClient, device_id: str, token: str | None, body: Any, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Device {token}"
    data = body if isinstance(body, bytes) else None
    return client.post(
        f"/api/v1/ingest/{device_id}",
        data=data,
        json=None if data is not None else body,
        headers=headers,
        content_type="application/json",
    )


def test_a_device_posts_readings_that_open_one_case(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = post(client, "hydrant-1", tokens["hydrant-1"], {"kind": "hydrant", "pressure_kpa": 90})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["outcome"] == "processed" and body["changes"] == ["hydrant_low_pressure:opened"]
    assert len(body["case_keys"]) == 1
    again = post(client, "hydrant-1", tokens["hydrant-1"], {"kind": "hydrant", "pressure_kpa": 85})
    assert again.get_json()["changes"] == ["hydrant_low_pressure:repeated"]
    # a zigbee2mqtt device without MQTT posts its zigbee2mqtt payload
    leak = post(client, "0xabc", tokens["0xabc"], {"water_leak": True, "battery": 90})
    assert leak.get_json()["changes"] == ["water_leak:opened"]


def test_idempotency_key_makes_retries_safe(client: FlaskClient, tokens: dict[str, str]) -> None:
    body = {"kind": "smartwatch", "heart_rate": 35}
    first = post(client, "watch-1", tokens["watch-1"], body, **{"Idempotency-Key": "r-1"})
    retry = post(client, "watch-1", tokens["watch-1"], body, **{"Idempotency-Key": "r-1"})
    assert (first.get_json()["outcome"], retry.get_json()["outcome"]) == ("processed", "duplicate")
    assert db.session.execute(select(Alarm)).scalar_one().count == 1


@pytest.mark.parametrize(
    ("device_id", "token_of", "status", "error"),
    [
        ("hydrant-1", None, 401, "not_authenticated"),
        ("hydrant-1", "garbage", 401, "not_authenticated"),
        ("hydrant-1", "watch-1", 403, "forbidden"),
    ],
)
def test_auth_failures_change_nothing(
    client: FlaskClient, tokens: dict[str, str], device_id: str, token_of: str | None, status: int, error: str
) -> None:
    token = tokens.get(token_of or "", "gcd_wrong") if token_of else None
    before = fingerprint()
    response = post(client, device_id, token, {"kind": "hydrant", "pressure_kpa": 90})
    assert response.status_code == status and response.get_json()["error"] == error
    assert fingerprint() == before


def test_an_unknown_device_is_404_and_a_dead_letter(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = post(client, "ghost-9", tokens["hydrant-1"], {"kind": "hydrant", "pressure_kpa": 90})
    assert response.status_code == 404
    letter = db.session.execute(select(DeadLetter)).scalar_one()
    assert (letter.source, letter.topic, letter.reason_code) == (
        "http",
        "/api/v1/ingest/ghost-9",
        "unknown_device",
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"kind": "hydrant", "pressure_kpa": ', 422, "malformed_json"),
        (b"\xff\xfe\x00binary", 422, "binary"),
        ({"kind": "hydrant", "pressure_kpa": "high"}, 422, "wrong_type"),
        ({"kind": "hydrant", "pressure_kpa": 99999}, 422, "out_of_range"),
        ({"kind": "hydrant", "pressure_kpa": 100, "valve": "open"}, 422, "unknown_field"),
        ({"kind": "elevator", "fault_code": "E1"}, 422, "device_mismatch"),
        ({"water_leak": True}, 422, "wrong_type"),  # a generic device: no kind
        (b'{"kind": "hydrant", "pressure_kpa": 1, "x": "' + b"a" * 300_000 + b'"}', 413, "oversized"),
    ],
)
def test_bad_payloads_are_4xx_with_the_reason_and_change_nothing(
    client: FlaskClient, tokens: dict[str, str], body: Any, status: int, code: str
) -> None:
    before = fingerprint()
    response = post(client, "hydrant-1", tokens["hydrant-1"], body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["details"]["reason_code"] == code
    assert response.get_json()["details"]["payload"]
    assert fingerprint() == before


def test_dead_letters_are_listed_for_admins_and_dispatchers_with_pagination(
    client: FlaskClient, auth: Any, users: dict[str, Any], app: Flask
) -> None:
    from connectors.ingest import ingest

    for n in range(5):
        ingest(f"zigbee2mqtt/unknown-{n}", b'{"water_leak": true}')
    ingest("zigbee2mqtt/x", b"\xff\x00")
    page = client.get("/api/v1/dead-letters?page_size=4", headers=auth("dispatcher")).get_json()
    assert (page["total"], page["pages"], len(page["items"])) == (6, 2, 4)
    newest = page["items"][0]
    assert (newest["topic"], newest["reason_code"], newest["payload_base64"]) == (
        "zigbee2mqtt/x",
        "binary",
        "/wA=",
    )
    assert page["items"][1]["payload_text"] == '{"water_leak": true}'
    filtered = client.get("/api/v1/dead-letters?reason_code=binary", headers=auth("admin")).get_json()
    assert filtered["total"] == 1
    assert client.get("/api/v1/dead-letters", headers=auth("supervisor")).status_code == 403
    assert client.get("/api/v1/dead-letters").status_code == 401
