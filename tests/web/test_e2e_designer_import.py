"""Importing a Camunda 7 Modeler diagram in the designer pages: the conversion report, the deploy refusing
the JavaScript script by name, the designer rewriting it on the page and deploying."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth.services import create_user
from app.extensions import db
from app.workflow.models import ProcessDefinition
from tests.conftest import PASSWORD
from tests.processes.test_camunda_import import DIAGRAM
from tests.web.conftest import LiveServer


def _definitions(live_server: LiveServer) -> list[tuple[str, int]]:
    with live_server.app.app_context():
        rows = db.session.execute(select(ProcessDefinition.key, ProcessDefinition.version)).all()
        return [(key, version) for key, version in rows]


def test_a_designer_imports_a_camunda_diagram_rewrites_its_script_and_deploys_it(
    live_server: LiveServer, page_as: Any, screenshot: Any
) -> None:
    with live_server.app.app_context():
        create_user("designer1", PASSWORD, "designer")
        db.session.commit()
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes")
    page.click("nav.subnav >> text=导入")
    page.wait_for_selector("#import-file", state="attached")  # the click starts the navigation only
    # No file: the message next to the field, nothing stored.
    page.evaluate("document.getElementById('import-file').removeAttribute('required')")
    page.click("#import-form button[type=submit]")
    assert page.inner_text("#import-file-error") == "请选择一个 .bpmn 文件。"
    page.set_input_files("#import-file", str(DIAGRAM))
    page.click("#import-form button[type=submit]")
    assert "共 12 处变更,其中 2 处需手工改写" in page.inner_text("#conversion-summary")
    hand = page.locator("#conversion-report tr[data-outcome=needs_hand]")
    assert hand.count() == 2
    assert "javascript 脚本无法执行" in page.inner_text("#conversion-report tr[data-element-id=Script_close]")
    assert "Script_close" in page.inner_text("#deploy-problem")
    screenshot(page, "designer-import")
    # Deploying as it is: refused by element, nothing stored.
    page.click("#import-deploy")
    assert "Script_close" in page.inner_text("#deploy-problem")
    assert _definitions(live_server) == []
    # The designer rewrites the script in Python on the page, then deploys.
    xml = page.input_value("#import-xml")
    page.fill(
        "#import-xml",
        xml.replace('execution.setVariable("closed", true);', "closed = True").replace(
            'scriptFormat="javascript"', 'scriptFormat="python"'
        ),
    )
    with page.expect_navigation():
        page.click("#import-deploy")
    assert "/design/processes/alarm_check" in page.url
    assert _definitions(live_server) == [("alarm_check", 1)]
