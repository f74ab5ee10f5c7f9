"""In headless Chromium: the command centre. A supervisor launches the gas-leak plan from the library (the
place clicked on the map), then watches the live board WITHOUT reloading while two units report in on their
own task pages (/m/, a second browser page each, as the unit's users) and a third misses its limit by the
injected clock: its countdown turns overdue and, once the report-in timer fires, it climbs to the community
level. The database is asserted after each step (responder rows, audit events); the board's screenshot is
the README's (docs/screenshots/command-board.png, 1280 px)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.emergency.models import Emergency
from app.emergency.plans import sync_plans
from app.extensions import db
from app.jobs import run_inline_jobs
from tests.cases.territory import EAST_GRID, EAST_POINT, add_unit
from tests.helpers import case_events, case_row, instance, jpeg
from tests.web.conftest import PHONE
from tests.web.process_seed import fire_next_timer, seed
from tests.web.steps import complete_task, open_and_claim
from tests.web.test_e2e_maps import tap

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "command-board.png"
DESKTOP = {"width": 1280, "height": 860}
LIVE = 15_000  # what the board shows after its next poll (every 5 s): three polls at most


def _seed(live_server):
    app = live_server.app
    with app.app_context():
        seed(app, "worker", "dispatcher", "supervisor", "community", "property1", "gas1")
        add_unit("fire", "fire", EAST_GRID, name="郫都区消防救援站")
        add_unit("police", "police", EAST_GRID, name="郫筒派出所")
        sync_plans()
        db.session.commit()
        clock = app.extensions["gridcase.clock"]
        clock.set(datetime(2026, 11, 3, 10, 5, tzinfo=UTC))  # Tuesday 18:05 in China
        return clock


def _responders(key):
    db.session.expire_all()
    emergency = db.session.execute(
        select(Emergency).where(Emergency.case_id == case_row(key).id)
    ).scalar_one()
    return {r.unit_code: (r.status, r.level) for r in emergency.responders}


def _row(board, unit_name):
    return board.locator("#responder-table tbody tr", has=board.locator(".cc-name", has_text=unit_name))


def _report_in(page, live_server, task_id, person):
    open_and_claim(page, f"{live_server.url}/m/tasks/{task_id}")
    page.fill('#json-form input[name="root[responsible_person]"]', person)
    page.fill('#json-form input[name="root[eta_minutes]"]', "8")
    complete_task(page, live_server.url)


def test_a_supervisor_launches_a_plan_and_watches_units_report_in(live_server, page_as, screenshot, tmp_path):
    app = live_server.app
    clock = _seed(live_server)

    board = page_as("supervisor", viewport=DESKTOP)
    board.goto(f"{live_server.url}/command/plans")
    screenshot(board, "command-plans")
    board.locator('[data-plan="gas_leak"] a.cc-launch').click()
    board.fill("#title", "锦绣花园 3 栋燃气泄漏")
    board.fill("#description", "住户报告楼道内燃气味浓,已有住户自行撤离。")
    board.fill("#address", "锦绣花园 3 栋 2 单元")
    board.wait_for_selector("#pick-map path.leaflet-interactive")
    tap(board, "#pick-map", EAST_POINT)
    expect(board.locator("#location-text")).to_have_text("所属网格:望丛社区 第2网格")
    screenshot(board, "command-launch")
    with board.expect_navigation():
        board.click("#launch-button")
    assert "/command/emergencies/" in board.url
    key = board.url.rsplit("/", 1)[-1]
    with app.app_context():
        assert _responders(key) == {
            "gas": ("pending", None),
            "fire": ("pending", None),
            "property-jx": ("pending", None),
            "police": ("pending", None),
        }
        case = case_row(key)
        assert (case.title, case.severity, case.reporter.username) == (
            "锦绣花园 3 栋燃气泄漏",
            "red",
            "supervisor",
        )
        assert [e.data["plan_code"] for e in case_events(key, "emergency.opened")] == ["gas_leak"]
    expect(board.locator("#responder-table tbody tr[data-state=pending]")).to_have_count(4)
    expect(_row(board, "锦绣物业公司").locator(".cc-countdown")).to_contain_text("剩余 0")
    board.evaluate("window.boardNotReloaded = true")  # gone if the page were reloaded

    # two units report in on their own task pages (phones), each in a second browser page
    with app.app_context():
        tasks = {t.candidate_group: t.id for t in _open_report_ins(key)}
    clock.advance(minutes=3)
    property_phone = page_as("property1", viewport=PHONE)
    _report_in(property_phone, live_server, tasks["property-jx"], "赵队长")
    expect(_row(board, "锦绣物业公司")).to_have_attribute("data-state", "reported", timeout=LIVE)
    expect(board.locator('#live-summary [data-fact="reported"]')).to_have_text("已报到 1", timeout=LIVE)
    expect(board.locator('#live-timings [data-timing="first_ack"]')).to_contain_text(
        "用时 3 分 0 秒", timeout=LIVE
    )

    clock.advance(minutes=2)
    gas_phone = page_as("gas1", viewport=PHONE)
    _report_in(gas_phone, live_server, tasks["gas"], "钱师傅")
    expect(_row(board, "郫都燃气公司")).to_have_attribute("data-state", "reported", timeout=LIVE)
    expect(_row(board, "郫都燃气公司")).to_contain_text("负责人:钱师傅", timeout=LIVE)
    expect(board.locator('#live-summary [data-fact="reported"]')).to_have_text("已报到 2", timeout=LIVE)
    with app.app_context():
        shown = _responders(key)
        assert shown["gas"] == ("acknowledged", None) and shown["property-jx"] == ("acknowledged", None)
        acknowledged = case_events(key, "emergency.responder_acknowledged")
        assert [(e.data["unit"], e.data["responsible_person"]) for e in acknowledged] == [
            ("property-jx", "赵队长"),
            ("gas", "钱师傅"),
        ]

    # the fire station's ten minutes pass: overdue on the board by the clock, then urged at community level
    clock.advance(minutes=6)
    fire = _row(board, "郫都区消防救援站")
    expect(fire).to_have_attribute("data-state", "overdue", timeout=LIVE)
    expect(fire.locator(".cc-countdown")).to_contain_text("已超时", timeout=LIVE)
    expect(_row(board, "郫筒派出所")).to_have_attribute("data-state", "pending", timeout=LIVE)
    with app.app_context():
        fire_next_timer(app, instance(key).id)
        assert _responders(key)["fire"] == ("pending", "community")
        assert [e.data["level"] for e in case_events(key, "emergency.report_in_missed")] == ["community"]
    expect(fire).to_contain_text("逾期 1 次 · 督促:社区", timeout=LIVE)
    expect(board.locator('#live-summary [data-fact="level"]')).to_have_text("已升级至:社区", timeout=LIVE)
    expect(board.locator('#live-summary [data-fact="overdue"]')).to_have_text("逾期 1", timeout=LIVE)
    assert board.evaluate("window.boardNotReloaded") is True
    # nothing changes now: the next poll is a 304 without a body (the browser asks compressed: a weak ETag)
    unchanged = board.wait_for_event(
        "response",
        lambda r: r.url.endswith(f"/command/emergencies/{key}/live") and r.status == 304,
        timeout=15_000,
    )
    assert unchanged.headers["etag"].startswith('W/"')

    # the centre posts an on-scene update with a photo; its thumbnail arrives on the board when it is made
    photo = tmp_path / "scene.jpg"
    photo.write_bytes(jpeg((170, 110, 70), (640, 480)))
    board.fill("#update-note", "燃气公司已关闭 3 栋总阀,楼道正在通风,2 单元住户已疏散。")
    board.set_input_files("#update-photos", str(photo))
    with board.expect_navigation():
        board.click("#update-button")
    expect(board.locator("#update-list > li")).to_have_count(1)
    expect(board.locator("#update-list .thumb-pending")).to_have_count(1)
    with app.app_context():
        assert [e.data["note"][:7] for e in case_events(key, "emergency.scene_update")] == ["燃气公司已关闭"]
        assert (
            run_inline_jobs() >= 1
        )  # the photos job, as embedded mode's runner thread (stack mode: RQ) runs it
    expect(board.locator("#update-list img")).to_have_count(1, timeout=LIVE)  # by the next poll
    board.reload()  # the README's picture without the notices
    expect(board.locator("#responder-table tbody tr[data-state=overdue]")).to_have_count(1)
    path = screenshot(board, "command-board")
    board.goto(f"{live_server.url}/command/")
    expect(board.locator(f'#emergency-table tr[data-case-key="{key}"]')).to_contain_text("2 / 4")
    screenshot(board, "command-list")
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, README_SCREENSHOT)


def _open_report_ins(key):
    from app.workflow.models import HumanTask, TaskStatus

    db.session.expire_all()
    return db.session.execute(
        select(HumanTask).where(
            HumanTask.case_id == case_row(key).id,
            HumanTask.element_id == "emergency_report_in",
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalars()
