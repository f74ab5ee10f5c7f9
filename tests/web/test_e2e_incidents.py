"""A grid worker on a phone completes a task of a broken process version: the completion is kept, the inbox
says the case continues after a repair (no internals), and the task page of a parked case says why it waits
and offers no completion. Screenshots: worker_incident_inbox, worker_parked_task."""

from __future__ import annotations

from app.extensions import db
from app.workflow import incidents, instances
from app.workflow.models import HumanTask, TaskStatus
from app.workflow.notices import CONTINUES_AFTER_REPAIR, WAITS_FOR_REPAIR
from tests.probes import deploy_diagram
from tests.web.conftest import PHONE
from tests.web.seed import case_at_handle, seed_people
from tests.web.test_pages_incidents import BROKEN_HANDLING


def test_worker_completion_into_a_broken_gateway_then_a_parked_task(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        deploy_diagram("case_handling.bpmn", BROKEN_HANDLING.encode())
        _key, broken_task = case_at_handle(client, auth)
        _key2, parked_task = case_at_handle(client, auth, title="井盖缺失")
        parked_instance = db.session.get(HumanTask, parked_task).instance_id
        incidents.open_incident(instances.lock_instance(parked_instance), kind="timer", reason="boom")
        db.session.commit()

    page = page_as("worker", viewport=PHONE)
    page.goto(f"{live_server.url}/m/tasks/{broken_task}")
    page.wait_for_selector('#json-form input[type=radio][value="resolved"]')
    page.check('#json-form input[type=radio][value="resolved"]')
    page.fill('#json-form textarea[name="root[handle_description]"]', "已清运,现场已清理干净")
    with page.expect_navigation(url=f"{live_server.url}/m/"):
        page.click("#complete-button")
    notice = page.locator(".flash-warning")
    assert notice.inner_text() == CONTINUES_AFTER_REPAIR["zh-CN"]
    assert "gw_handle_result" not in page.content() and "handle_outcome" not in page.content()
    screenshot(page, "worker_incident_inbox")
    with live_server.app.app_context():
        assert db.session.get(HumanTask, broken_task).status == TaskStatus.COMPLETED

    page.goto(f"{live_server.url}/m/tasks/{parked_task}")
    page.locator("#parked-notice").wait_for()
    assert page.locator("#parked-notice").inner_text() == WAITS_FOR_REPAIR["zh-CN"]
    assert page.locator("#complete-button").is_disabled()
    screenshot(page, "worker_parked_task")

    designer = page_as("designer")
    designer.goto(f"{live_server.url}/design/processes")
    badge = designer.locator('tr[data-process-key="case_handling"] [data-field="awaiting-repair"]')
    assert badge.inner_text() == "2 个待修复"
    screenshot(designer, "designer_awaiting_repair")
