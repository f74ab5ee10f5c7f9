"""The properties panel in headless Chromium: a designer builds a new process from an empty canvas with the
palette's shapes (placed through the bpmn-js calls the palette and context pad make) and sets every property
in the panel, never in XML; deploys it as version 1; then sees the sandbox's problem on the condition field
while typing a bad condition."""

from __future__ import annotations

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

KEY = "noise_complaint"


def _place(page: Any, script: str) -> Any:
    """Shapes go on the canvas through the calls the palette and the context pad make (autoPlace.append,
    modeling.createShape with attach for a boundary event): the page has no other control for it."""
    return page.evaluate(
        """script => {
            const m = window.gridcaseModeler;
            const registry = m.get('elementRegistry'), factory = m.get('elementFactory');
            const autoPlace = m.get('autoPlace'), modeling = m.get('modeling');
            const shape = (type, extra) => factory.createShape(Object.assign({ type }, extra || {}));
            return new Function('registry', 'shape', 'autoPlace', 'modeling', script)(
                registry, shape, autoPlace, modeling);
        }""",
        script,
    )


def _select(page: Any, element_id: str) -> None:
    """Click the element where a person would: a shape's centre, a flow's first segment."""
    point = page.evaluate(
        """id => {
            const m = window.gridcaseModeler;
            const el = m.get('elementRegistry').get(id);
            const canvas = m.get('canvas');
            canvas.scrollToElement(el, { top: 80, bottom: 80, left: 200, right: 80 });  // off the palette
            const box = canvas.viewbox(), rect = canvas.getContainer().getBoundingClientRect();
            const at = el.waypoints
                ? { x: (el.waypoints[0].x + el.waypoints[1].x) / 2,
                    y: (el.waypoints[0].y + el.waypoints[1].y) / 2 }
                : { x: el.x + el.width / 2, y: el.y + el.height / 2 };
            return { x: rect.left + (at.x - box.x) * box.scale, y: rect.top + (at.y - box.y) * box.scale,
                     emptyX: rect.right - 60, emptyY: rect.top + 60 };
        }""",
        element_id,
    )
    page.mouse.click(point["emptyX"], point["emptyY"])  # first away: the context pad may cover the target
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function(
        "id => document.querySelector('#bio-properties-panel-id')?.value === id", arg=element_id
    )


def _type(page: Any, entry: str, value: str) -> None:
    field = page.locator(f"#bio-properties-panel-{entry}")
    field.fill(value)
    field.press("Tab")


def _rename(page: Any, element_id: str, new_id: str, name: str) -> None:
    _select(page, element_id)
    _type(page, "name", name)
    _type(page, "id", new_id)
    page.wait_for_selector(f'.djs-element[data-element-id="{new_id}"]', state="attached")


def test_designer_builds_a_new_process_with_the_properties_panel(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes")

    # A key already taken is refused, on the field.
    page.fill("#new-process-key", "case_handling")
    page.click("#new-process-button")
    assert "case_handling" in page.inner_text("#new-process-key-error")
    screenshot(page, "designer-new-process")
    page.fill("#new-process-key", KEY)
    page.fill("#new-process-name", "噪音投诉核查")
    page.click("#new-process-button")
    page.wait_for_selector('#modeler[data-ready="true"]')
    assert page.locator('.djs-element[data-element-id="start"]').count() == 1
    # bpmn-js in Chinese: the palette's tooltips come from our dictionary.
    assert page.get_attribute('.djs-palette [data-action="create.task"]', "aria-label") == "创建任务"

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
        const flows = gateway.outgoing.map(f => f.id);
        return { task: task.id, gateway: gateway.id, done: done.id, again: again.id, timer: timer.id,
                 late: late.id, flows };
        """,
    )

    # The user task: id, name, form and candidate roles, all in the panel.
    _rename(page, ids["task"], "verify_noise", "核实噪音")
    print("PANEL", page.inner_text("#properties-panel"))
    page.select_option("#bio-properties-panel-gc-form", "confirm_clear.schema.json")
    assert "网格员" in page.inner_text('[data-entry-id="gc-role-grid_worker"]')
    page.check("#bio-properties-panel-gc-role-grid_worker")
    page.check("#bio-properties-panel-gc-role-community_staff")
    _type(page, "gc-property-dueAt", "add_hours(now(), 24)")

    _rename(page, ids["gateway"], "is_cleared", "是否消除")
    # Each flow out of the gateway gets its condition typed in the panel.
    flow_cleared, flow_not = ids["flows"]
    _rename(page, flow_cleared, "flow_cleared", "已消除")
    _type(page, "gc-condition", 'clear_decision == "cleared"')
    _rename(page, flow_not, "flow_not_cleared", "未消除")
    _type(page, "gc-condition", 'clear_decision == "not_cleared"')

    # The boundary timer: a duration of two hours, as a quoted ISO 8601 literal.
    _rename(page, ids["timer"], "verify_timeout", "两小时未核实")
    page.select_option("#bio-properties-panel-timerEventDefinitionType", "timeDuration")
    _type(page, "timerEventDefinitionValue", '"PT2H"')
    _rename(page, ids["done"], "end_cleared", "已处理")
    _rename(page, ids["again"], "end_not_cleared", "转人工")
    _rename(page, ids["late"], "end_late", "超时")

    page.click("#validate-button")
    page.wait_for_selector("#modeler-status.status-ok")
    page.click("#deploy-button")
    page.wait_for_url(f"**/design/processes/{KEY}/edit?version=1")
    page.wait_for_selector('#modeler[data-ready="true"]')

    with live_server.app.app_context():
        [definition] = db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.key == KEY)
        ).scalars()
        assert definition.version == 1 and definition.name == "噪音投诉核查"
        [task] = definition.user_tasks
        assert task["element_id"] == "verify_noise" and task["name"] == "核实噪音"
        assert task["properties"]["formJsonSchemaFilename"] == "confirm_clear.schema.json"
        assert task["properties"]["candidateRoles"] == "grid_worker,community_staff"
        assert task["properties"]["dueAt"] == "add_hours(now(), 24)"
        xml = definition.bpmn_xml
        assert 'clear_decision == "cleared"' in xml.replace("&#34;", '"').replace("&quot;", '"')
        assert '"PT2H"' in xml.replace("&#34;", '"').replace("&quot;", '"')
        assert 'attachedToRef="verify_noise"' in xml
        event = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "process.deployed", AuditEvent.entity_id == str(definition.id)
            )
        ).scalar_one()
        assert event.after is not None and event.after["key"] == KEY and event.after["version"] == 1
        assert event.actor_label == "designer1"

    # Version 1 opened again: the panel reads back what was set in it.
    _select(page, "verify_noise")
    assert page.input_value("#bio-properties-panel-gc-form") == "confirm_clear.schema.json"
    assert page.is_checked("#bio-properties-panel-gc-role-grid_worker")
    assert page.is_checked("#bio-properties-panel-gc-role-community_staff")
    assert not page.is_checked("#bio-properties-panel-gc-role-resident")
    screenshot(page, "designer-properties-task")

    # A bad condition typed in the panel: the live check's sandbox problem shows on the field itself.
    _select(page, "flow_cleared")
    _type(page, "gc-condition", "clear_decision.__class__")
    error = page.wait_for_selector('[data-entry-id="gc-condition"] .bio-properties-panel-error')
    assert "__class__" in error.inner_text()
    # the engine keeps the conditions on their gateway: the canvas marks it, the list names it
    page.wait_for_selector('.djs-element.gc-error[data-element-id="is_cleared"]')
    assert "是否消除" in page.inner_text("#modeler-problems")
    page.evaluate(
        """() => {
            const m = window.gridcaseModeler;
            m.get('canvas').zoom('fit-viewport');
        }"""
    )
    screenshot(page, "designer-properties")
    with live_server.app.app_context():
        versions = db.session.execute(
            select(ProcessDefinition.version).where(ProcessDefinition.key == KEY)
        ).scalars()
        assert list(versions) == [1]


def test_shipped_diagrams_keep_their_extensions_and_the_panel_shows_operators_in_either_language(
    live_server: LiveServer, page_as: Callable[..., Any], tmp_path: Path
) -> None:
    seed_designer(live_server.app, tmp_path)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes/case_handling/edit")
    page.wait_for_selector('#modeler[data-ready="true"]')

    # Every spiffworkflow extension of every shipped diagram survives the modeler with our moddle descriptor:
    # none is dropped as an unknown type, and the exported XML has as many as the file.
    for path in sorted((PROJECT_ROOT / "bpmn").glob("*.bpmn")):
        original = path.read_text(encoding="utf-8")
        result = page.evaluate(
            """async xml => {
                const m = window.gridcaseModeler;
                const imported = await m.importXML(xml);
                const saved = await m.saveXML({ format: true });
                return { warnings: imported.warnings.map(w => w.message), xml: saved.xml };
            }""",
            original,
        )
        lost = [w for w in result["warnings"] if "spiffworkflow" in w or "unknown type" in w]
        assert lost == [], path.name
        assert result["xml"].count("<spiffworkflow:") == original.count("<spiffworkflow:"), path.name

    # A service task: its operator picked, the registry's documentation under it, its parameters as lines.
    page.evaluate(
        "xml => window.gridcaseModeler.importXML(xml)",
        (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8"),
    )
    page.evaluate("() => window.gridcaseModeler.get('canvas').zoom('fit-viewport')")
    _select(page, "finish_withdrawn")
    assert page.input_value("#bio-properties-panel-gc-operator") == "case.finish"
    operator_entry = page.inner_text('[data-entry-id="gc-operator"]')
    assert "算子" in operator_entry and "结束案件: set the final status" in operator_entry
    assert page.input_value("#bio-properties-panel-gc-parameters") == 'status = "withdrawn"'

    # English pages: bpmn-js and the panel in English.
    with page.expect_navigation():
        page.click("text=English")
    page.wait_for_selector('#modeler[data-ready="true"]')
    assert page.get_attribute('.djs-palette [data-action="create.task"]', "aria-label") == "Create task"
    _select(page, "triage")
    assert "Task settings" in page.inner_text("#properties-panel")
    assert "Candidate roles" in page.inner_text("#properties-panel")
