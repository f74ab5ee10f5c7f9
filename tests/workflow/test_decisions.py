"""DMN decision tables deploy and version like BPMN, and an instance decides with the tables that were newest
when it started: a table deployed later changes the decision of the next instance, never of a running one.
The shipped table ``bpmn/sensor_alarm_route.dmn`` (called by ``bpmn/sensor_alarm.bpmn``) is the one used."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import runtime
from app.audit.models import AuditEvent
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import instances
from app.workflow.engine import SpecCache
from app.workflow.live import live_workflows
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance, TaskStatus
from tests.probes import definitions, deploy_diagram, upload_diagram, user_task

ROUTE_DMN = (PROJECT_ROOT / "bpmn" / "sensor_alarm_route.dmn").read_text(encoding="utf-8")
# The designer's edit: orange alarms (a water leak) are dispatched at once, without the call first.
ORANGE_DISPATCHED = ROUTE_DMN.replace('<text>!= "red"</text>', '<text>? not in ("red", "orange")</text>')
FORM = {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"}
WATER_LEAK = {"case_kind": "alarm", "severity": "orange", "resident_phone": "13800000001"}


def _triage_bpmn() -> bytes:
    """A look, then the shipped decision, then a second look that shows what it decided."""
    return definitions(
        "alarm_triage_definitions",
        f"""  <bpmn:process id="alarm_triage" name="报警分流试验" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="look" />
{user_task("look", "f1", "f2", FORM, name="先看一眼")}
    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="decide" />
    <bpmn:businessRuleTask id="decide" name="分流">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>sensor_alarm_route</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f3" sourceRef="decide" targetRef="after" />
{user_task("after", "f3", "f4", FORM, name="看结果")}
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def _start(variables: dict[str, Any]) -> ProcessInstance:
    outcome = instances.start_instance("alarm_triage", business_key=None, variables=variables)
    db.session.commit()
    return outcome.instance


def _open_task(instance: ProcessInstance, element_id: str) -> HumanTask:
    return db.session.execute(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id,
            HumanTask.element_id == element_id,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalar_one()


def _decided_route(client: Any, auth: Any, instance: ProcessInstance) -> Any:
    """Complete the first look; the route the decision put in the data the second look shows."""
    look = _open_task(instance, "look")
    done = client.post(
        f"/api/v1/tasks/{look.id}/complete",
        json={"data": {"review_decision": "approve"}},
        headers=auth("supervisor"),
    )
    assert done.status_code == 200, done.get_json()
    db.session.refresh(instance)
    assert instance.status == "running", instance.error
    after = _open_task(instance, "after")
    return client.get(f"/api/v1/tasks/{after.id}", headers=auth("supervisor")).get_json()["data"].get("route")


def _dmn_versions() -> list[tuple[int, str]]:
    return [
        (d.version, d.kind)
        for d in db.session.execute(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == "sensor_alarm_route")
            .order_by(ProcessDefinition.version)
        ).scalars()
    ]


def test_the_shipped_table_routes_alarms(app, client, auth, users):
    deploy_diagram("sensor_alarm_route.dmn", ROUTE_DMN.encode())
    deploy_diagram("alarm_triage.bpmn", _triage_bpmn())
    cases = [
        (WATER_LEAK, "call"),
        ({**WATER_LEAK, "severity": "red"}, "dispatch"),
        ({**WATER_LEAK, "resident_phone": ""}, "dispatch"),
        ({**WATER_LEAK, "resident_phone": None}, "dispatch"),
        ({**WATER_LEAK, "case_kind": "maintenance"}, "dispatch"),
    ]
    for variables, route in cases:
        assert _decided_route(client, auth, _start(variables)) == route, variables


def test_a_dmn_deploys_and_versions_like_bpmn(app, client, auth, users):
    response = upload_diagram(client, auth, "designer", ROUTE_DMN.encode(), "sensor_alarm_route.dmn")
    assert response.status_code == 201, response.get_json()
    again = upload_diagram(client, auth, "designer", ROUTE_DMN.encode(), "sensor_alarm_route.dmn")
    assert again.status_code in (200, 201), again.get_json()
    assert _dmn_versions() == [(1, "dmn")]  # the same bytes: the same version
    edited = upload_diagram(client, auth, "designer", ORANGE_DISPATCHED.encode(), "sensor_alarm_route.dmn")
    assert edited.status_code == 201, edited.get_json()
    assert _dmn_versions() == [(1, "dmn"), (2, "dmn")]
    deployed = db.session.execute(
        select(AuditEvent.after).where(AuditEvent.action == "process.deployed").order_by(AuditEvent.id)
    ).scalars()
    assert [(a["key"], a["version"]) for a in deployed] == [
        ("sensor_alarm_route", 1),
        ("sensor_alarm_route", 2),
    ]


def test_a_table_deployed_later_decides_for_the_next_instance_not_a_running_one(app, client, auth, users):
    first = deploy_diagram("sensor_alarm_route.dmn", ROUTE_DMN.encode())[0].definition
    deploy_diagram("alarm_triage.bpmn", _triage_bpmn())
    running = _start(WATER_LEAK)  # waits on its first look: it has not decided yet
    assert running.decision_bindings == {"sensor_alarm_route": first.id}

    second = deploy_diagram("sensor_alarm_route.dmn", ORANGE_DISPATCHED.encode())[0].definition
    assert (second.key, second.version) == ("sensor_alarm_route", 2)
    following = _start(WATER_LEAK)
    assert following.decision_bindings == {"sensor_alarm_route": second.id}
    # What an instance decides with is stored: a fresh process (no cached spec, no live workflow) reads it.
    app.extensions["gridcase.spec_cache"] = SpecCache()
    live_workflows().clear()
    assert runtime.spec_cache() is app.extensions["gridcase.spec_cache"]

    assert _decided_route(client, auth, running) == "call"  # the table it started with
    assert _decided_route(client, auth, following) == "dispatch"  # the table deployed before it started
    started = {
        e.entity_id: e.after
        for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "instance.started")
        ).scalars()
    }
    assert started[str(running.id)]["decision_bindings"] == {"sensor_alarm_route": first.id}
    assert started[str(following.id)]["decision_bindings"] == {"sensor_alarm_route": second.id}


def test_a_process_without_decisions_binds_nothing(app, client, auth, users):
    deploy_diagram("sensor_alarm_route.dmn", ROUTE_DMN.encode())
    deploy_diagram("alarm_triage.bpmn", _triage_bpmn())
    plain = _triage_bpmn().replace(b"alarm_triage", b"plain_look")
    start, end = plain.index(b"    <bpmn:businessRuleTask"), plain.index(b"</bpmn:businessRuleTask>") + 24
    plain = (
        plain[:start]
        + b'    <bpmn:task id="decide"><bpmn:incoming>f2</bpmn:incoming>'
        + (b"<bpmn:outgoing>f3</bpmn:outgoing></bpmn:task>" + plain[end:])
    )
    deploy_diagram("plain_look.bpmn", plain)
    outcome = instances.start_instance("plain_look", business_key=None, variables={})
    db.session.commit()
    assert outcome.instance.decision_bindings is None


def test_a_cell_starting_with_a_word_is_refused_at_deploy(app, client, auth, users):
    """SpiffWorkflow joins such a cell to the input without a space ("severitynot in …"): it would fail only
    when an instance reaches the table, so the deploy names it and says how to write it."""
    unjoinable = ROUTE_DMN.replace('<text>!= "red"</text>', '<text>not in ("red", "orange")</text>')
    response = upload_diagram(client, auth, "designer", unjoinable.encode(), "sensor_alarm_route.dmn")
    assert response.status_code == 422
    [problem] = response.get_json()["details"]["problems"]
    assert problem["element_id"] == "sensor_alarm_route"
    assert problem["reason"].startswith(
        'decision table rule 1, input 2: \'not in ("red", "orange")\' starts with'
    )
    assert problem["message"].endswith('写作 ? not in ("red", "orange")')
    assert _dmn_versions() == []
