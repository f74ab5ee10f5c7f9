"""A grid worker on a phone (360 px): the inbox, claiming a task, a refused completion with the server's
messages next to the fields, a photo from the camera input, and the completion with the phone's location."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Attachment, Case
from app.extensions import db
from app.workflow.models import HumanTask, TaskStatus
from tests.helpers import jpeg
from tests.web.conftest import PHONE
from tests.web.seed import case_at_handle, seed_people


def test_worker_claims_fills_photographs_and_completes(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        key, task_id = case_at_handle(client, auth)
        # dispatched to the worker by name; handed back, it is open to the grid's workers: claimable
        assert client.post(f"/api/v1/tasks/{task_id}/unclaim", headers=auth("worker")).status_code == 200

    page = page_as("worker", viewport=PHONE)
    page.goto(f"{live_server.url}/m/")
    row = page.locator(f'li.task-row[data-task-id="{task_id}"]')
    assert key in row.inner_text()
    assert row.locator(".time-left").is_visible()
    screenshot(page, "worker_inbox")

    with page.expect_navigation():
        row.locator("button", has_text="认领").click()
    assert page.url.endswith(f"/m/tasks/{task_id}")
    page.wait_for_selector('#json-form input[type=radio][value="resolved"]')
    # the grid polygon and the pin (the polygon's layer arrives after the form: wait for it, do not sample)
    page.wait_for_function("() => document.querySelectorAll('#case-map .leaflet-interactive').length >= 2")

    # sent without a description: the page's check (worded as the server's) marks the field, in zh-CN
    page.check('#json-form input[type=radio][value="resolved"]')
    page.click("#complete-button")
    error = page.locator('.field-error[data-error-for="handle_description"]')
    error.wait_for()
    assert error.inner_text() == "此项必填"
    with live_server.app.app_context():
        assert db.session.get(HumanTask, task_id).status == TaskStatus.CLAIMED

    page.fill('#json-form textarea[name="root[handle_description]"]', "已清运,现场已清理干净")
    page.set_input_files(
        "#photo-before_photos", files=[{"name": "before.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    page.locator('.photo-field[data-field="before_photos"] .picked li').wait_for()
    # expect() polls with Playwright's own script; a string predicate would need eval, which our CSP forbids
    expect(page.locator("#location-status")).to_contain_text("±")
    screenshot(page, "worker_task")

    # the next task of the case, 处置反馈, is the worker's at once: it opens in the same visit
    with page.expect_navigation(url=re.compile(r"/m/tasks/\d+$")):
        page.click("#complete-button")
    assert "处置" in page.locator(".flash").inner_text()

    with live_server.app.app_context():
        task = db.session.get(HumanTask, task_id)
        photo = db.session.execute(select(Attachment).where(Attachment.kind == "before")).scalar_one()
        assert task.status == TaskStatus.COMPLETED
        submitted = {name: value for name, value in task.submitted_data.items() if value is not None}
        assert submitted == {
            "handle_result": "resolved",
            "handle_description": "已清运,现场已清理干净",
            "before_photos": [photo.id],
        }
        assert db.session.execute(select(Case.status).where(Case.key == key)).scalar_one() == "feedback"
        proof = db.session.execute(
            select(HumanTask).where(HumanTask.case_id == task.case_id, HumanTask.status == TaskStatus.CLAIMED)
        ).scalar_one()
        assert proof.element_id == "photo_proof" and page.url.endswith(f"/m/tasks/{proof.id}")
        located = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "task.location", AuditEvent.entity_id == str(task_id)
            )
        ).scalar_one()
        assert located.data["location"]["lat"] == 30.7589 and located.data["location"]["lon"] == 103.9718
