"""The operations pages in headless Chromium: an admin finds an errored instance of a case, sees the
incident marked on the diagram, edits the missing variable and retries (the case goes on to its next
step), suspends and resumes the instance, and terminates it (the case is closed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.auth.services import create_user
from app.cases.models import Case, CaseStatus
from app.extensions import db
from app.workflow.models import InstanceStatus, ProcessInstance
from tests.conftest import PASSWORD
from tests.factories import create_case
from tests.probes import deploy_bpmn_folder
from tests.web.conftest import LiveServer
from tests.workflow.ops_probes import deploy_probes, fail_step, start_probe

USERS = (
    ("admin1", "admin"),
    ("resident", "resident"),
    ("dispatcher", "dispatcher"),
    ("worker", "grid_worker"),
)


def _seed(live_server: LiveServer) -> tuple[int, str]:
    """An admin; a case whose dispatcher left out the time limit, so ``set_time_limit`` failed right after
    the dispatch (an expression naming a missing variable: an incident); two healthy test instances."""
    app = live_server.app
    with app.app_context():
        for username, role in USERS:
            create_user(username, PASSWORD, role)
        db.session.commit()
        deploy_bpmn_folder()
        deploy_probes()
        client = app.test_client()
        tokens: dict[str, dict[str, str]] = {}

        def auth(username: str) -> dict[str, str]:
            if username not in tokens:
                response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
                tokens[username] = {"Authorization": f"Bearer {response.get_json()['token']}"}
            return tokens[username]

        key = create_case(client, auth, "dispatch")
        instance_id = db.session.execute(
            select(ProcessInstance.id).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == key)
        ).scalar_one()
        assert fail_step(instance_id, "dispatch", {"handler_user": "worker"}) == "set_time_limit"
        start_probe()
        start_probe()
        return instance_id, key


def _case_status(live_server: LiveServer, key: str) -> str:
    with live_server.app.app_context():
        return db.session.query(Case.status).filter_by(key=key).scalar()  # type: ignore[no-any-return]


def _instance_status(live_server: LiveServer, instance_id: int) -> str:
    with live_server.app.app_context():
        return db.session.get(ProcessInstance, instance_id).status  # type: ignore[union-attr]


def _submit(page: Any, form: str, reason: str, **fields: str) -> None:
    for name, value in fields.items():
        page.fill(f"#{form} [name={name}]", value)
    page.fill(f"#{form} [name=reason]", reason)
    with page.expect_navigation():
        page.click(f"#{form} button[type=submit]")


def test_admin_repairs_an_errored_case_instance(
    live_server: LiveServer, page_as: Callable[..., Any], screenshot: Callable[[Any, str], Path]
) -> None:
    instance_id, key = _seed(live_server)
    assert _case_status(live_server, key) == CaseStatus.DISPATCHING
    page = page_as("admin1")

    with page.expect_navigation():  # count() does not wait: the list must be the page counted
        page.click("nav.nav a[href='/operate/instances']")
    assert page.locator("#instance-table tbody tr").count() == 3
    screenshot(page, "ops_list")
    page.select_option("#f-status", "error")
    with page.expect_navigation():
        page.click(".op-filters button[type=submit]")
    rows = page.locator("#instance-table tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-instance-id") == str(instance_id)
    with page.expect_navigation():
        rows.first.locator("a").click()

    page.wait_for_selector('#case-diagram[data-state="ready"]')
    assert page.get_attribute("#case-diagram", "data-incident") == "set_time_limit"
    assert page.locator('.djs-element.gc-incident[data-element-id="set_time_limit"]').count() == 1
    assert "time_limit_hours" in page.inner_text("#open-incident")
    assert page.inner_text("#instance-case") == key
    screenshot(page, "ops_incident")

    _submit(page, "op-variable", "调度员漏填处置时限", name="time_limit_hours", value_json="二十四")
    assert "不是合法的 JSON" in page.inner_text("#err-variable-value_json")
    _submit(page, "op-variable", "调度员漏填处置时限", name="time_limit_hours", value_json="24")
    assert page.inner_text('[data-variable="time_limit_hours"] .op-value') == "24"
    _submit(page, "op-retry", "时限已补，重试")
    assert "已重试" in page.inner_text(".flash")
    assert page.get_attribute("#instance-status", "data-status") == "running"
    assert page.locator("#open-incident").count() == 0
    page.wait_for_selector('#case-diagram[data-state="ready"]')
    assert "handle" in page.get_attribute("#case-diagram", "data-active").split()
    assert _case_status(live_server, key) == CaseStatus.HANDLING  # the case went on to its next step
    screenshot(page, "ops_retried")

    _submit(page, "op-suspend", "排查数据问题")
    assert page.get_attribute("#instance-status", "data-status") == "suspended"
    assert _instance_status(live_server, instance_id) == InstanceStatus.SUSPENDED
    screenshot(page, "ops_suspended")
    _submit(page, "op-resume", "排查完毕")
    assert page.get_attribute("#instance-status", "data-status") == "running"

    _submit(page, "op-terminate", "")
    assert "请填写操作原因" in page.inner_text("#err-terminate-reason")
    _submit(page, "op-terminate", "重复上报，终止流程")
    assert page.get_attribute("#instance-status", "data-status") == "terminated"
    assert page.locator("#op-ended").count() == 1
    assert _case_status(live_server, key) == CaseStatus.CLOSED
    history = page.inner_text("#history")
    for label in ("修改变量", "重试", "挂起", "恢复运行", "终止"):
        assert label in history
    screenshot(page, "ops_terminated")

    # The case's own timeline tells what the operator did and why.
    with page.expect_navigation():
        page.click("#instance-case")
    timeline = page.inner_text("#case-timeline")
    assert "运维人员重试了流程" in timeline and "时限已补，重试" in timeline
    assert "运维人员终止了流程" in timeline and "重复上报，终止流程" in timeline
