"""In headless Chromium at 1280 px: the command centre's operator (a dispatcher) works the sensor pages
(/sensors/) by clicking and typing only; devices and their messages are seeded through the registry service
and the connectors' ``ingest`` (the listener's own entry), time moves by the injected clock and the
scheduler's round, and each test checks the database afterwards.

- the operator sees the device list and map, a malformed message as a dead letter (reason, topic, the raw
  payload as text), and a device going offline once its silence interval has passed;
- the operator registers a device (refused first for an unknown building code, the reason beside the field)
  and imports a CSV file of 25 rows with one bad row: the progress bar runs over two chunks, the bad row is
  reported with its reason and written nowhere, the good rows are kept.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.config import PROJECT_ROOT
from app.devices.models import DeadLetter, Device
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.workflow import scheduler
from connectors.ingest import ingest
from tests.cases.territory import DISTRICT, EAST_OPEN_POINT, EAST_POINT, WEST_POINT, assign, build_territory
from tests.conftest import PASSWORD
from tests.helpers import count, ensure_catalogue
from tests.probes import deploy_bpmn_folder

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "sensors.png"
START = datetime(2026, 11, 3, 1, 10, tzinfo=UTC)  # Tuesday 09:10 in China

FLEET = [
    # device id, type, friendly name, (lat, lon), address, first message (None: never reports)
    (
        "0x00158d0001a2b3c4",
        "water_leak_sensor",
        "西区/2栋/1201/厨房水浸",
        WEST_POINT,
        "西区 2 栋 1201",
        b'{"water_leak": false, "battery": 91}',
    ),
    (
        "0x00158d0001a2b3c5",
        "smoke_detector",
        "锦绣花园/3栋/烟感",
        EAST_POINT,
        "锦绣花园 3 栋",
        b'{"smoke": false, "battery": 80}',
    ),
    (
        "0x00158d0001a2b3c6",
        "gas_detector",
        "锦绣花园/3栋/1201/燃气",
        (30.7572, 103.9751),
        "锦绣花园 3 栋 1201",
        b'{"gas": false}',
    ),
    (
        "0x00158d0001a2b3c7",
        "door_contact",
        "锦绣花园/5栋/单元门",
        (30.7648, 103.9652),
        "锦绣花园 5 栋",
        b'{"contact": true, "battery_low": true}',
    ),
    (
        "0x00158d0001a2b3c8",
        "manhole_cover_sensor",
        "东区/北街/井盖07",
        EAST_OPEN_POINT,
        "东区北街 7 号井盖",
        b'{"vibration": false, "tamper": true}',
    ),
    ("0x00158d0001a2b3c9", "sos_button", "西区/6栋/0302/紧急按钮", (30.752, 103.925), "西区 6 栋 0302", None),
]
LEAK = FLEET[0]


def seed(live_server: Any) -> Any:
    """The territory, the operator on the district, the fleet, and their first messages at START."""
    app = live_server.app
    with app.app_context():
        build_territory()
        ensure_catalogue()
        deploy_bpmn_folder()  # an alarm's case runs bpmn/sensor_alarm.bpmn
        create_user("operator", PASSWORD, "dispatcher", "张敏")
        db.session.commit()
        assign("operator", DISTRICT)
        clock = app.extensions["gridcase.clock"]
        clock.set(START)
        for device_id, kind, name, (lat, lon), address, _message in FLEET:
            fields = {"device_id": device_id, "device_type": kind, "friendly_name": name}
            register_device(validate_device_fields(fields | {"lat": lat, "lon": lon, "address": address}))
        db.session.commit()
        for _id, _kind, name, _point, _address, message in FLEET:
            if message is not None:
                ingest(f"zigbee2mqtt/{name}", message, False)
    return clock


def _device(device_id: str) -> Device:
    db.session.expire_all()
    return db.session.execute(select(Device).where(Device.device_id == device_id)).scalar_one()


def test_the_operator_sees_a_dead_letter_and_a_device_going_offline(
    live_server: Any, page_as: Any, screenshot: Any
) -> None:
    clock = seed(live_server)
    page = page_as("operator")
    page.click("nav.nav >> text=传感设备")
    page.wait_for_selector("#device-map[data-devices-drawn='6']")
    row = page.locator(f"tr[data-device='{LEAK[0]}']")
    assert row.locator(".sn-status").inner_text() == "在线"
    statuses = page.locator("#device-table .sn-status").all_inner_texts()
    assert sorted(statuses) == sorted(["在线", "在线", "在线", "电量低", "被拆", "从未上报"])

    # a malformed message from the leak sensor, through the listener's entry
    with live_server.app.app_context():
        ingest(f"zigbee2mqtt/{LEAK[2]}", b'{"water_leak": tru<b>e</b>', False)
    page.click(".sn-tabs >> text=死信")
    letter = page.locator("#dead-letters .sn-letter").first
    assert letter.locator("strong").inner_text() == "不是有效的 JSON"
    assert letter.locator(".sn-topic").inner_text() == f"zigbee2mqtt/{LEAK[2]}"
    assert letter.locator(".sn-payload").inner_text() == '{"water_leak": tru<b>e</b>'  # text, not markup
    assert letter.locator(".sn-payload b").count() == 0
    screenshot(page, "sensors_dead_letters")
    with live_server.app.app_context():
        stored = db.session.execute(select(DeadLetter)).scalar_one()
        assert (stored.reason_code, stored.device_id) == ("malformed_json", _device(LEAK[0]).id)

    # a smoke alarm: the alarms page links its case, which the operator opens
    with live_server.app.app_context():
        (key,) = ingest(f"zigbee2mqtt/{FLEET[1][2]}", b'{"smoke": true}', False).case_keys
    page.click(".sn-tabs >> text=告警与事件")
    alarm = page.locator("#active-alarms tbody tr").first
    assert alarm.locator("td").first.inner_text() == "烟雾报警"
    assert page.locator("#incident-table tbody tr").count() == 1
    screenshot(page, "sensors_alarms")
    with page.expect_navigation():
        alarm.locator(f"a[href$='/supervise/cases/{key}']").click()
    assert page.url.endswith(f"/supervise/cases/{key}")
    assert key in page.locator("h1").inner_text()

    # 25 hours without a report (a water leak sensor's interval): the scheduler's round takes the leak sensor
    # offline, and only it: the others report again before then
    with live_server.app.app_context():
        clock.advance(hours=24, minutes=50)
        for _id, _kind, name, _point, _address, message in FLEET[1:]:
            if message is not None:
                ingest(f"zigbee2mqtt/{name}", message, False)
        scheduler.tick()
        assert _device(LEAK[0]).status == "online"
    page.click("nav.nav >> text=传感设备")
    page.locator(f"tr[data-device='{LEAK[0]}'] a").click()
    assert page.locator("#device-status .sn-status").inner_text() == "在线"
    with live_server.app.app_context():
        clock.advance(minutes=11)
        scheduler.tick()
    page.reload()
    assert page.locator("#device-status .sn-status").inner_text() == "离线"
    assert page.locator("#device-last-seen").inner_text().startswith("2026")

    page.click(".sn-tabs >> text=设备")
    page.select_option("#f-status", "offline")
    with page.expect_navigation():
        page.click("#device-filters button[type=submit]")
    assert page.locator("#device-table tbody tr").count() == 1
    assert page.locator(f"tr[data-device='{LEAK[0]}'] .sn-status").inner_text() == "离线"
    page.click("#device-filters >> text=清除")
    page.wait_for_selector("#device-map[data-devices-drawn='6']")
    page.wait_for_timeout(500)  # the territory layer's tiles
    screenshot(page, "sensors")
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(README_SCREENSHOT), full_page=True)

    with live_server.app.app_context():
        assert _device(LEAK[0]).status == "offline"
        silent = db.session.execute(
            select(AuditEvent.entity_id).where(AuditEvent.action == "device.silent")
        ).scalars()
        assert list(silent) == [LEAK[0]]


def _csv(rows: int, bad_line: int) -> bytes:
    lines = ["device_id,friendly_name,device_type,lat,lon,address,building_code,resident_name,contacts"]
    for n in range(2, rows + 2):  # line numbers: the header is line 1
        building = "510124001001002009999" if n == bad_line else ""
        lines.append(
            f"csv-{n:02d},锦绣花园/{n}栋/水浸,water_leak_sensor,30.7589,103.9718,锦绣花园 {n} 栋,{building},"
            f"住户{n},联系人{n}|1390000{n:04d}|子女"
        )
    return ("\n".join(lines) + "\n").encode()


def test_the_operator_registers_a_device_and_imports_a_csv_with_one_bad_row(
    live_server: Any, page_as: Any, screenshot: Any
) -> None:
    seed(live_server)
    page = page_as("operator")
    page.goto(f"{live_server.url}/sensors/")
    page.click(".sn-tabs >> text=登记设备")
    page.fill("#d-device_id", "0x00124b0009ab12cd")
    page.select_option("#d-device_type", "smoke_detector")
    page.fill("#d-friendly_name", "锦绣花园/8栋/0601/烟感")
    page.locator("#register-map.leaflet-container").click()  # a place picked on the map, once it is a map
    assert re.fullmatch(r"30\.\d{6}", page.input_value("#d-lat"))
    page.fill("#d-lat", "30.7589")
    page.fill("#d-lon", "103.9718")
    page.fill("#d-building_code", "510124001001002001009")
    page.fill("#d-resident_name", "孙奶奶")
    page.fill("#d-resident_notes", "独居老人")
    page.fill("#d-contacts", "孙小华|13900000011|女儿")
    with page.expect_navigation():
        page.click("#register-button")
    assert page.locator("#err-building_code").inner_text() == "没有这个楼栋编码。"
    assert page.input_value("#d-resident_name") == "孙奶奶"
    with live_server.app.app_context():
        assert count(Device) == len(FLEET)
    page.fill("#d-building_code", "")
    with page.expect_navigation():
        page.click("#register-button")
    token = page.locator("#device-token").inner_text()
    assert token.startswith("gcd_")
    with live_server.app.app_context():
        device = _device("0x00124b0009ab12cd")
        assert (device.grid_code, device.resident_notes, device.status) == (
            "510124001001002001",
            "独居老人",
            "never_seen",
        )
        assert device.emergency_contacts == [{"name": "孙小华", "phone": "13900000011", "relation": "女儿"}]

    page.click(".sn-tabs >> text=导入 CSV")
    page.set_input_files(
        "#i-file", files=[{"name": "devices.csv", "mimeType": "text/csv", "buffer": _csv(25, 9)}]
    )
    page.click("#import-button")
    page.wait_for_selector("#import-progress[data-finished='true']")
    assert page.locator("#import-count").inner_text() == "已处理 25 / 25 行"
    assert page.locator("#import-summary").inner_text() == "已登记 24 台设备，1 行被拒。"
    cells = page.locator("#rejections tbody tr").first.locator("td").all_inner_texts()
    assert cells[:3] == ["9", "csv-09", "楼栋编码"]
    assert cells[3].startswith("没有这个楼栋编码。")
    screenshot(page, "sensors_import")
    chunks = [url for url in page.requests_seen if url.endswith("/sensors/import/rows")]
    assert len(chunks) == 2  # 20 rows, then 5

    with live_server.app.app_context():
        imported = db.session.execute(
            select(Device.device_id).where(Device.device_id.like("csv-%")).order_by(Device.device_id)
        ).scalars()
        assert list(imported) == [f"csv-{n:02d}" for n in range(2, 27) if n != 9]
        assert count(AuditEvent, AuditEvent.action == "device.registered") == len(FLEET) + 1 + 24
        assert _device("csv-10").emergency_contacts[0]["name"] == "联系人10"
