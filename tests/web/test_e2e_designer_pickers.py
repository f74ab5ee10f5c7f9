"""The properties panel's pickers in headless Chromium: a call activity's called process and its version
binding (部署时的版本 / 最新发布版本, each explained in one line), and a business rule task's decision picked
from the deployed tables; the deployed version stores what was picked, never typed as XML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy
from app.workflow.models import ProcessDefinition
from tests.web.conftest import LiveServer
from tests.web.seed import seed_designer
from tests.web.test_e2e_designer_properties import _place, _rename, _select

KEY = "noise_route"


def _entry_text(page: Any, entry: str) -> str:
    return str(page.inner_text(f'[data-entry-id="{entry}"]'))


def test_designer_picks_the_call_binding_and_the_decision_in_the_panel(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    with live_server.app.app_context():
        table = PROJECT_ROOT / "bpmn" / "sensor_alarm_route.dmn"
        rules = live_server.app.extensions["gridcase.deploy_rules"]()
        deploy.deploy_file(table.name, table.read_bytes(), rules)
        db.session.commit()
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes")
    page.fill("#new-process-key", KEY)
    page.fill("#new-process-name", "噪音分流")
    page.click("#new-process-button")
    page.wait_for_selector('#modeler[data-ready="true"]')
    ids = _place(
        page,
        """
        const call = autoPlace.append(registry.get('start'), shape('bpmn:CallActivity'));
        const rule = autoPlace.append(call, shape('bpmn:BusinessRuleTask'));
        const end = autoPlace.append(rule, shape('bpmn:EndEvent'));
        return { call: call.id, rule: rule.id, end: end.id };
        """,
    )

    # The call activity: the called process from the deployed ones, the binding with its explanation.
    _rename(page, ids["call"], "handle_case", "办理案件")
    page.select_option("#bio-properties-panel-gc-called-element", "case_handling")
    assert page.input_value("#bio-properties-panel-gc-binding") == "deployment"  # the default
    assert "运行本流程部署时被调用流程的版本(默认)" in _entry_text(page, "gc-binding")
    page.select_option("#bio-properties-panel-gc-binding", "latest")
    page.wait_for_function(
        """() => document.querySelector('[data-entry-id="gc-binding"]').innerText
            .includes('调用开始时被调用流程的最新发布版本')"""
    )
    assert "版本绑定" in _entry_text(page, "gc-binding")
    screenshot(page, "designer-properties-call")

    # The business rule task: a decision of a deployed table, with the table named under the picker.
    _rename(page, ids["rule"], "route", "分流")
    options = page.locator("#bio-properties-panel-gc-decision option").all_inner_texts()
    assert "报警分流:先电话核实还是直接派遣 (sensor_alarm_route)" in options
    page.select_option("#bio-properties-panel-gc-decision", "sensor_alarm_route")
    page.wait_for_function(
        """() => document.querySelector('[data-entry-id="gc-decision"]').innerText.includes('位于决策表')"""
    )
    screenshot(page, "designer-properties-decision")
    _rename(page, ids["end"], "end", "结束")

    page.click("#validate-button")
    page.wait_for_selector("#modeler-status.status-ok")
    page.click("#deploy-button")
    page.wait_for_url(f"**/design/processes/{KEY}/edit?version=1")
    page.wait_for_selector('#modeler[data-ready="true"]')
    with live_server.app.app_context():
        definition = db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.key == KEY)
        ).scalar_one()
        xml = definition.bpmn_xml
        assert 'calledElement="case_handling"' in xml
        assert '<spiffworkflow:property name="calledElementBinding" value="latest"' in xml
        assert "<spiffworkflow:calledDecisionId>sensor_alarm_route</spiffworkflow:calledDecisionId>" in xml

    # Version 1 opened again: the panel reads the picks back; 部署时的版本 again removes the property.
    _select(page, "handle_case")
    assert page.input_value("#bio-properties-panel-gc-binding") == "latest"
    page.select_option("#bio-properties-panel-gc-binding", "deployment")
    saved = page.evaluate("async () => (await window.gridcaseModeler.saveXML()).xml")
    assert "calledElementBinding" not in saved and 'calledElement="case_handling"' in saved
    _select(page, "route")
    assert page.input_value("#bio-properties-panel-gc-decision") == "sensor_alarm_route"


def test_the_checks_mark_their_elements_and_the_parsers_refusal_reads_in_chinese(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes/case_handling/edit")
    page.wait_for_selector('#modeler[data-ready="true"]')
    page.evaluate(
        """() => {
            const m = window.gridcaseModeler;
            const triage = m.get('elementRegistry').get('triage');
            m.get('canvas').viewbox({ x: triage.x - 180, y: triage.y - 200, width: 1000, height: 560 });
        }"""
    )

    # A gateway flow left without its condition: SpiffWorkflow's parser refuses it; the page says so in
    # Chinese on the flow, with the parser's English text folded under it.
    _select(page, "flow_duplicate")
    page.fill("#bio-properties-panel-gc-condition", "")
    page.press("#bio-properties-panel-gc-condition", "Tab")  # the live check runs 1.2 s after an edit
    item = page.wait_for_selector('#modeler-problems li[data-element-id="flow_duplicate"]')
    assert "排他网关的这条出口连线既没有条件,也不是网关的默认连线" in item.inner_text()
    assert "重复案件" in item.inner_text()
    error = page.wait_for_selector('[data-entry-id="gc-condition"] .bio-properties-panel-error')
    assert "既没有条件" in error.inner_text()  # on the flow's condition field too (its label was clicked)
    original = page.text_content("#modeler-problems details.problem-original code") or ""
    assert "Non-default exclusive outgoing sequence flow without condition" in original
    page.click('#modeler-problems li[data-element-id="flow_duplicate"] strong')  # selects the flow
    page.click("#modeler-problems details.problem-original summary")
    page.wait_for_selector("#modeler-problems details.problem-original[open]")
    screenshot(page, "designer-checks-parser")

    # Three problems of gridcase's own checks at once, each on its element and in the list.
    page.fill("#bio-properties-panel-gc-condition", 'triage_decision = "duplicate"')
    page.press("#bio-properties-panel-gc-condition", "Tab")
    _select(page, "triage")
    page.select_option("#bio-properties-panel-gc-form", "")
    _select(page, "dispatch")
    checked = page.locator('[data-entry-id^="gc-role-"] input[type="checkbox"]:checked')
    while checked.count():  # each click redraws the panel's entries
        checked.first.click()
    page.wait_for_load_state("networkidle")
    page.click("#validate-button")
    page.wait_for_function("() => document.querySelectorAll('#modeler-problems li').length === 3")
    marked = page.eval_on_selector_all(
        ".djs-element.gc-error", "nodes => nodes.map(n => n.dataset.elementId).sort()"
    )
    assert marked == ["dispatch", "gw_triage", "triage"]
    problems = page.inner_text("#modeler-problems")
    assert "用户任务缺少属性 formJsonSchemaFilename" in problems
    assert "用户任务缺少属性 candidateRoles" in problems
    assert "条件不能通过检查" in problems
    _select(page, "triage")
    error = page.inner_text('[data-entry-id="gc-form"] .bio-properties-panel-error')
    assert "用户任务缺少属性 formJsonSchemaFilename" in error
    screenshot(page, "designer-checks")
    with live_server.app.app_context():
        versions = db.session.execute(
            select(ProcessDefinition.version).where(ProcessDefinition.key == "case_handling")
        ).scalars()
        assert list(versions) == [1]  # checking stores nothing
