"""Deployment (versions by content, errors that name file and line) and the runtime (versions of running
instances, message start events, sandboxed scripts, instance state for diagrams, timers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.cases.models import Case
from app.clock import as_utc
from app.config import PROJECT_ROOT
from app.errors import InvalidInput
from app.extensions import db
from app.workflow import deploy
from app.workflow.models import EngineIncident, HumanTask, ProcessDefinition, ProcessInstance, TaskStatus
from tests.conftest import START
from tests.factories import create_case
from tests.helpers import after_working_hours, complete, report, upload_photo, walk_to
from tests.probes import definitions, deploy_diagram, upload_diagram, user_task

CASE_BPMN = PROJECT_ROOT / "bpmn" / "case_handling.bpmn"

SENSOR_PROCESS = """  <bpmn:message id="msg_sensor_alarm" name="sensor_alarm" />
  <bpmn:process id="sensor_alarm_handling" name="传感器告警" isExecutable="true">
    <bpmn:startEvent id="alarm_received" name="告警">
      <bpmn:outgoing>flow_1</bpmn:outgoing>
      <bpmn:messageEventDefinition id="alarm_received_message" messageRef="msg_sensor_alarm">
        <bpmn:extensionElements>
          <spiffworkflow:messageVariable>alarm</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="alarm_received" targetRef="summarize" />
    <bpmn:scriptTask id="summarize" name="汇总">
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="flow_2" sourceRef="summarize" targetRef="check_alarm" />
{check_alarm}
    <bpmn:sequenceFlow id="flow_3" sourceRef="check_alarm" targetRef="done" />
    <bpmn:endEvent id="done"><bpmn:incoming>flow_3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>"""
CHECK_ALARM = user_task(
    "check_alarm",
    "flow_2",
    "flow_3",
    {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"},
    name="核查告警",
)
ALARM = {"sensor": "A", "level": 1}
GOOD_SCRIPT = 'level = alarm["level"]\nsummary = f"{alarm[\'sensor\']}: level {level}"\nchecked_at = now()'


def _sensor_bpmn(script: str = GOOD_SCRIPT) -> bytes:
    escaped = script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    process = SENSOR_PROCESS.replace("{script}", escaped).replace("{check_alarm}", CHECK_ALARM)
    return definitions("sensor_definitions", process).encode()


def _rules(app):
    return app.extensions["gridcase.deploy_rules"]()


def _instance(case_key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.execute(
        select(ProcessInstance).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == case_key)
    ).scalar_one()


def _renamed_case_bpmn() -> bytes:
    """case_handling with changed name attributes (the process and the dispatch task): a new version."""
    content = CASE_BPMN.read_bytes()
    changed = content.replace(
        'name="案件处置流程" isExecutable="true"'.encode(),
        'name="案件处置流程 第二版" isExecutable="true"'.encode(),
    )
    changed = changed.replace(
        '<bpmn:userTask id="dispatch" name="派遣">'.encode(),
        '<bpmn:userTask id="dispatch" name="派遣 v2">'.encode(),
    )
    assert changed.count("第二版".encode()) == 1 and changed.count(b"v2") == 1
    return changed


# -- deployment ------------------------------------------------------------------------------------


def test_same_content_is_the_same_version(app):
    [first] = deploy_diagram("case_handling.bpmn", CASE_BPMN.read_bytes())
    assert first.created is True
    assert (first.definition.key, first.definition.version) == ("case_handling", 1)
    assert first.definition.name == "案件处置流程"
    assert "triage" in [t["element_id"] for t in first.definition.user_tasks]

    [again] = deploy_diagram("case_handling.bpmn", CASE_BPMN.read_bytes())
    assert again.created is False
    assert again.definition.id == first.definition.id
    assert again.definition.version == 1
    assert db.session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one() == 1


def test_changed_content_is_a_new_version(app):
    [v1] = deploy_diagram("case_handling.bpmn", CASE_BPMN.read_bytes())
    [v2] = deploy_diagram("case_handling.bpmn", _renamed_case_bpmn())
    assert v2.created is True
    assert v2.definition.version == 2
    assert v2.definition.name == "案件处置流程 第二版"
    assert v2.definition.content_hash != v1.definition.content_hash
    assert deploy.latest_definition("case_handling").id == v2.definition.id
    # Both versions stay, with their own XML.
    assert "第二版" not in deploy.definition_xml("case_handling", 1)
    assert "第二版" in deploy.definition_xml("case_handling", 2)
    # Deploying v1's bytes again finds v1; it does not make a third version.
    [back] = deploy_diagram("case_handling.bpmn", CASE_BPMN.read_bytes())
    assert back.created is False
    assert back.definition.version == 1


def test_running_instance_stays_on_its_version(app, client, auth, users, deployed):
    old = report(client, auth, title="旧版本案件")["key"]
    v1_id = _instance(old).definition_id
    complete(client, auth, "dispatcher", old, "triage", {"triage_decision": "accept"})

    [v2] = deploy_diagram("case_handling.bpmn", _renamed_case_bpmn())
    assert v2.created and v2.definition.version == 2

    new = report(client, auth, title="新版本案件")["key"]
    assert _instance(new).definition_id == v2.definition.id
    complete(client, auth, "dispatcher", new, "triage", {"triage_decision": "accept"})
    names = dict(
        db.session.execute(
            select(Case.key, HumanTask.name)
            .join(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.element_id == "dispatch")
        ).all()
    )
    assert names == {old: "派遣", new: "派遣 v2"}

    # The old instance runs to its end on v1.
    walk_rest = [
        ("dispatcher", "dispatch", {"handler_user": "worker", "time_limit_hours": 24}),
        ("worker", "handle", {"handle_result": "resolved", "handle_description": "已清理"}),
    ]
    for who, element, data in walk_rest:
        complete(client, auth, who, old, element, data)
    photo = upload_photo(client, auth, "worker", old)
    complete(client, auth, "worker", old, "photo_proof", {"after_photos": [photo["id"]]})
    result = complete(client, auth, "supervisor", old, "review", {"review_decision": "approve"})
    assert result["case_status"] == "closed"
    assert result["instance_status"] == "completed"
    instance = _instance(old)
    assert instance.definition_id == v1_id
    assert instance.status == "completed"
    response = client.get(f"/api/v1/process-instances/{instance.id}", headers=auth("dispatcher"))
    assert response.get_json()["version"] == 1
    assert _instance(new).status == "running"


def test_xml_syntax_error_names_file_and_line(app):
    broken = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
        b'  <bpmn:process id="broken" isExecutable="true">\n'
        b'    <bpmn:startEvent id="start">\n'
        b"  </bpmn:process>\n"
        b"</bpmn:definitions>\n"
    )
    with pytest.raises(InvalidInput) as excinfo:
        deploy.deploy_file("broken.bpmn", broken, _rules(app))
    error = excinfo.value
    assert error.details["file"] == "broken.bpmn"
    assert error.details["line"] == 5
    assert "broken.bpmn line 5" in error.message
    assert "not well-formed" in error.message
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one() == 0


def test_xml_syntax_error_through_the_api(client, auth, users):
    response = upload_diagram(client, auth, "designer", b"<bpmn:definitions>\n<oops>\n", "oops.bpmn")
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert details["file"] == "oops.bpmn"
    assert isinstance(details["line"], int) and details["line"] >= 1
    assert "oops.bpmn line" in response.get_json()["message"]


# -- message start events, scripts -----------------------------------------------------------------


def test_message_starts_a_process(app, client, auth, users):
    [result] = deploy_diagram("sensor_alarm.bpmn", _sensor_bpmn())
    assert result.definition.start_messages == ["sensor_alarm"]

    payload = {"sensor": "WL-07", "level": 3}
    response = client.post(
        "/api/v1/messages", json={"name": "sensor_alarm", "payload": payload}, headers=auth("dispatcher")
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "running"
    assert body["process_key"] == "sensor_alarm_handling"
    assert body["case_key"] is None
    assert body["active_element_ids"] == ["check_alarm"]
    assert {"alarm_received", "summarize"} <= set(body["completed_element_ids"])

    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == body["id"])).scalar_one()
    assert (task.element_id, task.status, task.roles) == ("check_alarm", TaskStatus.READY, ["supervisor"])
    assert task.form_key == "review.schema.json"
    inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth("supervisor")).get_json()["items"]
    assert [t["id"] for t in inbox] == [task.id]
    detail = client.get(f"/api/v1/tasks/{task.id}", headers=auth("supervisor"))
    assert detail.status_code == 200, detail.get_json()
    data = detail.get_json()["data"]
    assert data["alarm"] == payload
    # The script task ran in the sandbox and wrote its variables back.
    assert data["level"] == 3
    assert data["summary"] == "WL-07: level 3"
    assert data["checked_at"] == START.isoformat()

    done = client.post(
        f"/api/v1/tasks/{task.id}/complete",
        json={"data": {"review_decision": "approve"}},
        headers=auth("supervisor"),
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["instance_status"] == "completed"


def test_unknown_start_message_is_404(app, client, auth, users):
    deploy_diagram("sensor_alarm.bpmn", _sensor_bpmn())
    response = client.post("/api/v1/messages", json={"name": "no_such_message"}, headers=auth("dispatcher"))
    assert response.status_code == 404
    assert db.session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0


def test_a_message_starts_only_the_current_version(app, client, auth, users):
    deploy_diagram("sensor_alarm.bpmn", _sensor_bpmn())
    # version 2 starts with a plain start event: the message no longer starts anything
    plain = _sensor_bpmn('level = 1\nsummary = "plain start"').decode()
    start = plain[plain.index('<bpmn:startEvent id="alarm_received"') : plain.index("</bpmn:startEvent>")]
    plain = plain.replace(
        start, '<bpmn:startEvent id="alarm_received" name="告警"><bpmn:outgoing>flow_1</bpmn:outgoing>'
    )
    [second] = deploy_diagram("sensor_alarm.bpmn", plain.encode())
    assert second.definition.version == 2 and second.definition.start_messages == []
    response = client.post(
        "/api/v1/messages", json={"name": "sensor_alarm", "payload": ALARM}, headers=auth("dispatcher")
    )
    assert response.status_code == 404, response.get_json()
    assert db.session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0


def test_message_to_an_instance_not_waiting_for_it_is_409(app, client, auth, users, deployed):
    deploy_diagram("sensor_alarm.bpmn", _sensor_bpmn())
    started = client.post(
        "/api/v1/messages", json={"name": "sensor_alarm", "payload": ALARM}, headers=auth("dispatcher")
    ).get_json()
    # The sensor instance waits on a user task, not on a message.
    response = client.post(
        "/api/v1/messages",
        json={"name": "sensor_alarm", "instance_id": started["id"]},
        headers=auth("dispatcher"),
    )
    assert response.status_code == 409
    assert response.get_json()["details"] == {"message": "sensor_alarm"}

    # A case past triage no longer waits for the withdrawal message.
    key = create_case(client, auth, "dispatch")
    instance = _instance(key)
    before = instance.state
    response = client.post(
        "/api/v1/messages",
        json={"name": "report_withdrawn", "instance_id": instance.id},
        headers=auth("dispatcher"),
    )
    assert response.status_code == 409
    assert _instance(key).state == before
    response = client.post(
        "/api/v1/messages", json={"name": "report_withdrawn", "business_key": key}, headers=auth("dispatcher")
    )
    assert response.status_code == 409
    assert (
        client.post(
            "/api/v1/messages",
            json={"name": "report_withdrawn", "instance_id": 999},
            headers=auth("dispatcher"),
        ).status_code
        == 404
    )


def test_script_with_import_is_refused_at_deploy(app, client, auth, users):
    content = _sensor_bpmn("import os\nlevel = os.getcwd()")
    with pytest.raises(InvalidInput) as excinfo:
        deploy.deploy_file("sensor_alarm.bpmn", content, _rules(app))
    assert excinfo.value.details["element_id"] == "summarize"
    assert excinfo.value.details["file"] == "sensor_alarm.bpmn"
    assert "summarize" in excinfo.value.message
    db.session.rollback()

    response = upload_diagram(client, auth, "designer", content, "sensor_alarm.bpmn")
    assert response.status_code == 422
    body = response.get_json()
    assert body["details"]["element_id"] == "summarize"
    assert "Import" in body["message"] or "import" in body["message"]
    assert db.session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one() == 0


def test_script_refused_at_runtime_parks_the_instance_with_an_incident(app, client, auth, users):
    """A script that compiles but calls a forbidden builtin fails its step: the started instance is kept,
    parked with an incident naming the element; the caller gets 200 with the notice, not the reason."""
    deploy_diagram("sensor_alarm.bpmn", _sensor_bpmn('level = open("/etc/passwd")'))
    response = client.post(
        "/api/v1/messages", json={"name": "sensor_alarm", "payload": ALARM}, headers=auth("dispatcher")
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "error"
    assert body["notice"]["code"] == "incident_opened"
    assert "open" not in body["notice"]["message"]
    db.session.rollback()
    instance = db.session.execute(select(ProcessInstance)).scalar_one()
    incident = db.session.execute(select(EngineIncident)).scalar_one()
    assert (instance.status, incident.instance_id) == ("error", instance.id)
    assert (incident.kind, incident.element_id, incident.element_name) == ("message", "summarize", "汇总")
    assert "open" in incident.reason


# -- instance state and timers ---------------------------------------------------------------------


def test_instance_state_for_the_diagram(client, auth, users, deployed):
    key = create_case(client, auth, "dispatch")
    instance = _instance(key)
    response = client.get(f"/api/v1/process-instances/{instance.id}", headers=auth("dispatcher"))
    assert response.status_code == 200
    body = response.get_json()
    assert "dispatch" in body["active_element_ids"]
    assert {"start_report", "triage", "gw_triage", "propose_handler"} <= set(body["completed_element_ids"])
    assert not set(body["active_element_ids"]) & set(body["completed_element_ids"])
    assert "handle" not in body["active_element_ids"] + body["completed_element_ids"]
    assert body["case_key"] == key
    assert body["version"] == 1
    assert body["status"] == "running"


def test_next_timer_is_the_warning_after_dispatch(client, auth, users, deployed, clock):
    key = report(client, auth)["key"]
    assert _instance(key).next_timer_at is None
    clock.advance(minutes=30)
    walk_to(client, auth, key, "handle", hours=10)
    dispatched_at = START + timedelta(minutes=30)
    instance = _instance(key)
    # WARNING_FRACTION 0.8 of 10 working hours (Monday 17:30 CST: the clock starts Tuesday 08:30)
    warn_at = after_working_hours(dispatched_at, 8)
    assert warn_at == datetime(2026, 11, 4, 1, 0, tzinfo=UTC)  # Wednesday 09:00 CST
    assert as_utc(instance.next_timer_at) == warn_at
    case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
    assert as_utc(case.due_at) == after_working_hours(dispatched_at, 10)
    assert as_utc(instance.next_timer_at) < as_utc(case.due_at)
    body = client.get(f"/api/v1/process-instances/{instance.id}", headers=auth("dispatcher")).get_json()
    assert as_utc(_parse(body["next_timer_at"])) == warn_at
    assert {"handle", "timer_warn", "timer_overdue"} <= set(body["active_element_ids"])


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)
