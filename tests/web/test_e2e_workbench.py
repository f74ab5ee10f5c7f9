"""In headless Chromium at 1280 px: the dispatcher works the queue of the workbench (/dispatch/) by clicking
and typing only (reports are seeded through the API), and each test checks the database afterwards.

- accept a report and dispatch it to the engine's proposal in three clicks from the queue (counted);
- filter the queue, and close a report as a duplicate of a nearby case with one click;
- dispatch to someone else than the proposal with a changed time limit (refused without a reason first),
  and reject a report with a reason;
- grid scope: a dispatcher of another grid does not see the report, a grid worker is refused the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from app.auth.models import User
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow.models import HumanTask
from tests.cases.territory import DISTRICT, WEST_GRID, WEST_POINT, add_unit, assign
from tests.conftest import PASSWORD
from tests.helpers import case_events, case_row, jpeg, open_task, report, upload_photo, walk_to
from tests.web.seed import seed_people

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "workbench.png"
NAMES = {"worker": "王小明", "worker_west": "李芳", "dispatcher": "张敏", "resident": "陈阿姨"}


def seed(live_server: Any) -> tuple[Any, Callable[[str], dict[str, str]], Any]:
    """The foundation's people (named), a sanitation unit for the district, and a second dispatcher whose
    scope is the west grid; the clock on a Tuesday morning. Returns the API client, ``auth`` and the clock."""
    from app.auth.services import create_user

    client, auth = seed_people(live_server.app)
    for username, name in NAMES.items():
        db.session.execute(update(User).where(User.username == username).values(display_name=name))
    create_user("dispatcher_west", PASSWORD, "dispatcher")
    db.session.commit()
    assign("dispatcher_west", WEST_GRID)
    add_unit("sanitation-pt", "sanitation", DISTRICT, name="郫筒街道环卫所")
    clock = live_server.app.extensions["gridcase.clock"]
    clock.set(datetime(2026, 11, 3, 1, 10, tzinfo=UTC))  # Tuesday 09:10 in China
    return client, auth, clock


class Clicks:
    """The page's clicks, counted: the three-click path is an assertion on this count."""

    def __init__(self, page: Any) -> None:
        self.page, self.count = page, 0

    def submit(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.count += 1


def test_accept_and_dispatch_to_the_proposal_in_three_clicks(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth, clock = seed(live_server)
        earlier = report(client, auth, title="北门垃圾桶满溢", address="锦绣花园北门")["key"]
        walk_to(client, auth, earlier, "handle", hours=8)  # an open case the new report repeats
        clock.advance(minutes=40)
        west = report(
            client, auth, title="西区人行道破损", category_code="P0101", lat=WEST_POINT[0], lon=WEST_POINT[1]
        )["key"]
        clock.advance(minutes=25)
        key = report(
            client,
            auth,
            title="小区门口垃圾满溢",
            description="锦绣花园东门垃圾桶已满,垃圾散落一地。",
            severity="orange",
            address="锦绣花园东门",
        )["key"]
        upload_photo(client, auth, "resident", key, kind="report", content=jpeg((150, 120, 60), (320, 240)))
        upload_photo(client, auth, "resident", key, kind="report", content=jpeg((90, 110, 140), (320, 240)))
        clock.advance(minutes=18)
        db.session.commit()

    page = page_as("dispatcher")
    assert page.url == f"{live_server.url}/dispatch/"  # the dispatcher's home
    rows = page.locator("#queue li.wb-row").evaluate_all("els => els.map(e => e.dataset.caseKey)")
    assert rows == [key, west]  # the orange one first
    assert "已上报 18分钟" in page.locator(f"li[data-case-key='{key}'] .wb-age").inner_text()

    clicks = Clicks(page)
    clicks.submit("#next-task")  # 1: the most urgent unclaimed report, claimed and opened
    assert page.locator("#report").get_attribute("data-case-key") == key
    assert page.locator("#report-photos img").count() == 2
    assert "居民上报 · 陈阿姨" in page.locator("#report-channel").inner_text()
    assert page.locator("#duplicates li.wb-dup").evaluate_all("els => els.map(e => e.dataset.caseKey)") == [
        earlier
    ]
    page.wait_for_selector("#case-map.leaflet-container")
    clicks.submit("#accept-button")  # 2: 立案; the dispatch step opens on the same page
    assert page.locator("#report").get_attribute("data-stage") == "dispatch"
    picker = page.locator("#handler-picker")
    assert picker.locator("input[name=handler]:checked").get_attribute("value") == "user:worker"
    proposed = picker.locator("tr.is-proposed").inner_text()
    assert "王小明" in proposed and "网格员" in proposed and "第2网格" in proposed and "推荐" in proposed
    assert "郫筒街道环卫所" in picker.inner_text()  # units too, with their load
    assert "按类别时限: 4 工作小时 × 0.75" in page.locator("#category-limit").inner_text()
    assert page.locator("#d-hours").input_value() == "3"
    assert page.locator("#dispatch-button").inner_text() == "按推荐派遣"
    screenshot(page, "workbench")
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(README_SCREENSHOT), full_page=True)
    clicks.submit("#dispatch-button")  # 3: dispatched to the proposal
    assert clicks.count == 3
    assert page.locator(".flash-success").inner_text() == f"{key} 已派遣给 王小明。"

    with live_server.app.app_context():
        case = case_row(key)
        assert (case.status, case.handler_user) == ("handling", "worker")
        completed = case_events(key, "task.completed")  # triage and dispatch, both by the dispatcher
        # 下一件 claimed the triage task, 立案 the dispatch task it opened: nobody else could take them
        assert len(case_events(key, "task.claimed")) == 2
        assert len(completed) == 2 and {e.actor_id for e in completed} == {
            db.session.execute(select(User.id).where(User.username == "dispatcher")).scalar_one()
        }
        limit = case_events(key, "case.time_limit_set")[-1].after
        assert (limit["source"], limit["limit"], limit["handler_user"]) == ("category E0102", "4wh", "worker")


def test_filter_the_queue_and_mark_a_duplicate_in_one_click(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth, clock = seed(live_server)
        original = report(client, auth, title="北门垃圾桶满溢")["key"]
        walk_to(client, auth, original, "handle", hours=8)
        clock.advance(hours=2)
        west = report(
            client, auth, title="西区人行道破损", category_code="P0101", lat=WEST_POINT[0], lon=WEST_POINT[1]
        )["key"]
        again = report(client, auth, title="北门垃圾又满了", lat=30.7592, lon=103.9719)["key"]  # ~35 m away
        db.session.commit()

    page = page_as("dispatcher")
    page.select_option("#f-grid", WEST_GRID)
    with page.expect_navigation():
        page.click("#apply-filters")
    assert page.locator("#queue li.wb-row").evaluate_all("els => els.map(e => e.dataset.caseKey)") == [west]
    page.select_option("#f-grid", "")
    page.select_option("#f-category", "E0102")
    with page.expect_navigation():
        page.click("#apply-filters")
    assert page.locator("#queue li.wb-row").evaluate_all("els => els.map(e => e.dataset.caseKey)") == [again]
    with page.expect_navigation():
        page.click(f"li[data-case-key='{again}'] a")
    duplicate = page.locator(f"#duplicates li.wb-dup[data-case-key='{original}']")
    screenshot(page, "workbench_triage")
    assert "相距 35 米" in duplicate.inner_text() and "早 2小时" in duplicate.inner_text()
    with page.expect_navigation():
        duplicate.locator("button.wb-dup-button").click()  # one click: 重复案件,关联此案
    assert page.locator(".flash-success").inner_text() == f"{again} 已作为 {original} 的重复案件关联。"
    assert "category=E0102" in page.url  # back to the filtered queue, now empty
    assert page.locator("#queue-empty").is_visible()

    with live_server.app.app_context():
        case = case_row(again)
        assert case.status == "duplicate" and case.duplicate_of_id == case_row(original).id
        status = case_events(again, "case.status_changed")[-1]
        assert (status.after or {}).get("status") == "duplicate", status.after
        assert [e.data for e in case_events(original, "case.linked")] == [{"duplicate": again}]


def test_dispatch_to_an_override_with_a_changed_limit_and_reject_with_a_reason(live_server, page_as):
    with live_server.app.app_context():
        client, auth, clock = seed(live_server)
        key = report(client, auth, title="东门垃圾满溢")["key"]
        clock.advance(minutes=5)
        junk = report(client, auth, title="测试", description="误报")["key"]
        db.session.commit()

    page = page_as("dispatcher")
    with page.expect_navigation():
        page.click(f"li[data-case-key='{key}'] a")
    with page.expect_navigation():
        page.click("#accept-button")
    assert page.locator("#report").get_attribute("data-stage") == "dispatch"
    dispatch_url = page.url
    page.select_option("#other-handler", "user:worker_west")  # selecting someone else selects the row
    assert page.locator("#handler-other").is_checked()
    assert page.locator("#dispatch-button").inner_text() == "派遣"
    page.fill("#d-hours", "8")
    with page.expect_navigation():
        page.click("#dispatch-button")
    assert page.locator("#err-dispatch_note").inner_text() == "修改时限须说明理由"  # refused, nothing changed
    assert page.locator("#other-handler").input_value() == "user:worker_west"
    assert page.locator("#d-hours").input_value() == "8"
    page.fill("#d-note", "东门需清运车辆,协调西区网格员处理")
    with page.expect_navigation():
        page.click("#dispatch-button")
    assert page.locator(".flash-success").inner_text() == f"{key} 已派遣给 李芳。"

    with page.expect_navigation():
        page.click(f"li[data-case-key='{junk}'] a")
    page.click("#reject-box summary")
    page.fill("#t-reject-reason", "重复测试上报,非真实问题")
    with page.expect_navigation():
        page.click("#reject-button")
    assert page.locator(".flash-success").inner_text() == f"{junk} 已不予立案。"

    with live_server.app.app_context():
        case = case_row(key)
        assert (case.status, case.handler_user) == ("handling", "worker_west")
        limit = case_events(key, "case.time_limit_set")[-1].after
        assert (limit["source"], limit["limit"]) == ("dispatcher", "8wh")
        task = db.session.get(HumanTask, int(dispatch_url.rsplit("/", 1)[-1]))
        assert task is not None and task.element_id == "dispatch" and task.submitted_data is not None
        assert {name: task.submitted_data.get(name) for name in ("handler_user", "time_limit_hours")} == {
            "handler_user": "worker_west",
            "time_limit_hours": 8,
        }
        assert task.submitted_data["dispatch_note"] == "东门需清运车辆,协调西区网格员处理"  # the reason
        rejected = case_row(junk)
        assert (rejected.status, rejected.reject_reason) == ("rejected", "重复测试上报,非真实问题")


def test_the_workbench_keeps_to_the_grid_scope(live_server, page_as):
    with live_server.app.app_context():
        client, auth, _clock = seed(live_server)
        key = report(client, auth, title="东区垃圾满溢")["key"]
        task_id = open_task(key, "triage").id
        db.session.commit()

    west = page_as("dispatcher_west")
    assert west.url == f"{live_server.url}/dispatch/"
    assert west.locator("#queue-empty").is_visible()  # the east report is not theirs
    response = west.goto(f"{live_server.url}/dispatch/tasks/{task_id}")
    assert response.status == 404
    worker = page_as("worker")
    assert worker.goto(f"{live_server.url}/dispatch/").status == 403
    assert worker.locator("nav a[href='/dispatch/']").count() == 0
