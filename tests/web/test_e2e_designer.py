"""The designer in headless Chromium: change a diagram in the bpmn-js modeler and deploy it; see validation
problems marked on the canvas; edit a form with its live preview and save it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow.models import ProcessDefinition
from tests.web.conftest import LiveServer
from tests.web.seed import seed_designer

CASE_HANDLING = PROJECT_ROOT / "bpmn" / "case_handling.bpmn"


def _versions(live_server: LiveServer) -> list[ProcessDefinition]:
    with live_server.app.app_context():
        rows = db.session.execute(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == "case_handling")
            .order_by(ProcessDefinition.version)
        ).scalars()
        result = list(rows)
        for row in result:
            _ = row.bpmn_xml, row.spec_document  # load the deferred columns before the session goes
        db.session.expunge_all()
        return result


def _open_modeler(page: Any, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/design/processes")
    page.click('tr[data-process-key="case_handling"] a.button')
    page.wait_for_selector('#modeler[data-ready="true"]')


def test_designer_renames_a_task_in_the_modeler_and_deploys_it(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    _open_modeler(page, live_server)
    assert page.locator('.djs-element[data-element-id="triage"]').count() == 1

    # Rename the triage task's label through the modeler (what double-click editing does).
    page.evaluate(
        """() => {
            const modeler = window.gridcaseModeler;
            const triage = modeler.get('elementRegistry').get('triage');
            modeler.get('modeling').updateLabel(triage, '受理审核');
        }"""
    )
    page.click("#validate-button")
    page.wait_for_selector("#modeler-status.status-ok")
    page.click("#deploy-button")
    page.wait_for_selector("#deployed-version-link")
    assert "2" in page.inner_text("#modeler-status")
    page.evaluate(  # show the renamed task up close for the screenshot
        """() => {
            const modeler = window.gridcaseModeler;
            const triage = modeler.get('elementRegistry').get('triage');
            modeler.get('canvas').viewbox({ x: triage.x - 260, y: triage.y - 200, width: 1000, height: 520 });
            modeler.get('selection').select(triage);
        }"""
    )
    screenshot(page, "designer_modeler")

    versions = _versions(live_server)
    assert [v.version for v in versions] == [1, 2]
    assert re.search(r'<bpmn:userTask id="triage" name="受理审核"', versions[1].bpmn_xml)
    triage = next(t for t in versions[1].user_tasks if t["element_id"] == "triage")
    assert triage["name"] == "受理审核"
    # Everything the engine runs came through the modeler intact: the parsed specs of the two versions are
    # the same but for the new label (bpmn-js rewrites the XML's layout and drops nothing it executes).
    assert triage["properties"]["formJsonSchemaFilename"] == "triage.schema.json"
    old_spec = json.dumps(versions[0].spec_document, sort_keys=True, ensure_ascii=False)
    new_spec = json.dumps(versions[1].spec_document, sort_keys=True, ensure_ascii=False)
    assert new_spec.count("受理审核") >= 1
    assert new_spec.replace("受理审核", "受理立案") == old_spec
    assert versions[1].content_hash != versions[0].content_hash
    with live_server.app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "process.deployed", AuditEvent.actor_label == "designer1"
            )
        ).scalar_one()
        assert event.after is not None and event.after["version"] == 2

    # the versions page lists it, and the diff shows the renamed label
    page.click("#deployed-version-link")
    page.wait_for_selector('#modeler[data-ready="true"]')
    page.goto(f"{live_server.url}/design/processes/case_handling")
    assert page.locator('tr[data-version="2"]').count() == 1
    page.goto(f"{live_server.url}/design/processes/case_handling/diff?a=1&b=2&view=text")
    assert "受理审核" in page.inner_text("#xml-diff")


def test_validation_problems_are_marked_on_the_canvas_and_nothing_is_deployed(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    _open_modeler(page, live_server)
    broken = CASE_HANDLING.read_text(encoding="utf-8").replace(
        '<spiffworkflow:property name="candidateRoles" value="dispatcher" />',
        '<spiffworkflow:property name="candidateRoles" value="night_watch" />',
        1,
    )
    page.evaluate("xml => window.gridcaseModeler.importXML(xml)", broken)
    page.click("#validate-button")
    page.wait_for_selector('.djs-element.gc-error[data-element-id="triage"]')
    assert "night_watch" in page.inner_text("#modeler-problems")
    screenshot(page, "designer_validation")
    page.click("#deploy-button")
    page.wait_for_selector("#modeler-status.status-error")
    assert page.locator('li.problem[data-element-id="triage"]').count() == 1
    assert [v.version for v in _versions(live_server)] == [1]


def test_form_editor_previews_while_typing_and_saves(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    forms_folder = seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/forms")
    page.click('tr[data-form="triage.schema.json"] a')
    page.wait_for_selector("#form-preview [data-schemapath='root.triage_note']")
    page.wait_for_selector("#form-status.status-ok")

    source = page.input_value("#schema-source")
    page.fill("#schema-source", source.replace("受理备注", "受理说明"))
    page.wait_for_function("() => document.querySelector('#form-preview').innerText.includes('受理说明')")
    # a schema the registry would refuse: the check says so, the preview stays
    page.fill(
        "#schema-source", source.replace('"additionalProperties": false', '"additionalProperties": true')
    )
    page.wait_for_selector("#form-status.status-error")
    assert "additionalProperties" in page.inner_text("#form-problems")

    page.fill("#schema-source", source.replace("受理备注", "受理说明"))
    page.wait_for_selector("#form-status.status-ok")
    screenshot(page, "designer_form_editor")
    opened = page.get_attribute("#form-editor", "data-base-hash")
    page.click("#save-form-button")
    page.wait_for_function("h => document.querySelector('#form-editor').dataset.baseHash !== h", arg=opened)
    saved = (forms_folder / "triage.schema.json").read_text(encoding="utf-8")
    assert "受理说明" in saved and "受理备注" not in saved
    with live_server.app.app_context():
        assert (
            db.session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "form.saved", AuditEvent.entity_id == "triage.schema.json"
                )
            )
            .scalar_one()
            .actor_label
            == "designer1"
        )


def test_problems_are_marked_live_as_the_designer_works(
    live_server: LiveServer, page_as: Callable[..., Any], tmp_path: Path
) -> None:
    """No validate button pressed: a change that breaks a condition is marked by the deploy's own checks a
    moment later, with the element's name; undoing it clears the mark."""
    seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    _open_modeler(page, live_server)
    page.evaluate(
        """() => {
            const modeler = window.gridcaseModeler;
            const flow = modeler.get('elementRegistry').get('flow_reject');
            const expression = modeler.get('moddle').create('bpmn:FormalExpression', { body: 'import os' });
            modeler.get('modeling').updateProperties(flow, { conditionExpression: expression });
        }"""
    )
    # SpiffWorkflow keeps a flow's condition on its gateway: the gateway is the element named.
    page.wait_for_selector('.djs-element.gc-error[data-element-id="gw_triage"]')
    problem = page.inner_text('li.problem[data-element-id="gw_triage"]')
    assert problem.startswith("受理结论") and "条件不能通过检查" in problem
    page.evaluate("() => window.gridcaseModeler.get('commandStack').undo()")
    page.wait_for_selector("#modeler-status.status-ok")
    assert page.locator(".djs-element.gc-error").count() == 0
    assert [v.version for v in _versions(live_server)] == [1]
