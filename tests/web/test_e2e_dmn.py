"""The decision table editor in headless Chromium (issue 16, "done when": a DMN table edited in the studio
changes the decision of the next instance and not of a running one).

The designer opens the shipped table ``sensor_alarm_route`` from the list, edits one cell in dmn-js (orange
alarms are dispatched at once instead of calling the resident first), validates and saves it as a draft,
then publishes it from the versions page. An instance that was already running, or started while the table
was a draft, still calls the resident; one started after the publish dispatches. The instances are
started and their first task completed through the API: they stand for alarms, which no page starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy, instances
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance, TaskStatus
from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer
from tests.workflow.test_decisions import WATER_LEAK, _triage_bpmn


def _seed(live_server: LiveServer) -> int:
    """A designer and a supervisor, the shipped table, the probe process calling it, and a running instance
    waiting before its decision; the running instance's id."""
    app = live_server.app
    with app.app_context():
        create_user("designer1", PASSWORD, "designer")
        create_user("supervisor1", PASSWORD, "supervisor")
        rules = app.extensions["gridcase.deploy_rules"]()
        deploy.deploy_file(
            "sensor_alarm_route.dmn", (PROJECT_ROOT / "bpmn" / "sensor_alarm_route.dmn").read_bytes(), rules
        )
        deploy.deploy_file("alarm_triage.bpmn", _triage_bpmn(), rules)
        running = instances.start_instance("alarm_triage", business_key=None, variables=WATER_LEAK)
        db.session.commit()
        return running.instance.id


def _start(live_server: LiveServer) -> int:
    with live_server.app.app_context():
        outcome = instances.start_instance("alarm_triage", business_key=None, variables=WATER_LEAK)
        db.session.commit()
        return outcome.instance.id


def _route(live_server: LiveServer, instance_id: int) -> Any:
    """The supervisor completes the instance's first look through the API; what the decision then said."""
    client = live_server.app.test_client()
    token = client.post("/api/v1/tokens", json={"username": "supervisor1", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}

    def open_task(element_id: str) -> int:
        with live_server.app.app_context():
            return db.session.execute(
                select(HumanTask.id).where(
                    HumanTask.instance_id == instance_id,
                    HumanTask.element_id == element_id,
                    HumanTask.status.in_(TaskStatus.OPEN),
                )
            ).scalar_one()

    done = client.post(
        f"/api/v1/tasks/{open_task('look')}/complete",
        json={"data": {"review_decision": "approve"}},
        headers=headers,
    )
    assert done.status_code == 200, done.get_json()
    return client.get(f"/api/v1/tasks/{open_task('after')}", headers=headers).get_json()["data"]["route"]


def test_a_cell_edited_in_the_studio_decides_for_the_next_instance_not_a_running_one(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
) -> None:
    running_id = _seed(live_server)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes")
    page.click("nav.subnav a[href='/design/decisions']")
    page.click('tr[data-table-key="sensor_alarm_route"] a.button')
    page.wait_for_selector('#decision-editor[data-ready="true"]')

    # Type the new condition into the severity cell of the rule that calls the resident.
    cell = page.locator('td[data-element-id="rule_call_severity"]')
    assert cell.inner_text().strip() == '!= "red"'
    cell.locator("[contenteditable]").click()
    page.keyboard.press("Control+A")
    page.keyboard.type('? not in ("red", "orange")')
    page.click("#validate-button")
    page.wait_for_selector("#decision-status.status-ok")
    page.click("#deploy-button")
    page.wait_for_selector("#deployed-version-link")
    assert "2" in page.inner_text("#decision-status")
    page.locator('td[data-element-id="rule_call_severity"]').click()
    screenshot(page, "designer-dmn")  # docs/screenshots/designer-dmn.png is a copy of it

    with live_server.app.app_context():
        tables = list(
            db.session.execute(
                select(ProcessDefinition)
                .where(ProcessDefinition.key == "sensor_alarm_route")
                .order_by(ProcessDefinition.version)
            ).scalars()
        )
        assert [(t.version, t.kind) for t in tables] == [(1, "dmn"), (2, "dmn")]
        assert '? not in ("red", "orange")' in tables[1].bpmn_xml
        newest_id = tables[1].id
        deployed = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "process.deployed", AuditEvent.actor_label == "designer1"
            )
        ).scalar_one()
        assert deployed.after is not None and deployed.after["version"] == 2

    # Saved in the studio, the table is a draft: an instance started now still decides with version 1.
    before_publish_id = _start(live_server)
    page.goto(f"{live_server.url}/design/decisions/sensor_alarm_route")
    assert page.locator('tr[data-version="2"] [data-field="status"]').inner_text() == "草稿"
    page.click('tr[data-version="2"] [data-action="publish"]')
    page.locator("#publish-dialog-2").wait_for(state="visible")
    with page.expect_navigation():
        page.click('#publish-dialog-2 [data-action="confirm-publish"]')
    assert page.locator('tr[data-version="2"] [data-field="status"]').inner_text() == "已发布"

    following_id = _start(live_server)
    with live_server.app.app_context():
        bindings = {i.id: i.decision_bindings for i in db.session.execute(select(ProcessInstance)).scalars()}
    assert bindings[running_id] == {"sensor_alarm_route": tables[0].id}
    assert bindings[before_publish_id] == {"sensor_alarm_route": tables[0].id}
    assert bindings[following_id] == {"sensor_alarm_route": newest_id}
    assert _route(live_server, running_id) == "call"  # running before the deploy: the old table
    assert _route(live_server, following_id) == "dispatch"  # started after it: the edited table


def test_a_new_table_opens_empty_in_the_editor_and_deploys_as_version_1(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
) -> None:
    with live_server.app.app_context():
        create_user("designer1", PASSWORD, "designer")
        db.session.commit()
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/decisions")
    page.click("#new-decision-link")
    page.fill("input[name=key]", "report_priority")
    page.fill("input[name=name]", "上报优先级")
    page.click("#new-decision-form button[type=submit]")
    page.wait_for_selector('#decision-editor[data-ready="true"]')
    assert "上报优先级" in page.inner_text(".tjs-container")
    # The input expression through dmn-js's own modeling API (its header popup has no stable selector).
    page.click("#validate-button")  # an empty table: its input has no expression, its output no name
    page.wait_for_selector("#decision-status.status-error")
    assert page.locator("#decision-problems li").count() == 2
    assert "没有输入表达式" in page.inner_text("#decision-problems")
    page.evaluate(
        """() => {
            const viewer = window.gridcaseDecisionEditor.getActiveViewer();
            const input = viewer.get('sheet').getRoot().businessObject.input[0];
            const output = viewer.get('sheet').getRoot().businessObject.output[0];
            viewer.get('modeling').updateProperties(input.inputExpression, { text: 'category_code' });
            viewer.get('modeling').updateProperties(output, { name: 'priority' });
        }"""
    )
    page.click("#deploy-button")
    page.wait_for_selector("#deployed-version-link")
    screenshot(page, "designer-dmn-new")
    with live_server.app.app_context():
        table = db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.key == "report_priority")
        ).scalar_one()
        assert (table.version, table.kind, table.name) == (1, "dmn", "上报优先级")
        assert "<text>category_code</text>" in table.bpmn_xml
