"""Device registry: API (roles, validation, tokens shown once), CLI register, CSV import all or nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth.models import User
from app.clock import now
from app.devices.models import Device, DeviceToken
from app.extensions import db
from app.grids.models import GridMember
from tests.devices.conftest import known_building
from tests.helpers import fingerprint

BODY = {
    "device_id": "0x00158d0001a2b3c4",
    "friendly_name": "锦绣花园/3栋/1201/厨房水浸",
    "device_type": "water_leak_sensor",
    "lat": 30.7589,
    "lon": 103.9718,
    "address": "锦绣花园 3 栋 1201",
    "building_code": "510124001001001001001",
    "resident_name": "王大爷",
    "resident_phone": "13800000001",
    "resident_notes": "独居老人",
    "emergency_contacts": [
        {"name": "王小明", "phone": "13900000002", "relation": "儿子"},
        {"name": "李阿姨", "phone": "13900000003", "relation": "邻居"},
    ],
}


def assign_to_building(username: str) -> None:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one()
    grid = known_building(BODY["building_code"])  # type: ignore[arg-type]
    db.session.add(GridMember(user_id=user.id, grid_id=grid.id, created_at=now()))
    db.session.commit()


@pytest.fixture(autouse=True)
def building(app: Flask) -> None:
    known_building(BODY["building_code"])  # type: ignore[arg-type]
    db.session.commit()


def test_dispatcher_registers_a_device_and_sees_its_token_once(
    client: FlaskClient, auth: Any, users: dict[str, Any]
) -> None:
    response = client.post("/api/v1/devices", json=BODY, headers=auth("dispatcher"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    token = body["token"]
    assert token.startswith("gcd_") and body["device"]["status"] == "never_seen"
    assert body["device"]["emergency_contacts"][0]["name"] == "王小明"
    assert body["device"]["building_code"] == BODY["building_code"]
    stored = db.session.execute(select(DeviceToken)).scalar_one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assign_to_building("supervisor")  # a supervisor reads the devices of their grids
    got = client.get(f"/api/v1/devices/{BODY['device_id']}", headers=auth("supervisor")).get_json()
    assert "token" not in got and got["resident_notes"] == "独居老人"
    listed = client.get("/api/v1/devices?status=never_seen", headers=auth("admin")).get_json()
    assert listed["total"] == 1 and listed["items"][0]["friendly_name"] == BODY["friendly_name"]
    renewed = client.post(f"/api/v1/devices/{BODY['device_id']}/token", headers=auth("admin"))
    assert renewed.status_code == 201 and renewed.get_json()["token"] != token
    assert db.session.execute(select(DeviceToken).where(DeviceToken.revoked_at.is_(None))).scalar_one()


@pytest.mark.parametrize(
    ("who", "method", "status"),
    [
        ("supervisor", "post", 403),
        ("worker", "post", 403),
        ("resident", "get", 403),
        ("worker", "get", 403),
        ("supervisor", "get", 200),
    ],
)
def test_roles(
    client: FlaskClient, auth: Any, users: dict[str, Any], who: str, method: str, status: int
) -> None:
    if method == "post":
        response = client.post("/api/v1/devices", json=BODY, headers=auth(who))
    else:
        response = client.get("/api/v1/devices", headers=auth(who))
    assert response.status_code == status


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": "has space"}, "device_id"),
        ({"device_type": "toaster"}, "device_type"),
        ({"friendly_name": "a/+/b"}, "friendly_name"),
        ({"friendly_name": "kitchen/availability"}, "friendly_name"),
        ({"friendly_name": "/leading"}, "friendly_name"),
        ({"lat": 91}, "lat"),
        ({"lon": None}, "lon"),
        ({"lat": None}, "lat"),
        ({"building_code": "510124001001001001999"}, "building_code"),
        ({"building_code": "510124001001001001"}, "building_code"),
        ({"building_code": "5101"}, "building_code"),
        ({"emergency_contacts": [{"name": "x"}]}, "emergency_contacts"),
        ({"emergency_contacts": [{"name": "x", "phone": "call me"}]}, "emergency_contacts"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    client: FlaskClient, auth: Any, users: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    headers = auth("admin")
    before = fingerprint()
    response = client.post("/api/v1/devices", json={**BODY, **change}, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["details"]
    assert fingerprint() == before


def test_duplicates_are_refused(client: FlaskClient, auth: Any, users: dict[str, Any]) -> None:
    headers = auth("admin")
    assert client.post("/api/v1/devices", json=BODY, headers=headers).status_code == 201
    before = fingerprint()
    again = client.post("/api/v1/devices", json={**BODY, "friendly_name": "other"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["details"] == {"device_id": "taken"}
    same_name = client.post("/api/v1/devices", json={**BODY, "device_id": "other"}, headers=headers)
    assert same_name.status_code == 409 and same_name.get_json()["details"] == {"friendly_name": "taken"}
    assert fingerprint() == before


def test_cli_register_prints_the_token(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "devices",
            "register",
            "hydrant-7",
            "--type",
            "hydrant_monitor",
            "--address",
            "锦绣路 7 号",
            "--resident",
            "张奶奶",
            "--contact",
            "张三|13800000000|儿子",
            "--contact",
            "李四|13800000009|邻居",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "token (shown once): gcd_" in result.output
    device = db.session.execute(select(Device)).scalar_one()
    assert device.friendly_name == "hydrant-7"
    assert [c["relation"] for c in device.emergency_contacts] == ["儿子", "邻居"]
    bad = app.test_cli_runner().invoke(args=["devices", "register", "x y", "--type", "smartwatch"])
    assert bad.exit_code == 2 and "device_id" in bad.output
    before = fingerprint()
    unknown = "510124001001001001999"
    nowhere = app.test_cli_runner().invoke(
        args=["devices", "register", "leak-9", "--type", "water_leak_sensor", "--building", unknown]
    )
    assert nowhere.exit_code != 0 and "building_code" in nowhere.output
    assert fingerprint() == before


CSV_HEADER = "device_id,friendly_name,device_type,lat,lon,address,building_code,resident_name,contacts\n"


def test_csv_import_is_all_or_nothing_with_a_rejection_report(app: Flask, tmp_path: Path) -> None:
    rows = [
        "leak-1,3栋/1201/厨房,water_leak_sensor,30.7589,103.9718,3栋1201,510124001001001001001,王大爷,"
        "王小明|13900000002|儿子;李阿姨|13900000003|邻居",
        "smoke-1,,smoke_detector,,,,,,",
        "smoke-2,,smoke_detector,91,103.9,,,,",  # latitude out of range
        "leak-1,other,water_leak_sensor,,,,,,",  # device id twice in the file
        "cam-1,,camera,,,,,,",  # unknown type
        "leak-9,,water_leak_sensor,,,,510124001001001001999,,",  # no such building
    ]
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text(CSV_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    before = fingerprint()
    result = app.test_cli_runner().invoke(args=["devices", "import", str(bad_file)])
    assert result.exit_code == 2
    assert "rejected line 4 smoke-2" in result.output and "lat" in result.output
    assert "rejected line 5 leak-1" in result.output and "rejected line 6 cam-1" in result.output
    assert "rejected line 7 leak-9" in result.output and "no building with code" in result.output
    assert "4 of 6 rows rejected; nothing imported" in result.output
    assert fingerprint() == before

    good_file = tmp_path / "good.csv"
    good_file.write_text(CSV_HEADER + "\n".join(rows[:2]) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["devices", "import", str(good_file)])
    assert result.exit_code == 0, result.output
    assert "imported 2 devices" in result.output
    leak = db.session.execute(select(Device).where(Device.device_id == "leak-1")).scalar_one()
    assert leak.friendly_name == "3栋/1201/厨房" and len(leak.emergency_contacts) == 2
    assert db.session.execute(select(DeviceToken)).first() is None  # imports print no secrets
