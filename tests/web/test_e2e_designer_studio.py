"""#16's first "done when", in headless Chromium: a designer builds a new process from an empty canvas with
only the palette's shapes and the properties panel (no XML typed): a start event, a user task with a form
and candidate roles, an exclusive gateway with two conditions, a boundary timer, ends; saves it; runs a test
instance and completes its task; runs another and advances its simulated clock to fire the timer; publishes
it from the versions page; then a case of a category mapped to the process (the mapping seeded with the
category service) runs on the published version."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.categories.models import Category
from app.extensions import db
from app.workflow import publication
from app.workflow.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from app.workflow.test_run_models import TestRun
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue
from tests.web.conftest import LiveServer
from tests.web.seed import seed_designer
from tests.web.test_e2e_designer_properties import _place, _rename, _type

KEY = "noise_patrol"
CATEGORY = "E0102"  # mapped to the new process for the last step


def _active(page: Any) -> list[str]:
    page.wait_for_selector('#case-diagram[data-state="ready"]')
    return sorted(page.get_attribute("#case-diagram", "data-active").split())


def _completed(page: Any) -> list[str]:
    page.wait_for_selector('#case-diagram[data-state="ready"]')
    return sorted(page.get_attribute("#case-diagram", "data-completed").split())


def _start_test_run(page: Any, base: str) -> int:
    page.goto(f"{base}/design/processes/{KEY}")
    with page.expect_navigation():
        page.click('tr[data-version="1"] a[data-action="test-run"]')
    page.fill("#test-variables", '{"noise_level": 72}')
    with page.expect_navigation(url=re.compile(r"/design/test-runs/\d+$")):
        page.click("#start-test-run")
    return int(page.url.rsplit("/", 1)[1])


def _build(page: Any) -> None:
    """The process, from the palette and the panel only."""
    page.fill("#new-process-key", KEY)
    page.fill("#new-process-name", "夜间噪音巡查")
    page.click("#new-process-button")
    page.wait_for_selector('#modeler[data-ready="true"]')
    ids = _place(
        page,
        """
        const task = autoPlace.append(registry.get('start'), shape('bpmn:UserTask'));
        const gateway = autoPlace.append(task, shape('bpmn:ExclusiveGateway'));
        const done = autoPlace.append(gateway, shape('bpmn:EndEvent'));
        const again = autoPlace.append(gateway, shape('bpmn:EndEvent'));
        const timer = modeling.createShape(
            shape('bpmn:BoundaryEvent', { eventDefinitionType: 'bpmn:TimerEventDefinition' }),
            { x: task.x + task.width / 2, y: task.y + task.height }, task, { attach: true });
        const late = autoPlace.append(timer, shape('bpmn:EndEvent'));
        return { task: task.id, gateway: gateway.id, done: done.id, again: again.id, timer: timer.id,
                 late: late.id, flows: gateway.outgoing.map(f => f.id) };
        """,
    )
    _rename(page, ids["task"], "check_noise", "核查噪音")
    page.select_option("#bio-properties-panel-gc-form", "confirm_clear.schema.json")
    page.check("#bio-properties-panel-gc-role-grid_worker")
    page.check("#bio-properties-panel-gc-role-community_staff")
    _rename(page, ids["gateway"], "is_cleared", "是否消除")
    cleared, not_cleared = ids["flows"]
    _rename(page, cleared, "flow_cleared", "已消除")
    _type(page, "gc-condition", 'clear_decision == "cleared"')
    _rename(page, not_cleared, "flow_not_cleared", "未消除")
    _type(page, "gc-condition", 'clear_decision == "not_cleared"')
    _rename(page, ids["timer"], "check_timeout", "两小时未核查")
    page.select_option("#bio-properties-panel-timerEventDefinitionType", "timeDuration")
    _type(page, "timerEventDefinitionValue", '"PT2H"')
    _rename(page, ids["done"], "end_cleared", "已消除")
    _rename(page, ids["again"], "end_not_cleared", "转人工")
    _rename(page, ids["late"], "end_late", "超时")


def test_a_designer_builds_tests_and_puts_a_process_to_work_in_the_studio(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    with live_server.app.app_context():
        from app.auth.services import create_user

        create_user("worker", PASSWORD, "grid_worker")
        create_user("resident", PASSWORD, "resident")
        ensure_catalogue()
        db.session.commit()
    base = live_server.url
    page = page_as("designer1")
    page.goto(f"{base}/design/processes")
    _build(page)

    # saved as a draft: nothing starts on it but test runs
    page.click("#validate-button")
    page.wait_for_selector("#modeler-status.status-ok")
    page.click("#deploy-button")
    page.wait_for_url(f"**/design/processes/{KEY}/edit?version=1")
    with live_server.app.app_context():
        definition = db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.key == KEY)
        ).scalar_one()
        assert definition.version == 1
        assert publication.current(KEY) is None
        assert (
            "<bpmn:timeDuration" in definition.bpmn_xml
            and 'attachedToRef="check_noise"' in definition.bpmn_xml
        )

    # a test run: its task completed on the run's page ("cleared" takes the first condition's flow)
    first = _start_test_run(page, base)
    assert {"check_noise", "check_timeout"} <= set(_active(page))
    page.check('#json-form input[name="root[clear_decision]"][value="cleared"]')
    with page.expect_navigation(url=re.compile(rf"/design/test-runs/{first}$")):
        page.click("#complete-test-task")
    assert page.get_attribute("#test-run-status", "data-status") == "completed"
    assert {"check_noise", "is_cleared", "end_cleared"} <= set(_completed(page))
    assert "end_late" not in _completed(page)

    # another: its clock moved past the two hours fires the boundary timer
    second = _start_test_run(page, base)
    page.fill("#clock-duration", "PT1H")
    with page.expect_navigation():
        page.click("#advance-clock")
    assert "check_noise" in _active(page)
    page.fill("#clock-duration", "PT1H")
    with page.expect_navigation():
        page.click("#advance-clock")
    assert "触发了 1 个定时器" in page.inner_text(".flash")
    assert page.get_attribute("#test-run-status", "data-status") == "completed"
    assert {"check_timeout", "end_late"} <= set(_completed(page))
    screenshot(page, "designer-studio-testrun")

    # published from the versions page, after its confirmation
    page.goto(f"{base}/design/processes/{KEY}")
    assert page.get_attribute('tr[data-version="1"] [data-field="status"]', "data-status") == "draft"
    page.click('tr[data-version="1"] [data-action="publish"]')
    dialog = page.locator("#publish-dialog-1")
    dialog.wait_for(state="visible")
    with page.expect_navigation():
        dialog.locator('[data-action="confirm-publish"]').click()
    assert page.get_attribute('tr[data-version="1"] [data-field="status"]', "data-status") == "published"

    with live_server.app.app_context():
        published = publication.current(KEY)
        assert published is not None and published.id == definition.id
        runs = {run.id: run for run in db.session.execute(select(TestRun)).scalars()}
        assert set(runs) == {first, second}
        for run in runs.values():
            instance = db.session.get(ProcessInstance, run.instance_id)
            assert instance is not None and instance.is_test and instance.status == InstanceStatus.COMPLETED
        # the category now opens its cases on the new process (seeded with the service, not the pages)
        category = db.session.execute(select(Category).where(Category.code == CATEGORY)).scalar_one()
        category.process_key = KEY
        db.session.commit()
        client = live_server.app.test_client()
        token = client.post("/api/v1/tokens", json={"username": "resident", "password": PASSWORD}).get_json()
        response = client.post(
            "/api/v1/cases",
            json={
                "title": "夜里施工噪音",
                "category_code": CATEGORY,
                "severity": "yellow",
                "lat": 30.7589,
                "lon": 103.9718,
                "address": "锦绣花园北门",
            },
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        assert response.status_code == 201, response.get_json()
        case = db.session.execute(select(Case).where(Case.key == response.get_json()["key"])).scalar_one()
        instance = db.session.execute(
            select(ProcessInstance).where(ProcessInstance.case_id == case.id)
        ).scalar_one()
        assert instance.process_key == KEY and not instance.is_test
        assert db.session.get(ProcessDefinition, instance.definition_id).version == 1  # type: ignore[union-attr]
        task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id)).scalar_one()
        assert task.element_id == "check_noise" and task.status == TaskStatus.READY
        assert task.roles == ["grid_worker", "community_staff"]
        assert db.session.execute(
            select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "instance.started")
        ).scalar_one()
