"""发起流程 in Chromium, as a grid leader on a phone (issue #16's done-when): the catalogue lists the
published 走访登记 (not case handling); its start form refuses bad data field by field and starts nothing; a
visit needing a follow-up starts an instance and lands on the starter's follow-up task, which completes it; a
visit without one lands on the receipt."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.extensions import db
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.cases.territory import EAST_GRID, assign
from tests.conftest import PASSWORD
from tests.web.conftest import PHONE
from tests.web.seed import seed_people


def _instances() -> int:
    db.session.expire_all()
    return int(db.session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one())


def test_a_grid_leader_starts_a_visit_record_from_the_catalogue(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed_people(live_server.app)
        create_user("leader", PASSWORD, "grid_leader")
        db.session.commit()
        assign("leader", EAST_GRID)
        db.session.commit()
        assert _instances() == 0

    page = page_as("leader", viewport=PHONE)
    page.goto(f"{live_server.url}/m/")
    with page.expect_navigation():
        page.click('nav a[href="/m/start/"]')
    items = page.locator("li[data-process-key]")
    assert [items.nth(i).get_attribute("data-process-key") for i in range(items.count())] == ["visit_record"]
    screenshot(page, "start_catalogue")
    with page.expect_navigation():
        page.click('li[data-process-key="visit_record"] a')
    page.wait_for_selector('#json-form input[name="root[household]"]')

    # bad data: a blank household, no findings, a follow-up without what to follow up
    page.fill('#json-form input[name="root[household]"]', " ")
    page.check('#json-form input[type=radio][value="elderly_alone"]')
    page.check('#json-form input[type=radio][value="yes"]')
    page.click("#start-button")
    for field in ("household", "findings", "follow_up_item"):
        page.locator(f'.field-error[data-error-for="{field}"]').wait_for()
    assert page.locator('.field-error[data-error-for="findings"]').inner_text() == "此项必填"
    assert page.locator("#form-error").is_visible()
    screenshot(page, "designer-start")
    with live_server.app.app_context():
        assert _instances() == 0  # nothing started

    # corrected: it starts, and the follow-up is the leader's own next step
    page.fill('#json-form input[name="root[household]"]', "3栋2单元501 王大爷")
    page.fill('#json-form textarea[name="root[findings]"]', "独居,身体尚好,燃气灶软管老化。")
    page.fill('#json-form textarea[name="root[follow_up_item]"]', "联系燃气公司更换软管")
    with page.expect_navigation(url=re.compile(r"/m/tasks/\d+$")):
        page.click("#start-button")
    assert "已发起" in page.locator(".flash").inner_text()
    task_id = int(page.url.rsplit("/", 1)[1])
    with live_server.app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task.element_id == "follow_up" and task.status == TaskStatus.CLAIMED
        assert task.grid_code == EAST_GRID and task.case_id is None
        instance = db.session.get(ProcessInstance, task.instance_id)
        assert instance.process_key == "visit_record" and instance.status == InstanceStatus.RUNNING
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "process.started_from_form")
        ).scalar_one()
        assert event.data["form_data"]["follow_up_item"] == "联系燃气公司更换软管"

    page.check('#json-form input[type=radio][value="resolved"]')
    page.fill('#json-form textarea[name="root[follow_up_note]"]', "已联系燃气公司,软管已更换")
    with page.expect_navigation(url=re.compile(r"/m/$")):
        page.click("#complete-button")
    with live_server.app.app_context():
        db.session.expire_all()
        assert db.session.get(ProcessInstance, instance.id).status == InstanceStatus.COMPLETED

    # a visit with nothing to follow up ends at once: the receipt
    page.goto(f"{live_server.url}/m/start/visit_record")
    page.wait_for_selector('#json-form input[name="root[household]"]')
    page.fill('#json-form input[name="root[household]"]', "5栋101 李阿姨")
    page.check('#json-form input[type=radio][value="ordinary"]')
    page.fill('#json-form textarea[name="root[findings]"]', "一切正常,已宣传防诈骗知识。")
    page.check('#json-form input[type=radio][value="no"]')
    with page.expect_navigation(url=re.compile(r"/m/start/instances/\d+$")):
        page.click("#start-button")
    assert "已完成,无需后续办理" in page.locator("#receipt-status").inner_text()
    screenshot(page, "start_receipt")
    with live_server.app.app_context():
        assert _instances() == 2
