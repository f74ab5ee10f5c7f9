"""The devices API applies the grid scope the sensor pages apply (``app.devices.visibility``): a dispatcher
of the west grid lists, opens, renews and reads the alarms, incidents and dead letters of the west grid's
devices only; a device of the east grid answers 404, like one that is not registered. Admins see both."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from connectors.ingest import ingest
from tests.cases.territory import EAST_OPEN_POINT, WEST_GRID, WEST_POINT, assign, build_territory
from tests.helpers import fingerprint

WEST, EAST = "west-leak", "east-leak"
NAMES = {WEST: "西区/2栋/厨房水浸", EAST: "东区/1栋/厨房水浸"}


@pytest.fixture
def devices(app: Flask, users: dict[str, Any]) -> None:
    build_territory()
    assign("dispatcher", WEST_GRID)
    for device_id, (lat, lon) in ((WEST, WEST_POINT), (EAST, EAST_OPEN_POINT)):
        fields = {"device_id": device_id, "device_type": "water_leak_sensor", "lat": lat, "lon": lon}
        register_device(validate_device_fields(fields | {"friendly_name": NAMES[device_id]}))
    db.session.commit()
    for device_id in (WEST, EAST):
        ingest(f"zigbee2mqtt/{NAMES[device_id]}", b'{"water_leak": true}', False)  # an incident each
        ingest(f"zigbee2mqtt/{NAMES[device_id]}", b'{"water_leak": maybe}', False)  # a dead letter each
    db.session.commit()


def _ids(body: dict[str, Any], key: str) -> set[str]:
    return {item[key] for item in body["items"]}


def test_lists_hold_only_the_devices_in_scope(client: FlaskClient, auth: Any, devices: None) -> None:
    mine = client.get("/api/v1/devices", headers=auth("dispatcher")).get_json()
    assert _ids(mine, "device_id") == {WEST} and mine["total"] == 1
    every = client.get("/api/v1/devices", headers=auth("admin")).get_json()
    assert _ids(every, "device_id") == {WEST, EAST}
    incidents = client.get("/api/v1/incidents", headers=auth("dispatcher")).get_json()
    assert incidents["total"] == 1
    assert client.get("/api/v1/incidents", headers=auth("admin")).get_json()["total"] == 2
    letters = client.get("/api/v1/dead-letters", headers=auth("dispatcher")).get_json()
    assert letters["total"] == 1 and NAMES[WEST] in letters["items"][0]["topic"]
    assert client.get("/api/v1/dead-letters", headers=auth("admin")).get_json()["total"] == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/api/v1/devices/{EAST}"),
        ("get", f"/api/v1/devices/{EAST}/alarms"),
        ("get", f"/api/v1/dead-letters?device={EAST}"),
        ("post", f"/api/v1/devices/{EAST}/token"),
    ],
)
def test_a_device_outside_the_scope_answers_like_a_missing_one(
    client: FlaskClient, auth: Any, devices: None, method: str, path: str
) -> None:
    headers = {who: auth(who) for who in ("dispatcher", "admin")}
    before = fingerprint()
    outside = getattr(client, method)(path, headers=headers["dispatcher"])
    missing = getattr(client, method)(path.replace(EAST, "no-such-device"), headers=headers["dispatcher"])
    assert outside.status_code == missing.status_code == 404
    assert outside.get_json()["error"] == missing.get_json()["error"]
    assert fingerprint() == before
    inside = getattr(client, method)(path.replace(EAST, WEST), headers=headers["dispatcher"])
    assert inside.status_code in (200, 201)
    assert getattr(client, method)(path, headers=headers["admin"]).status_code in (200, 201)
