"""Forms frozen per deployment in headless Chromium (#16 item 6): a designer changes a form in the form editor
while a task of the deployed version is open; the dispatcher's task page still draws and checks the form the
task was created with; after the next deployment the editor lists both versions of the form."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.auth.roles import ALL_ROLES
from app.auth.services import create_user
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy, instances
from app.workflow.forms import FormRegistry
from app.workflow.models import HumanTask, TaskStatus
from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer
from tests.workflow.test_form_versions import FORM, UI, _diagram, _schema, _ui


def _seed(live_server: LiveServer, tmp_path: Path) -> int:
    """A designer and a dispatcher, the probe process deployed with the form's first text, and one instance
    waiting on its task; the id of that task."""
    app = live_server.app
    folder = tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "forms", folder)
    (folder / FORM).write_text(
        json.dumps(_schema(10, with_place=False), ensure_ascii=False), encoding="utf-8"
    )
    (folder / UI).write_text(json.dumps(_ui("Note v1")), encoding="utf-8")
    registry = FormRegistry(folder)
    app.extensions["gridcase.forms"] = registry
    app.extensions["gridcase.deploy_rules"] = lambda: deploy.default_rules(registry.exists, set(ALL_ROLES))
    with app.app_context():
        create_user("designer1", PASSWORD, "designer")
        create_user("dispatcher1", PASSWORD, "dispatcher")
        deploy.deploy_file("fv_probe.bpmn", _diagram(), app.extensions["gridcase.deploy_rules"]())
        outcome = instances.start_instance("fv_probe", business_key=None, variables={})
        db.session.commit()
        task_id: int = outcome.created_tasks[0].id
    return task_id


def test_an_open_task_keeps_its_form_while_the_designer_changes_it(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    task_id = _seed(live_server, tmp_path)

    # the designer adds a required field and loosens a limit, in the form editor
    designer = page_as("designer1")
    designer.goto(f"{live_server.url}/design/forms/{FORM}")
    assert "已打开的任务继续使用其流程版本部署时的表单" in designer.inner_text("#form-version-note")
    assert designer.locator('#form-versions tr[data-form-version="1"].current').count() == 1
    designer.fill("#schema-source", json.dumps(_schema(100, with_place=True), ensure_ascii=False, indent=2))
    designer.wait_for_function("() => document.querySelector('#form-preview').innerText.includes('地点')")
    designer.wait_for_selector("#form-status.status-ok")
    opened = designer.get_attribute("#form-editor", "data-base-hash")
    designer.click("#save-form-button")
    designer.wait_for_function(
        "h => document.querySelector('#form-editor').dataset.baseHash !== h", arg=opened
    )
    assert "下次部署" in designer.inner_text("#form-status")

    # the dispatcher's open task: the form it was created with (no 地点, at most 10 characters)
    page = page_as("dispatcher1")
    page.goto(f"{live_server.url}/m/tasks/{task_id}")
    with page.expect_navigation():
        page.locator("button", has_text="认领").click()
    page.wait_for_selector('#json-form input[name="root[note]"]')
    assert page.locator('#json-form [name="root[place]"]').count() == 0
    page.fill('#json-form input[name="root[note]"]', "这是一条超过十个字的很长很长的备注")
    page.click("#complete-button")
    error = page.locator('.field-error[data-error-for="note"]')
    error.wait_for()
    assert error.inner_text() == "最多 10 个字"
    screenshot(page, "designer-formver-open-task")
    page.fill('#json-form input[name="root[note]"]', "已记录")
    with page.expect_navigation(url=re.compile(r"/m/")):
        page.click("#complete-button")
    with live_server.app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task.status == TaskStatus.COMPLETED and task.submitted_data == {"note": "已记录"}

        # the next deployment freezes the edited form
        (result,) = deploy.deploy_file(
            "fv_probe.bpmn", _diagram(), live_server.app.extensions["gridcase.deploy_rules"]()
        )
        db.session.commit()
        assert result.created and result.definition.version == 2

    designer.goto(f"{live_server.url}/design/forms/{FORM}")
    assert designer.locator('#form-versions tr[data-form-version="2"].current').count() == 1
    assert "fv_probe v1" in designer.inner_text('#form-versions tr[data-form-version="1"]')
    screenshot(designer, "designer-formver-editor")
