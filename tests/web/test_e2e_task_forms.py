"""The case handling forms on the real task pages, worked in Chromium: triage (the reject and duplicate
branches reveal their fields, a bad case number is marked in zh-CN, then accept), dispatch to a person picked
by name with a time limit, handling beyond the grid's means with its reason, and the community's 吹哨 with
a unit picked from the list. Each step checks the database; screenshots at 360 px and on a desktop."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.services import create_user
from app.cases.models import Case
from app.extensions import db
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.territory import COMMUNITY, EAST_GRID, add_unit, assign
from tests.conftest import PASSWORD
from tests.helpers import open_task, report
from tests.web.conftest import PHONE
from tests.web.seed import seed_people
from tests.web.steps import complete_task, open_and_claim

DESKTOP = {"width": 1280, "height": 860}


def _field(page, name):
    return page.locator(f'#json-form [data-pointer="/{name}"]')


def _shoot(page, screenshot, name):
    """The page at 360 px and on a desktop (then back to the size it had), and it fits the phone."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    screenshot(page, f"{name}_phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"{name}_desktop")
    page.set_viewport_size(size)


def _task(task_id):
    db.session.expire_all()
    return db.session.get(HumanTask, task_id)


def test_case_handling_forms_through_the_pages(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        create_user("community", PASSWORD, "community_staff")
        db.session.commit()
        assign("community", COMMUNITY)
        add_unit("gas", "district_bureau", EAST_GRID, name="燃气公司")
        key = report(client, auth)["key"]
        triage_id = open_task(key, "triage").id

    # -- triage (dispatcher, desktop): branches reveal their fields ------------------------------------
    page = page_as("dispatcher", viewport=DESKTOP)
    open_and_claim(page, f"{live_server.url}/m/tasks/{triage_id}")
    assert "root" not in page.locator("#json-form").inner_text()
    assert not _field(page, "reject_reason").is_visible() and not _field(page, "duplicate_of").is_visible()
    assert _field(page, "triage_decision").locator(".field-label").inner_text().startswith("受理结论")
    page.check('#json-form input[type=radio][value="reject"]')
    assert _field(page, "reject_reason").is_visible() and not _field(page, "duplicate_of").is_visible()
    _shoot(page, screenshot, "task_triage_reject")
    page.check('#json-form input[type=radio][value="duplicate"]')
    assert _field(page, "duplicate_of").is_visible() and not _field(page, "reject_reason").is_visible()
    page.fill('#json-form input[name="root[duplicate_of]"]', "GC-1")
    page.click("#complete-button")
    marked = _field(page, "duplicate_of").locator("> .field-error")
    marked.wait_for()
    assert marked.inner_text() == "须为案件编号,如 GC-2024-000123"  # the form's own zh-CN message
    _shoot(page, screenshot, "task_triage_duplicate")
    page.check('#json-form input[type=radio][value="accept"]')
    assert not _field(page, "duplicate_of").is_visible()
    page.check('#json-form input[name="root[severity]"][value="orange"]')
    _shoot(page, screenshot, "task_triage_accept")
    complete_task(page, live_server.url)
    with live_server.app.app_context():
        triage = _task(triage_id)
        assert triage.status == TaskStatus.COMPLETED
        # the hidden duplicate_of typed before is not sent (only the chosen branch), the category as reported
        sent = {k: v for k, v in triage.submitted_data.items() if v is not None}
        assert sent == {"triage_decision": "accept", "severity": "orange", "category_code": "E0102"}
        dispatch_id = open_task(key, "dispatch").id

    # -- dispatch: a person picked by name, a time limit and a note ------------------------------------
    open_and_claim(page, f"{live_server.url}/m/tasks/{dispatch_id}")
    picker = _field(page, "handler_user").locator("select")
    assert "worker" in picker.inner_text()
    picker.select_option('"worker"')
    page.fill('#json-form input[name="root[time_limit_hours]"]', "8")
    page.fill('#json-form textarea[name="root[dispatch_note]"]', "请今天处理")
    _shoot(page, screenshot, "task_dispatch")
    complete_task(page, live_server.url)
    with live_server.app.app_context():
        sent = _task(dispatch_id).submitted_data
        assert sent["handler_user"] == "worker" and sent["time_limit_hours"] == 8
        assert sent["dispatch_note"] == "请今天处理" and sent["handler_unit"] is None
        handle = open_task(key, "handle")
        assert handle.status == TaskStatus.CLAIMED
        handle_id = handle.id

    # -- handle (grid worker, phone): beyond the grid's means needs its reason --------------------------
    phone = page_as("worker", viewport=PHONE)
    open_and_claim(phone, f"{live_server.url}/m/tasks/{handle_id}")
    assert not _field(phone, "beyond_means_reason").is_visible()
    phone.check('#json-form input[type=radio][value="beyond_means"]')
    phone.fill('#json-form textarea[name="root[handle_description]"]', "燃气管道漏气,已拉警戒线")
    phone.click("#complete-button")
    reason = _field(phone, "beyond_means_reason")
    reason.locator("> .field-error").wait_for()
    assert reason.locator("> .field-error").inner_text() == "此项必填"
    phone.fill('#json-form textarea[name="root[beyond_means_reason]"]', "需燃气公司处置")
    _shoot(phone, screenshot, "task_handle")
    complete_task(phone, live_server.url)
    with live_server.app.app_context():
        assert _task(handle_id).submitted_data["beyond_means_reason"] == "需燃气公司处置"
        coordinate_id = open_task(key, "coordinate_community").id

    # -- coordinate (community, phone): 吹哨 with a unit from the list ---------------------------------
    community = page_as("community", viewport=PHONE)
    open_and_claim(community, f"{live_server.url}/m/tasks/{coordinate_id}")
    assert not _field(community, "summon_units").is_visible()
    community.check('#json-form input[type=radio][value="summon"]')
    units = _field(community, "summon_units")
    units.locator(":scope > button").click()
    units.locator("select").select_option('"gas"')
    assert "燃气公司" in units.locator("select").inner_text()
    _shoot(community, screenshot, "task_coordinate")
    complete_task(community, live_server.url)
    with live_server.app.app_context():
        sent = _task(coordinate_id).submitted_data
        assert sent["coordinate_decision"] == "summon" and sent["summon_units"] == ["gas"]
        assert db.session.execute(select(Case.status).where(Case.key == key)).scalar_one() != "closed"
