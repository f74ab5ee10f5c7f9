"""The pages when a person's step runs into a broken process (#15 item 1): the resident's report is stored
and the receipt says the case continues after a repair; a grid worker's completion is kept and the inbox
says the same; a task of a parked instance shows why it waits and its completion is refused (409)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.cases.models import Case
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import incidents, instances
from app.workflow.models import EngineIncident, HumanTask, ProcessInstance, TaskStatus
from app.workflow.notices import CONTINUES_AFTER_REPAIR, WAITS_FOR_REPAIR
from tests.probes import deploy_diagram
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import case_at_handle, seed_people

CASE_BPMN = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8")
# A designer's mistakes in a new version: triage offered to a variable nobody sets; the gateway after
# handling reading a variable that does not exist.
TRIAGE_PROPERTY = '<spiffworkflow:property name="candidateRoles" value="dispatcher" />'
BROKEN_TRIAGE = CASE_BPMN.replace(
    TRIAGE_PROPERTY,
    TRIAGE_PROPERTY + '\n          <spiffworkflow:property name="candidateUser" value="triage_candidate" />',
    1,
)
BROKEN_HANDLING = CASE_BPMN.replace('handle_result == "beyond_means"', 'handle_outcome == "beyond_means"', 1)


@pytest.fixture
def seeded(app):
    api, auth = seed_people(app)
    return {"api": api, "auth": auth}


def _incident(instance_id: int) -> EngineIncident:
    db.session.expire_all()
    return db.session.execute(
        select(EngineIncident).where(EngineIncident.instance_id == instance_id)
    ).scalar_one()


def test_a_residents_report_into_a_broken_process_is_stored_with_an_incident(client, seeded):
    deploy_diagram("case_handling.bpmn", BROKEN_TRIAGE.encode())
    sign_in(client, "resident")
    data = {
        "csrf_token": csrf_token(client, "/r/report"),
        "category_code": "E0102",
        "description": "北门垃圾桶满了",
        "lat": "30.7589",
        "lon": "103.9718",
        "address": "锦绣花园北门",
    }

    response = client.post("/r/report", data=data, content_type="multipart/form-data")

    assert response.status_code == 302
    key = response.headers["Location"].split("/")[3]
    case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.case_id == case.id)
    ).scalar_one()
    assert instance.status == "error"
    incident = _incident(instance.id)
    assert (incident.kind, incident.element_id, incident.element_name) == ("step", "triage", "受理立案")
    assert "triage_candidate" in incident.reason
    assert incident.actor_id is not None and incident.case_id == case.id
    # The triage task could not be offered: no row for it (the engine marks it failed).
    assert db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id)).first() is None
    receipt = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert key in receipt
    assert CONTINUES_AFTER_REPAIR["zh-CN"] in receipt
    assert "triage_candidate" not in receipt and "NameError" not in receipt
    # Nor anywhere the resident can read: the case's timeline and its instance (the reason is the repairers').
    api, auth = seeded["api"], seeded["auth"]
    events = api.get(f"/api/v1/cases/{key}/timeline", headers=auth("resident")).get_json()["items"]
    assert not [e for e in events if e["action"].startswith("incident.")]
    assert "triage_candidate" not in str(events)
    seen = api.get(f"/api/v1/process-instances/{instance.id}", headers=auth("resident")).get_json()
    assert seen["status"] == "error" and seen["error"] is None
    staff = api.get(f"/api/v1/cases/{key}/timeline", headers=auth("admin")).get_json()["items"]
    assert [e["action"] for e in staff if e["action"].startswith("incident.")] == ["incident.opened"]
    repairer = api.get(f"/api/v1/process-instances/{instance.id}", headers=auth("admin")).get_json()
    assert "triage_candidate" in repairer["error"]


def test_a_report_through_the_api_into_a_broken_process_answers_201_with_the_notice(client, seeded):
    deploy_diagram("case_handling.bpmn", BROKEN_TRIAGE.encode())
    body = {"title": "垃圾满溢", "category_code": "E0102", "lat": 30.7589, "lon": 103.9718}

    response = seeded["api"].post("/api/v1/cases", json=body, headers=seeded["auth"]("resident"))

    assert response.status_code == 201
    answer = response.get_json()
    assert answer["notice"] == {"code": "incident_opened", "message": CONTINUES_AFTER_REPAIR["zh-CN"]}
    case = db.session.execute(select(Case).where(Case.key == answer["key"])).scalar_one()
    assert case.status == "reported"
    seeded["api"].set_cookie("lang", "en")  # the language switch's cookie
    english = seeded["api"].post("/api/v1/cases", json=body, headers=seeded["auth"]("resident"))
    assert english.get_json()["notice"]["message"] == CONTINUES_AFTER_REPAIR["en"]


def test_a_workers_completion_into_a_broken_gateway_is_kept_and_the_task_page_of_a_parked_case(
    client, seeded
):
    deploy_diagram("case_handling.bpmn", BROKEN_HANDLING.encode())
    _key, task_id = case_at_handle(seeded["api"], seeded["auth"])
    sign_in(client, "worker")
    token = csrf_token(client, f"/m/tasks/{task_id}")
    body = {"data": {"handle_result": "resolved", "handle_description": "已清运"}, "location": None}

    response = client.post(f"/m/tasks/{task_id}/complete", json=body, headers={"X-CSRFToken": token})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["instance_status"] == "error"
    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).status == TaskStatus.COMPLETED
    instance_id = db.session.get(HumanTask, task_id).instance_id
    incident = _incident(instance_id)
    assert (incident.element_id, incident.element_name) == ("gw_handle_result", "能否处置")
    inbox = html.unescape(client.get(response.get_json()["redirect"]).get_data(as_text=True))
    assert CONTINUES_AFTER_REPAIR["zh-CN"] in inbox
    assert "handle_outcome" not in inbox and "gw_handle_result" not in inbox


def test_the_task_page_of_a_parked_case_says_why_and_refuses_completion(client, seeded):
    _key, task_id = case_at_handle(seeded["api"], seeded["auth"])
    instance_id = db.session.get(HumanTask, task_id).instance_id
    incidents.open_incident(
        instances.lock_instance(instance_id), kind="timer", reason="boom", element_id="mark_overdue"
    )
    db.session.commit()
    sign_in(client, "worker")

    page = html.unescape(client.get(f"/m/tasks/{task_id}").get_data(as_text=True))
    assert WAITS_FOR_REPAIR["zh-CN"] in page
    assert 'id="complete-button" disabled' in page
    assert "boom" not in page and "mark_overdue" not in page

    token = csrf_token(client, f"/m/tasks/{task_id}")
    body = {"data": {"handle_result": "resolved", "handle_description": "已清运"}, "location": None}
    response = client.post(f"/m/tasks/{task_id}/complete", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 409
    assert response.get_json()["message"] == WAITS_FOR_REPAIR["zh-CN"]
    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).status == TaskStatus.CLAIMED


def test_parked_instances_are_counted_as_awaiting_repair_not_dropped(client, seeded):
    """Where instances are counted (the designer's lists, the definitions API), a parked one is shown as
    待修复 next to the running ones instead of vanishing from the count."""
    seeded["api"].post(
        "/api/v1/cases", json={"title": "正常", "category_code": "E0102"}, headers=seeded["auth"]("resident")
    )
    deploy_diagram("case_handling.bpmn", BROKEN_TRIAGE.encode())
    seeded["api"].post(
        "/api/v1/cases", json={"title": "坏了", "category_code": "E0102"}, headers=seeded["auth"]("resident")
    )

    sign_in(client, "designer")
    page = html.unescape(client.get("/design/processes").get_data(as_text=True))
    row = re.search(r'<tr data-process-key="case_handling">(.*?)</tr>', page, re.S)
    assert row is not None
    assert re.search(
        r'data-field="running">1 <span[^>]*data-field="awaiting-repair">1 个待修复<', row.group(1)
    )
    versions = html.unescape(client.get("/design/processes/case_handling").get_data(as_text=True))
    assert re.search(r'<tr data-version="1">.*?data-field="running">1</td>', versions, re.S)
    assert re.search(r'<tr data-version="2">.*?data-field="running">0 <span[^>]*>1 个待修复<', versions, re.S)
    listed = seeded["api"].get("/api/v1/process-definitions", headers=seeded["auth"]("designer")).get_json()
    [case_handling] = [d for d in listed if d["key"] == "case_handling"]
    assert (case_handling["running_instances"], case_handling["awaiting_repair_instances"]) == (0, 1)


BROKEN_WITHDRAWAL = CASE_BPMN.replace('value="&quot;withdrawn&quot;"', 'value="withdrawn_status"', 1)


def test_a_withdrawal_into_a_broken_process_is_kept_with_a_message_incident(seeded):
    api, auth = seeded["api"], seeded["auth"]
    deploy_diagram("case_handling.bpmn", BROKEN_WITHDRAWAL.encode())
    key = api.post(
        "/api/v1/cases", json={"title": "已解决", "category_code": "E0102"}, headers=auth("resident")
    )
    key = key.get_json()["key"]

    response = api.post(
        f"/api/v1/cases/{key}/withdraw", json={"reason": "已自行解决"}, headers=auth("resident")
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["notice"]["message"] == CONTINUES_AFTER_REPAIR["zh-CN"]
    assert "withdrawn_status" not in response.get_data(as_text=True)
    case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.case_id == case.id)
    ).scalar_one()
    incident = _incident(instance.id)
    assert (incident.kind, incident.element_id, incident.element_name) == (
        "message",
        "finish_withdrawn",
        "记录撤销",
    )
    assert instance.status == "error"
    # The message was taken (triage is cancelled by its boundary event); what follows waits for a repair.
    assert (
        db.session.execute(
            select(HumanTask.status).where(HumanTask.case_id == case.id, HumanTask.element_id == "triage")
        ).scalar_one()
        == TaskStatus.CANCELLED
    )
