"""发起流程 over the API: the catalogue per role, starting with a start form (with and without a case),
field by field refusals that start nothing, roles that may not start, grids, and the start events' deploy
checks."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db
from app.workflow import deploy
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.cases.territory import EAST_GRID, WEST_GRID, assign, build_territory
from tests.factories import app_on_both_backends
from tests.helpers import ensure_catalogue, fingerprint

VISIT = {
    "household": "3栋2单元501 王大爷",
    "household_kind": "elderly_alone",
    "findings": "独居,身体尚好,家中燃气灶老化。",
    "needs_follow_up": "no",
}
START_URL = "/api/v1/startable-processes/visit_record/instances"

app = app_on_both_backends


@pytest.fixture
def leaders(create_user: Any, users: dict[str, Any], deployed: None) -> dict[str, Any]:
    """Two grid leaders: ``leader`` of the east grid, ``leader2`` of both grids; ``stray`` of none."""
    build_territory()
    ensure_catalogue()
    made = {
        "leader": create_user("grid_leader", "leader"),
        "leader2": create_user("grid_leader", "leader2"),
        "stray": create_user("grid_leader", "stray"),
    }
    assign("leader", EAST_GRID)
    assign("leader2", EAST_GRID)
    assign("leader2", WEST_GRID)
    db.session.commit()
    return made


def _start(client: FlaskClient, headers: dict[str, str], data: dict[str, Any], **body: Any) -> Any:
    return client.post(START_URL, json={"data": data, **body}, headers=headers)


def test_the_catalogue_lists_what_each_role_may_start(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    answer = client.get("/api/v1/startable-processes", headers=auth("leader"))
    assert answer.status_code == 200
    body = answer.get_json()
    assert [item["key"] for item in body["items"]] == ["visit_record"]
    item = body["items"][0]
    assert item["name"] == "走访登记"
    assert item["form"] == "visit_record.schema.json"
    assert item["candidate_roles"] == ["grid_leader"]
    assert item["starts_case"] is False and item["case_category"] is None
    assert body["grids"] == [EAST_GRID]
    for other in ("worker", "dispatcher", "designer", "resident"):
        listed = client.get("/api/v1/startable-processes", headers=auth(other)).get_json()
        assert listed["items"] == [], other
    detail = client.get("/api/v1/startable-processes/visit_record", headers=auth("leader")).get_json()
    assert detail["form_schema"]["title"] == "走访登记"
    assert detail["ui_schema"]["ui:order"][0] == "household"


def test_a_visit_without_follow_up_runs_to_its_end_and_is_audited(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    answer = _start(client, auth("leader"), VISIT)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["process_key"] == "visit_record" and body["version"] == 1
    assert body["instance_status"] == InstanceStatus.COMPLETED
    assert body["case_key"] is None and body["first_task"] is None
    assert body["grid_code"] == EAST_GRID
    instance = db.session.get(ProcessInstance, body["instance_id"])
    assert instance is not None and instance.case_id is None and instance.status == InstanceStatus.COMPLETED
    assert db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id)).first() is None
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "process.started_from_form")
    ).scalar_one()
    assert event.actor_id == leaders["leader"].id and event.instance_id == instance.id
    assert event.data["form_data"]["household"] == VISIT["household"]
    assert event.data["form_data"]["follow_up_item"] is None  # every declared field is present
    assert event.data["grid_code"] == EAST_GRID and event.data["version"] == 1
    started = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.action == "instance.started", AuditEvent.instance_id == instance.id
        )
    ).scalar_one()
    assert started.actor_id == leaders["leader"].id


def test_a_visit_with_follow_up_gives_the_starter_the_follow_up_task(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    data = {**VISIT, "needs_follow_up": "yes", "follow_up_item": "联系燃气公司更换软管"}
    body = _start(client, auth("leader"), data).get_json()
    assert body["instance_status"] == InstanceStatus.RUNNING
    task = body["first_task"]
    assert task["element_id"] == "follow_up" and task["status"] == TaskStatus.CLAIMED
    assert task["assignee_id"] == leaders["leader"].id
    row = db.session.get(HumanTask, task["id"])
    assert row is not None and row.grid_code == EAST_GRID and row.case_id is None
    # the task sees the visit's data and completes the process
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=auth("leader")).get_json()
    assert detail["data"]["follow_up_item"] == "联系燃气公司更换软管"
    assert detail["data"]["started_by"] == "leader"
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"follow_up_result": "resolved", "follow_up_note": "已更换燃气软管"}},
        headers=auth("leader"),
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["instance_status"] == InstanceStatus.COMPLETED
    # another leader of the same grid does not get it
    other = client.get("/api/v1/tasks?scope=all", headers=auth("leader2")).get_json()
    assert other["total"] == 0


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {"household", "household_kind", "findings", "needs_follow_up"}),
        ({**VISIT, "household_kind": "mayor"}, {"household_kind"}),
        ({**VISIT, "findings": "   ", "colour": "red"}, {"findings", "colour"}),
        ({**VISIT, "needs_follow_up": "yes"}, {"follow_up_item"}),
    ],
)
def test_bad_start_data_is_refused_field_by_field_and_starts_nothing(
    client: FlaskClient, auth: Any, leaders: dict[str, Any], data: dict[str, Any], fields: set[str]
) -> None:
    headers = auth("leader")
    before = fingerprint()
    answer = _start(client, headers, data)
    assert answer.status_code == 422, answer.get_json()
    assert set(answer.get_json()["details"]) == fields
    assert fingerprint() == before


def test_a_role_that_may_not_start_it_gets_403_and_an_unknown_process_404(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    headers = {who: auth(who) for who in ("worker", "dispatcher", "resident", "designer", "leader")}
    before = fingerprint()
    for who in ("worker", "dispatcher", "resident", "designer"):
        assert _start(client, headers[who], VISIT).status_code == 403, who
        assert client.get("/api/v1/startable-processes/visit_record", headers=headers[who]).status_code == 403
    # a deployed process without a start form, and no process at all
    for key in ("case_handling", "nothing_here"):
        url = f"/api/v1/startable-processes/{key}/instances"
        assert client.post(url, json={"data": VISIT}, headers=headers["leader"]).status_code == 404
    assert fingerprint() == before


def test_the_grid_is_one_of_the_starters(client: FlaskClient, auth: Any, leaders: dict[str, Any]) -> None:
    headers = {who: auth(who) for who in ("leader", "leader2", "stray")}
    before = fingerprint()
    two = _start(client, headers["leader2"], VISIT)
    assert two.status_code == 422 and "grid_code" in two.get_json()["details"]
    wrong = _start(client, headers["leader"], VISIT, grid_code=WEST_GRID)
    assert wrong.status_code == 422 and "grid_code" in wrong.get_json()["details"]
    none = _start(client, headers["stray"], VISIT)
    assert none.status_code == 422 and "grid_code" in none.get_json()["details"]
    assert fingerprint() == before
    chosen = _start(client, auth("leader2"), VISIT, grid_code=WEST_GRID)
    assert chosen.status_code == 201 and chosen.get_json()["grid_code"] == WEST_GRID


def test_a_retry_with_the_same_idempotency_key_starts_once(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    headers = {**auth("leader"), "Idempotency-Key": "visit-1"}
    first = _start(client, headers, VISIT)
    again = _start(client, headers, VISIT)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["instance_id"] == again.get_json()["instance_id"]
    assert db.session.execute(select(ProcessInstance.id)).all().__len__() == 1


# -- a process that opens a case ---------------------------------------------------------------------


def case_starting_diagram(
    category: str = "E0102", starts_case: str = "true", to_starter: bool = True
) -> bytes:
    """巡查上报: opens a case of ``category``; its check goes to the starter, or to the dispatchers."""
    check_for = (
        '<spiffworkflow:property name="candidateRoles" value="grid_leader" />'
        '<spiffworkflow:property name="candidateUser" value="started_by" />'
        if to_starter
        else '<spiffworkflow:property name="candidateRoles" value="dispatcher" />'
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="patrol_report" name="巡查上报" isExecutable="true">
    <bpmn:startEvent id="start" name="巡查发现">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="visit_record.schema.json" />
        <spiffworkflow:property name="candidateRoles" value="grid_leader, grid_worker" />
        <spiffworkflow:property name="startsCase" value="{starts_case}" />
        <spiffworkflow:property name="caseCategory" value="{category}" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:userTask id="check" name="核查">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="visit_follow_up.schema.json" />
        {check_for}
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="finish" />
    <bpmn:serviceTask id="finish" name="结案">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="case.finish" resultVariable="finished">
        <spiffworkflow:parameters>
          <spiffworkflow:parameter id="status" type="str" value="&quot;closed&quot;" />
        </spiffworkflow:parameters>
      </spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="finish" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>""".encode()


def deploy_patrol(content: bytes) -> Any:
    from flask import current_app

    rules = current_app.extensions["gridcase.deploy_rules"]()
    results = deploy.deploy_file("patrol_report.bpmn", content, rules)
    db.session.commit()
    return results


def test_a_process_that_opens_a_case_starts_on_a_new_case_of_its_category(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    deploy_patrol(case_starting_diagram())
    keys = [
        i["key"]
        for i in client.get("/api/v1/startable-processes", headers=auth("leader")).get_json()["items"]
    ]
    assert keys == ["patrol_report", "visit_record"]  # by name: 巡查上报 before 走访登记
    worker_keys = client.get("/api/v1/startable-processes", headers=auth("worker")).get_json()["items"]
    assert [i["key"] for i in worker_keys] == ["patrol_report"]
    answer = client.post(
        "/api/v1/startable-processes/patrol_report/instances", json={"data": VISIT}, headers=auth("leader")
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    case = db.session.execute(select(Case).where(Case.key == body["case_key"])).scalar_one()
    assert case.category_code == "E0102" and case.grid_code == EAST_GRID
    assert case.reporter_id == leaders["leader"].id and case.title == "巡查上报"
    instance = db.session.get(ProcessInstance, body["instance_id"])
    assert instance is not None and instance.case_id == case.id and instance.business_key == case.key
    assert body["first_task"]["element_id"] == "check" and body["first_task"]["case_key"] == case.key
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "process.started_from_form")
    ).scalar_one()
    assert event.case_id == case.id
    assert (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "case.reported", AuditEvent.case_id == case.id)
        )
        .scalar_one()
        .actor_id
        == leaders["leader"].id
    )


def test_a_case_category_gone_from_the_catalogue_is_a_409_that_starts_nothing(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    deploy_patrol(case_starting_diagram(category="Z9999"))
    headers = auth("leader")
    before = fingerprint()
    answer = client.post(
        "/api/v1/startable-processes/patrol_report/instances", json={"data": VISIT}, headers=headers
    )
    assert answer.status_code == 409 and answer.get_json()["details"]["case_category"] == "Z9999"
    assert fingerprint() == before


# -- deploy checks of start events -------------------------------------------------------------------


def _start_event(element_id: str, properties: dict[str, str], inner: str = "") -> str:
    props = "".join(
        f'<spiffworkflow:property name="{name}" value="{value}" />' for name, value in properties.items()
    )
    return f"""<bpmn:startEvent id="{element_id}" name="发起 {element_id}">
      <bpmn:extensionElements><spiffworkflow:properties>{props}</spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>f_{element_id}</bpmn:outgoing>{inner}
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f_{element_id}" sourceRef="{element_id}" targetRef="end" />"""


def _diagram(process_id: str, *events: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:message id="m" name="go" />
  <bpmn:process id="{process_id}" isExecutable="true">
    {"".join(events)}
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def _problems(file_name: str, content: bytes) -> list[dict[str, Any]]:
    from flask import current_app

    from app.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        deploy.validate_file(file_name, content, current_app.extensions["gridcase.deploy_rules"]())
    return list(refused.value.details["problems"])


def test_every_problem_of_a_start_form_is_reported_at_once(app: Any) -> None:
    content = _diagram(
        "bad_starts",
        _start_event(
            "a", {"formJsonSchemaFilename": "nope.schema.json", "candidateRoles": "grid_leader, mayor"}
        ),
        _start_event("b", {"formJsonSchemaFilename": "visit_record.schema.json"}),
    )
    problems = _problems("bad_starts.bpmn", content)
    reasons = {(p["element_id"], p["reason"]) for p in problems}
    assert reasons == {
        ("a", "form 'nope.schema.json' does not exist in forms/"),
        ("a", "unknown role(s) in candidateRoles: ['mayor']"),
        ("b", "only one start event of a process may declare a start form"),
    }
    messages = {p["message"] for p in problems}
    assert "一个流程只能有一个开始事件声明发起表单" in messages
    assert all(p["element_name"] for p in problems)  # named, not only by id


@pytest.mark.parametrize(
    ("properties", "inner", "reason"),
    [
        ({"candidateRoles": "grid_leader"}, "", "start event has no 'formJsonSchemaFilename' property"),
        (
            {"formJsonSchemaFilename": "visit_record.schema.json"},
            "",
            "start event has no 'candidateRoles' property",
        ),
        (
            {"formJsonSchemaFilename": "visit_record.schema.json", "candidateRoles": "grid_leader"},
            '<bpmn:messageEventDefinition messageRef="m" />',
            "a start form belongs on a plain start event (no message, timer or signal)",
        ),
        (
            {
                "formJsonSchemaFilename": "visit_record.schema.json",
                "candidateRoles": "grid_leader",
                "startsCase": "yes",
            },
            "",
            "startsCase must be true or false, not 'yes'",
        ),
        (
            {
                "formJsonSchemaFilename": "visit_record.schema.json",
                "candidateRoles": "grid_leader",
                "startsCase": "true",
            },
            "",
            "startsCase is true but the start event has no 'caseCategory'",
        ),
        (
            {
                "formJsonSchemaFilename": "visit_record.schema.json",
                "candidateRoles": "grid_leader",
                "caseCategory": "E0102",
            },
            "",
            "caseCategory is given but startsCase is not true",
        ),
    ],
)
def test_a_start_form_problem_refuses_the_deploy_naming_the_start_event(
    app: Any, properties: dict[str, str], inner: str, reason: str
) -> None:
    problems = _problems("one_start.bpmn", _diagram("one_start", _start_event("s", properties, inner)))
    assert [(p["element_id"], p["reason"]) for p in problems] == [("s", reason)]
    assert problems[0]["message"] != reason  # said in Chinese


def test_the_shipped_visit_record_stores_its_start_form(leaders: dict[str, Any]) -> None:
    from app.workflow.models import ProcessDefinition

    definition = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == "visit_record")
    ).scalar_one()
    assert definition.start_form == {
        "element_id": "start_visit",
        "form": "visit_record.schema.json",
        "candidate_roles": ["grid_leader"],
        "starts_case": False,
        "case_category": None,
    }
    others = db.session.execute(
        select(ProcessDefinition.key).where(ProcessDefinition.start_form.is_not(None))
    ).scalars()
    assert list(others) == ["visit_record"]


def test_the_definitions_api_shows_what_a_start_event_declares(
    client: FlaskClient, auth: Any, leaders: dict[str, Any]
) -> None:
    listed = client.get("/api/v1/process-definitions", headers=auth("designer")).get_json()
    by_key = {d["key"]: d for d in listed}
    assert by_key["visit_record"]["start_form"]["candidate_roles"] == ["grid_leader"]
    assert by_key["case_handling"]["start_form"] is None
