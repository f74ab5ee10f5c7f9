"""The sensor pages through the Flask test client: who may open them (the devices API's roles), the grid
scope of lists and device pages (a device outside it answers 404 like a missing one), filters and
pagination, dead letters with their raw payload escaped, the alarms page's case links, registering with the
reason beside the field and nothing written, and the CSV import (good rows kept, a rejected row written
nowhere, both through one request and through the chunked one).

Territory: tests/cases/territory.py (east and west grids); devices at its east and west points.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import FrozenClock
from app.devices.models import Device, Incident
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.workflow import scheduler
from connectors.ingest import ingest
from tests.cases.territory import DISTRICT, EAST_OPEN_POINT, WEST_GRID, WEST_POINT, assign, build_territory
from tests.helpers import count, ensure_catalogue, fingerprint
from tests.web.pages import PageClient, csrf_token, sign_in

CSV_HEADER = "device_id,friendly_name,device_type,lat,lon,address,building_code,resident_name,contacts\n"


@pytest.fixture
def app(make_app: Any, request: pytest.FixtureRequest) -> Iterator[Flask]:
    # SQLite unless a test asks for PostgreSQL too (the import's savepoints: the production database).
    app = make_app(getattr(request, "param", "sqlite"))
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any) -> None:
    """The dispatcher and supervisor hold the district; ``dispatcher_west`` only the west grid."""
    build_territory()
    create_user("dispatcher", "dispatcher_west")
    for username, grid in [
        ("dispatcher", DISTRICT),
        ("supervisor", DISTRICT),
        ("dispatcher_west", WEST_GRID),
    ]:
        assign(username, grid)


def _device(device_id: str, point: tuple[float, float], **fields: Any) -> Device:
    device, _token = register_device(
        validate_device_fields(
            {"device_id": device_id, "device_type": "water_leak_sensor", "lat": point[0], "lon": point[1]}
            | fields
        )
    )
    db.session.commit()
    return device


@pytest.fixture
def devices(territory: None) -> dict[str, Device]:
    return {
        "east": _device(
            "east-leak", EAST_OPEN_POINT, friendly_name="东区/1栋/厨房水浸", resident_name="王大爷"
        ),
        "west": _device("west-leak", WEST_POINT, friendly_name="西区/2栋/厨房水浸"),
    }


def _signed_in(client: FlaskClient, username: str) -> FlaskClient:
    sign_in(client, username)
    return client


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# -- who may open what -----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, territory: None) -> None:
    response = client.get("/sensors/")
    assert response.status_code == 302
    assert "/login?next=/sensors/" in response.headers["Location"]
    assert client.get("/sensors/map.json", headers={"Accept": "application/json"}).status_code == 401
    assert client.get("/sensors/map.json").headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["resident", "worker", "handler", "designer"])
def test_other_roles_are_refused(client: FlaskClient, devices: dict[str, Device], username: str) -> None:
    _signed_in(client, username)
    for path in ("/sensors/", "/sensors/devices/east-leak", "/sensors/alarms", "/sensors/dead-letters"):
        assert client.get(path).status_code == 403, path


def test_supervisors_read_but_do_not_register_or_read_dead_letters(
    client: FlaskClient, devices: dict[str, Device]
) -> None:
    _signed_in(client, "supervisor")
    page = client.get("/sensors/")
    assert page.status_code == 200
    assert "东区/1栋/厨房水浸" in _text(page) and "西区/2栋/厨房水浸" in _text(page)
    assert "/sensors/register" not in _text(page)  # no tab for what they may not do
    assert client.get("/sensors/alarms").status_code == 200
    for path in ("/sensors/dead-letters", "/sensors/register", "/sensors/import"):
        assert client.get(path).status_code == 403, path


def test_the_nav_links_the_sensor_pages_for_their_roles(
    client: FlaskClient, devices: dict[str, Device]
) -> None:
    _signed_in(client, "dispatcher")
    assert 'href="/sensors/"' in _text(client.get("/m/"))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/m/")})
    _signed_in(client, "worker")
    assert 'href="/sensors/"' not in _text(client.get("/m/"))


# -- lists and the grid scope ------------------------------------------------------------------------------


def test_a_dispatcher_sees_only_the_devices_of_their_grids(
    client: FlaskClient, devices: dict[str, Device]
) -> None:
    _signed_in(client, "dispatcher_west")
    listed = _text(client.get("/sensors/"))
    assert "西区/2栋/厨房水浸" in listed and "东区/1栋/厨房水浸" not in listed
    points = client.get("/sensors/map.json").get_json()
    assert [f["properties"]["device_id"] for f in points["features"]] == ["west-leak"]
    # outside the scope answers exactly like a device that does not exist
    hidden, missing = client.get("/sensors/devices/east-leak"), client.get("/sensors/devices/no-such")
    assert hidden.status_code == missing.status_code == 404
    assert "王大爷" not in _text(hidden)
    assert client.get("/sensors/dead-letters?device=east-leak").status_code == 404


def test_filters_search_and_a_bad_filter_beside_its_field(
    client: FlaskClient, devices: dict[str, Device]
) -> None:
    _signed_in(client, "dispatcher")
    assert "东区" not in _text(client.get(f"/sensors/?grid={WEST_GRID}"))
    assert "西区" not in _text(client.get("/sensors/?q=王大爷"))
    never = _text(client.get("/sensors/?status=never_seen"))
    assert "东区" in never and "西区" in never
    assert "没有符合筛选条件的设备" in _text(client.get("/sensors/?status=online"))
    refused = client.get("/sensors/?status=broken")
    assert refused.status_code == 422
    assert re.search(r'id="err-status"[^>]*>请从列表中选择', _text(refused))


def test_the_list_pages_through_many_devices(client: FlaskClient, territory: None) -> None:
    for n in range(30):
        _device(f"leak-{n:02d}", WEST_POINT)
    _signed_in(client, "dispatcher")
    first, second = _text(client.get("/sensors/")), _text(client.get("/sensors/?page=2"))
    assert "leak-00" in first and "leak-24" in first and "leak-25" not in first
    assert "leak-25" in second and "leak-29" in second and "第 2 / 2 页" in second
    assert "共 30 台设备" in first


def test_empty_states(client: FlaskClient, territory: None) -> None:
    _signed_in(client, "dispatcher")
    assert "您的网格内还没有登记设备" in _text(client.get("/sensors/"))
    alarms = _text(client.get("/sensors/alarms"))
    assert "当前没有告警" in alarms and "这里没有事件" in alarms
    assert "没有死信" in _text(client.get("/sensors/dead-letters"))


def test_a_device_goes_offline_when_its_silence_interval_passes(
    client: FlaskClient, devices: dict[str, Device], clock: FrozenClock
) -> None:
    ingest("zigbee2mqtt/西区/2栋/厨房水浸", b'{"water_leak": false, "battery": 88}', False)
    _signed_in(client, "dispatcher")
    assert re.search(r'sn-status-online">在线', _text(client.get("/sensors/devices/west-leak")))
    clock.advance(hours=24, minutes=59)
    scheduler.tick()
    assert "sn-status-online" in _text(client.get("/sensors/devices/west-leak"))
    clock.advance(minutes=2)
    scheduler.tick()  # the scheduler's round: the silence timeout (app.devices.silence)
    page = _text(client.get("/sensors/devices/west-leak"))
    assert re.search(r'id="device-status"><span class="sn-status sn-status-offline">离线', page)
    assert "离线" in _text(client.get("/sensors/?status=offline"))


# -- dead letters ----------------------------------------------------------------------------------------


def test_dead_letters_show_reason_topic_and_the_raw_payload_escaped(
    client: FlaskClient, devices: dict[str, Device]
) -> None:
    ingest("zigbee2mqtt/西区/2栋/厨房水浸", b'{"water_leak": <script>alert(1)</script>', False)
    _signed_in(client, "dispatcher")
    page = _text(client.get("/sensors/dead-letters"))
    assert "不是有效的 JSON" in page
    assert "zigbee2mqtt/西区/2栋/厨房水浸" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert 'href="/sensors/devices/west-leak"' in page
    assert 'data-reason="malformed_json"' in page
    assert 'data-reason="malformed_json"' not in _text(
        client.get("/sensors/dead-letters?reason=unknown_device")
    )
    # the list and the device's own page count it, the device page links there
    assert re.search(
        r"west-leak</div></td>\s*<td>[^<]*</td>\s*<td>.*?1 条死信", _text(client.get("/sensors/")), re.S
    )
    assert 'href="/sensors/dead-letters?device=west-leak"' in _text(client.get("/sensors/devices/west-leak"))


def test_dead_letters_page_through(client: FlaskClient, territory: None) -> None:
    for n in range(27):
        ingest(f"zigbee2mqtt/unknown-{n:02d}", b'{"water_leak": true}', False)
    _signed_in(client, "admin")
    first, second = (
        _text(client.get("/sensors/dead-letters")),
        _text(client.get("/sensors/dead-letters?page=2")),
    )
    assert first.count('class="card sn-letter"') == 25 and second.count('class="card sn-letter"') == 2
    assert "zigbee2mqtt/unknown-26" in first and "zigbee2mqtt/unknown-00" in second


# -- alarms and incidents ----------------------------------------------------------------------------------


def test_active_alarms_and_incidents_link_the_case_the_user_may_open(
    client: FlaskClient, devices: dict[str, Device], deployed: None
) -> None:
    ensure_catalogue()
    result = ingest("zigbee2mqtt/东区/1栋/厨房水浸", b'{"water_leak": true}', False)
    (key,) = result.case_keys
    _signed_in(client, "dispatcher")
    page = _text(client.get("/sensors/alarms"))
    assert "漏水" in page and "东区/1栋/厨房水浸" in page
    assert page.count(f'href="/supervise/cases/{key}"') == 2  # the active alarm and its incident
    assert client.get(f"/supervise/cases/{key}").status_code == 200
    assert f'href="/supervise/cases/{key}"' in _text(client.get("/sensors/devices/east-leak"))
    # the west dispatcher sees neither the alarm nor the incident of an east device
    client.post("/logout", data={"csrf_token": csrf_token(client, "/sensors/")})
    _signed_in(client, "dispatcher_west")
    west = _text(client.get("/sensors/alarms"))
    assert "东区/1栋/厨房水浸" not in west and key not in west and "当前没有告警" in west
    # once the leak clears, the incident moves to the cleared list
    ingest("zigbee2mqtt/东区/1栋/厨房水浸", b'{"water_leak": false}', False)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/sensors/")})
    _signed_in(client, "dispatcher")
    assert key not in _text(client.get("/sensors/alarms?state=active"))
    assert key in _text(client.get("/sensors/alarms?state=cleared"))
    assert db.session.execute(select(Incident.case_id)).scalar_one() is not None


def test_active_alarms_page_through(client: FlaskClient, territory: None) -> None:
    for n in range(27):
        _device(f"door-{n:02d}", WEST_POINT, device_type="door_contact", friendly_name=f"西区/门磁{n:02d}")
        ingest(f"zigbee2mqtt/西区/门磁{n:02d}", b'{"contact": false}', False)  # open: an alarm, no case
    _signed_in(client, "supervisor")
    first = _text(client.get("/sensors/alarms"))
    second = _text(client.get("/sensors/alarms?alarms_page=2"))
    assert first.count("门磁打开") == 25 and second.count("门磁打开") == 2
    assert "此类告警不立案" in first
    assert 'href="/sensors/alarms?state=active&amp;alarms_page=2"' in first


# -- registering -----------------------------------------------------------------------------------------


def _post(client: FlaskClient, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/sensors/register")}, **kwargs)


def test_registering_a_device_shows_its_token_once(client: FlaskClient, territory: None) -> None:
    _signed_in(client, "dispatcher")
    response = _post(
        client,
        "/sensors/register",
        {
            "device_id": "0x00158d0001a2b3c4",
            "device_type": "smoke_detector",
            "friendly_name": "东区/3栋/烟感",
            "lat": str(EAST_OPEN_POINT[0]),
            "lon": str(EAST_OPEN_POINT[1]),
            "resident_name": "李奶奶",
            "contacts": "李小明|13900000002|儿子\n王阿姨|13900000003|邻居",
        },
    )
    assert response.status_code == 200
    token = re.search(r'id="device-token">(gcd_[^<]+)<', _text(response))
    assert token is not None
    device = db.session.execute(select(Device).where(Device.device_id == "0x00158d0001a2b3c4")).scalar_one()
    assert (device.grid_code, device.resident_name, device.status) == (
        "510124001001002",
        "李奶奶",
        "never_seen",
    )
    assert [c["name"] for c in device.emergency_contacts] == ["李小明", "王阿姨"]
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "device.registered")
    ).scalar_one()
    assert event.entity_id == "0x00158d0001a2b3c4"
    assert token.group(1) not in _text(client.get("/sensors/devices/0x00158d0001a2b3c4"))


def test_a_new_token_replaces_the_old_one(client: FlaskClient, devices: dict[str, Device]) -> None:
    from app.devices.models import DeviceToken
    from app.devices.services import device_for_token, issue_token

    old = issue_token(devices["west"])
    db.session.commit()
    _signed_in(client, "dispatcher_west")
    assert 'id="new-token"' in _text(client.get("/sensors/devices/west-leak"))
    before = fingerprint()
    assert _post(client, "/sensors/devices/east-leak/token", {}).status_code == 404  # not their grid
    assert fingerprint() == before
    response = _post(client, "/sensors/devices/west-leak/token", {})
    assert response.status_code == 200
    token = re.search(r'id="device-token">(gcd_[^<]+)<', _text(response))
    assert token is not None and "原来的令牌已失效" in _text(response)
    db.session.expire_all()
    assert device_for_token(old) is None
    found = device_for_token(token.group(1))
    assert found is not None and found.device_id == "west-leak"
    assert count(DeviceToken, DeviceToken.revoked_at.is_(None)) == 2  # one per device
    assert (
        count(AuditEvent, AuditEvent.action == "device.token_issued", AuditEvent.entity_id == "west-leak")
        == 3
    )
    client.post("/logout", data={"csrf_token": csrf_token(client, "/sensors/")})
    _signed_in(client, "supervisor")
    assert 'id="new-token"' not in _text(client.get("/sensors/devices/west-leak"))
    assert _post(client, "/sensors/devices/west-leak/token", {}).status_code == 403


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"building_code": "510124001001002001999"}, "building_code", "没有这个楼栋编码"),
        ({"building_code": "510124001001002"}, "building_code", "这不是楼栋编码"),
        ({"device_id": "east-leak"}, "device_id", "该设备编号已登记"),
        ({"device_id": "bad id!"}, "device_id", "设备编号为 1–64 个字母"),
        ({"device_type": "toaster"}, "device_type", "请从列表中选择设备类型"),
        ({"lat": "30.7"}, "lon", "纬度和经度须同时填写"),
        ({"contacts": "李小明|not a phone|儿子"}, "contacts", "每行一位联系人"),
    ],
)
def test_bad_input_is_named_beside_its_field_and_nothing_is_written(
    client: FlaskClient, devices: dict[str, Device], fields: dict[str, str], field: str, message: str
) -> None:
    _signed_in(client, "admin")
    before = fingerprint()
    data = {"device_id": "new-leak", "device_type": "water_leak_sensor", "address": "东区 5 栋"} | fields
    response = _post(client, "/sensors/register", data)
    assert response.status_code == 422
    page = _text(response)
    assert re.search(rf'id="err-{field}"[^>]*>{message}', page), page[page.find("field-error") - 200 :][:600]
    assert 'value="东区 5 栋"' in page  # what was typed stays in the form
    assert fingerprint() == before


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient, territory: None) -> None:
    _signed_in(client, "admin")
    before = fingerprint()
    response = client.post("/sensors/register", data={"device_id": "x", "device_type": "smoke_detector"})
    assert response.status_code == 400
    assert fingerprint() == before


# -- CSV import ------------------------------------------------------------------------------------------

GOOD_AND_BAD = (
    CSV_HEADER
    + "csv-1,东区/6栋/水浸,water_leak_sensor,30.79,103.99,东区 6 栋,,赵大爷,赵小明|13900000009|儿子\n"
    + "csv-2,东区/7栋/水浸,water_leak_sensor,30.79,103.99,东区 7 栋,510124001001002009999,,\n"
    + "csv-3,西区/8栋/烟感,smoke_detector,30.75,103.92,西区 8 栋,,,\n"
)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_import_without_script_keeps_good_rows_and_reports_the_bad_one(
    client: FlaskClient, territory: None
) -> None:
    _signed_in(client, "dispatcher")
    response = _post(
        client,
        "/sensors/import",
        {"file": (io.BytesIO(GOOD_AND_BAD.encode()), "devices.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = _text(response)
    assert "已登记 2 台设备，1 行被拒" in page
    assert re.search(r"<td>3</td><td>csv-2</td><td>楼栋编码</td>\s*<td>没有这个楼栋编码", page)
    ids = db.session.execute(select(Device.device_id).order_by(Device.device_id)).scalars().all()
    assert ids == ["csv-1", "csv-3"]
    assert count(AuditEvent, AuditEvent.action == "device.registered") == 2


def test_a_file_that_is_not_a_device_csv_is_refused_beside_the_field(
    client: FlaskClient, territory: None
) -> None:
    _signed_in(client, "dispatcher")
    before = fingerprint()
    response = _post(
        client,
        "/sensors/import",
        {"file": (io.BytesIO(b"id,kind\n1,2\n"), "devices.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert re.search(r'id="err-file"[^>]*>不是设备 CSV 文件', _text(response))
    assert fingerprint() == before


def test_the_chunked_import_reads_then_registers_chunk_by_chunk(client: FlaskClient, territory: None) -> None:
    _signed_in(client, "admin")
    headers = {"X-CSRFToken": csrf_token(client, "/sensors/import"), "Accept": "application/json"}
    before = fingerprint()
    read = client.post(
        "/sensors/import/read",
        data={"file": (io.BytesIO(GOOD_AND_BAD.encode()), "devices.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert read.status_code == 200
    body = read.get_json()
    assert [r["row"] for r in body["rows"]] == [2, 3, 4] and body["chunk_rows"] == 20
    assert fingerprint() == before  # reading writes nothing
    first = client.post("/sensors/import/rows", json={"rows": body["rows"][:2]}, headers=headers).get_json()
    assert (first["created"], first["rejected_rows"]) == (1, 1)
    assert first["rejected"][0] | {"detail": None} == {
        "row": 3,
        "device_id": "csv-2",
        "field": "building_code",
        "field_label": "楼栋编码",
        "message": "没有这个楼栋编码。",
        "detail": None,
    }
    second = client.post("/sensors/import/rows", json={"rows": body["rows"][2:]}, headers=headers).get_json()
    assert (second["created"], second["rejected_rows"]) == (1, 0)
    # the same rows again: each is now taken, and nothing more is written
    again = client.post("/sensors/import/rows", json={"rows": body["rows"][:1]}, headers=headers).get_json()
    assert again["rejected"][0]["message"] == "该设备编号已登记。"
    assert count(Device) == 2


def test_the_chunk_endpoint_refuses_what_is_not_rows(client: FlaskClient, territory: None) -> None:
    _signed_in(client, "admin")
    headers = {"X-CSRFToken": csrf_token(client, "/sensors/import"), "Accept": "application/json"}
    before = fingerprint()
    for body in ({"rows": []}, {"rows": [{"row": 2, "values": {"secret": "x"}}]}, {"rows": "x"}):
        assert client.post("/sensors/import/rows", json=body, headers=headers).status_code == 422
    assert client.post("/sensors/import/rows", json={"rows": [{"row": 2, "values": {}}]}).status_code == 400
    assert fingerprint() == before


def test_the_cli_import_stays_all_or_nothing(app: Flask, territory: None) -> None:
    from app.devices.services import import_csv
    from app.imports import ImportRejected

    with pytest.raises(ImportRejected) as refused:
        import_csv(GOOD_AND_BAD.encode())
    db.session.rollback()
    assert [r.row for r in refused.value.report.rejected] == [3]
    assert count(Device) == 0
