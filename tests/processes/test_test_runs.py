"""Test runs (试运行, #16 item 5): a designer starts a test instance of a version from the studio with test
data, completes its tasks as any role, advances its simulated clock to fire its timers; it never touches real
cases, inboxes, KPIs, notifications or the audit of real cases, and the scheduler leaves its timers alone.

Through the designer pages' JSON and form routes (what the studio's page calls), on SQLite; the isolation
test on PostgreSQL too.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db
from app.jobs.models import JobOutbox
from app.processes import services as processes
from app.workflow import operators, scheduler
from app.workflow.models import (
    TEST_RUN_GROUP,
    EngineIncident,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
)
from app.workflow.test_run_models import TestRun
from tests.cases.territory import EAST_GRID, EAST_POINT, assign, build_territory
from tests.helpers import ensure_catalogue, open_task, report, walk_to
from tests.probes import definitions, deploy_diagram, user_task
from tests.processes.test_startable import VISIT
from tests.web.pages import csrf_token, page_app, sign_in
from tests.web.seed import deploy_case_handling

app = page_app

CASE_RUN = "/design/processes/case_handling/versions/1/test-run"
# What a designer types for a case handling test run: a located exposed-garbage case.
CASE_DATA = {
    "title": "试运行垃圾",
    "category_code": "E0102",
    "severity": "yellow",
    "grid_code": EAST_GRID,
    "lat": EAST_POINT[0],
    "lon": EAST_POINT[1],
}


def _timer_probe() -> bytes:
    """A process with one task ``look`` (the review form, for supervisors) and a 2-hour interrupting boundary
    timer on it leading to ``late``; the task's own path ends at ``done``."""
    look = user_task(
        "look",
        "f1",
        "f2",
        {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"},
        name="查看",
    )
    return definitions(
        "timer_probe_definitions",
        f"""  <bpmn:process id="timer_probe" name="定时探针" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="look" />
{look}
    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="done" />
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="too_late" name="超时" attachedToRef="look">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT2H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="late" />
    <bpmn:endEvent id="late"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


@pytest.fixture
def seeded(app: Flask, users: dict[str, Any]) -> None:
    build_territory()
    assign("worker", EAST_GRID)
    assign("dispatcher", "510124")
    assign("supervisor", "510124")
    ensure_catalogue()
    deploy_case_handling(app)
    deploy_diagram("timer_probe.bpmn", _timer_probe())
    db.session.commit()


class Studio:
    """A signed-in client posting as the studio's page does (JSON with X-CSRFToken, forms with the token)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        token = csrf_token(self.client, "/design/test-runs")
        response = self.client.post(path, json=body, headers={"X-CSRFToken": token})
        db.session.expire_all()
        return response

    def post_form(self, path: str, data: dict[str, Any]) -> Any:
        token = csrf_token(self.client, "/design/test-runs")
        response = self.client.post(path, data={**data, "csrf_token": token})
        db.session.expire_all()
        return response

    def start(self, path: str = CASE_RUN, variables: dict[str, Any] | None = None) -> TestRun:
        response = self.post_json(path, {"variables_json": json.dumps(variables or CASE_DATA)})
        assert response.status_code == 201, response.get_json()
        run = db.session.get(TestRun, response.get_json()["test_run"])
        assert run is not None
        return run

    def complete(self, run: TestRun, element_id: str, data: dict[str, Any], expect: int = 200) -> Any:
        task = ready_task(run, element_id)
        response = self.post_json(f"/design/test-runs/{run.id}/tasks/{task.id}", {"data": data})
        assert response.status_code == expect, response.get_json()
        return response

    def advance(self, run: TestRun, duration: str, expect: int = 302) -> Any:
        response = self.post_form(f"/design/test-runs/{run.id}/clock", {"duration": duration})
        assert response.status_code == expect, response.get_data(as_text=True)[:300]
        return response


@pytest.fixture
def studio(app: Flask, seeded: None) -> Studio:
    client = app.test_client()
    sign_in(client, "designer")
    return Studio(client)


def ready_task(run: TestRun, element_id: str) -> HumanTask:
    db.session.expire_all()
    task = db.session.execute(
        select(HumanTask).where(
            HumanTask.instance_id == run.instance_id,
            HumanTask.element_id == element_id,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalar_one_or_none()
    assert task is not None, f"no ready {element_id} in {open_elements(run)}"
    return task


def open_elements(run: TestRun) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.execute(
            select(HumanTask.element_id).where(
                HumanTask.instance_id == run.instance_id, HumanTask.status.in_(TaskStatus.OPEN)
            )
        ).scalars()
    )


def actions(instance_id: int) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEvent.action).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        ).scalars()
    )


def row_counts() -> dict[str, int]:
    db.session.expire_all()
    return {
        "process_instance": db.session.execute(
            select(func.count()).select_from(ProcessInstance)
        ).scalar_one(),
        "human_task": db.session.execute(select(func.count()).select_from(HumanTask)).scalar_one(),
        "test_run": db.session.execute(select(func.count()).select_from(TestRun)).scalar_one(),
        "audit_event": db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
    }


# -- starting -----------------------------------------------------------------------------------------


def test_bad_test_data_is_refused_beside_the_field_and_writes_nothing(studio: Studio) -> None:
    before = row_counts()
    for text, expected in [
        ('{"severity": "red",', "不是合法的 JSON"),
        ("[1, 2]", "需要 JSON 对象"),
        ('{"bad name": 1}', "变量名不合法"),
    ]:
        response = studio.post_json(CASE_RUN, {"variables_json": text})
        assert response.status_code == 422, response.get_json()
        assert expected in response.get_json()["details"]["variables"]
    assert row_counts() == before


def test_a_start_form_is_validated_field_by_field(studio: Studio, app: Flask) -> None:
    """A version with a start form takes its test data through that form: every bad field named."""
    from app.config import PROJECT_ROOT

    path = PROJECT_ROOT / "bpmn" / "visit_record.bpmn"
    deploy_diagram(path.name, path.read_bytes())
    url = "/design/processes/visit_record/versions/1/test-run"
    page = studio.client.get(url)
    assert page.status_code == 200 and 'id="task-form"' in page.get_data(as_text=True)
    before = row_counts()
    response = studio.post_json(url, {"data": {"household_kind": "nobody"}})
    assert response.status_code == 422, response.get_json()
    fields = {error["field"] for error in response.get_json()["errors"]}
    assert {"household", "household_kind", "findings"} <= fields
    assert row_counts() == before
    response = studio.post_json(url, {"data": VISIT})
    assert response.status_code == 201, response.get_json()
    run = db.session.get(TestRun, response.get_json()["test_run"])
    assert run is not None and run.instance.is_test and run.instance.status == InstanceStatus.COMPLETED


def test_a_test_run_starts_marked_as_a_test_with_no_case(studio: Studio) -> None:
    run = studio.start()
    instance = run.instance
    assert instance.is_test and instance.case_id is None and instance.business_key is None
    assert open_elements(run) == ["triage"]
    task = ready_task(run, "triage")
    # offered to nobody: no inbox can show it; its roles are kept for the page
    assert (
        task.candidate_group == TEST_RUN_GROUP
        and task.candidate_user is None
        and task.roles == ["dispatcher"]
    )
    assert actions(instance.id)[:2] == ["instance.started", "task.created"]
    # no work runs on the version for the designer's pages (running counts, the version migration's list)
    assert processes.running_counts([run.definition_id]) == {}
    assert [p.running_instances for p in processes.process_summaries() if p.key == "case_handling"] == [0]
    assert "testrun.started" in actions(instance.id)
    page = studio.client.get(f"/design/test-runs/{run.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-element-id="triage"' in html and 'id="task-form"' in html
    diagram = studio.client.get(f"/design/test-runs/{run.id}/diagram.json").get_json()
    assert diagram["active"] == ["triage", "withdrawn"] and diagram["completed"]


# -- completing as any role ------------------------------------------------------------------------------


def test_the_designer_completes_tasks_of_any_role_validated_by_their_forms(studio: Studio) -> None:
    run = studio.start()
    before = actions(run.instance_id)
    response = studio.complete(run, "triage", {"triage_decision": "maybe"}, expect=422)
    assert response.get_json()["errors"][0]["field"] == "triage_decision"
    assert actions(run.instance_id) == before and open_elements(run) == ["triage"]

    studio.complete(run, "triage", {"triage_decision": "accept"})  # a dispatcher's task
    assert open_elements(run) == ["dispatch"]
    variables = studio.client.get(f"/design/test-runs/{run.id}").get_data(as_text=True)
    assert "proposal" in variables
    # the proposal came from the simulation, with the real rule: the east grid's worker
    simulated = (
        db.session.execute(
            select(AuditEvent).where(
                AuditEvent.instance_id == run.instance_id, AuditEvent.action == "testrun.operator_simulated"
            )
        )
        .scalars()
        .all()
    )
    assert [event.data["operator"] for event in simulated] == ["case.propose_handler"]
    assert simulated[0].data["result"]["handler_user"] == "worker"
    # the triage form left the category empty (unchanged): the run's start data stands for the case
    assert simulated[0].data["result"]["category_code"] == "E0102"
    completed = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == run.instance_id, HumanTask.element_id == "triage")
    ).scalar_one()
    assert completed.status == TaskStatus.COMPLETED and completed.completed_by_id is not None


def test_a_task_of_another_run_or_a_real_case_is_not_completed_here(studio: Studio, app: Flask) -> None:
    run = studio.start()
    other = studio.start()
    foreign = ready_task(other, "triage")
    response = studio.post_json(f"/design/test-runs/{run.id}/tasks/{foreign.id}", {"data": {}})
    assert response.status_code == 404
    assert open_elements(other) == ["triage"]


# -- the simulated clock ---------------------------------------------------------------------------------


def test_the_clock_fires_a_boundary_timer_only_once_it_is_due(studio: Studio) -> None:
    run = studio.start("/design/processes/timer_probe/versions/1/test-run", {})
    assert open_elements(run) == ["look"]
    started = run.clock_at

    studio.advance(run, "PT1H")
    assert open_elements(run) == ["look"] and run.instance.status == InstanceStatus.RUNNING
    assert "timer.fired" not in actions(run.instance_id)
    assert run.clock_at - started == timedelta(hours=1)

    studio.advance(run, "59 分钟")  # a minute short of the two hours
    assert open_elements(run) == ["look"] and "timer.fired" not in actions(run.instance_id)

    studio.advance(run, "1 分钟")  # exactly two hours after the timer was reached
    assert open_elements(run) == []
    assert run.instance.status == InstanceStatus.COMPLETED
    fired = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.instance_id == run.instance_id, AuditEvent.action == "timer.fired"
        )
    ).scalar_one()
    # fired at its own due time on the simulated clock, two hours after the start
    assert fired.data["due_at"] == fired.data["fired_at"]
    look = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == run.instance_id, HumanTask.element_id == "look")
    ).scalar_one()
    assert look.status == TaskStatus.CANCELLED
    diagram = studio.client.get(f"/design/test-runs/{run.id}/diagram.json").get_json()
    assert "late" in diagram["completed"] and "done" not in diagram["completed"]


@pytest.mark.parametrize("duration", ["", "soon", "PT", "0 天", "-PT1H", "P400D"])
def test_a_bad_duration_is_refused_beside_the_field_and_moves_nothing(studio: Studio, duration: str) -> None:
    run = studio.start("/design/processes/timer_probe/versions/1/test-run", {})
    clock_at, before = run.clock_at, actions(run.instance_id)
    response = studio.advance(run, duration, expect=422)
    assert 'id="clock-error"' in response.get_data(as_text=True)
    assert run.clock_at == clock_at and actions(run.instance_id) == before


def test_the_scheduler_never_fires_a_test_timer_on_the_real_clock(studio: Studio, clock: Any) -> None:
    run = studio.start("/design/processes/timer_probe/versions/1/test-run", {})
    state_before = run.instance.state
    clock.advance(days=3)
    scheduler.tick()
    db.session.commit()
    db.session.expire_all()
    assert run.instance.status == InstanceStatus.RUNNING and run.instance.state == state_before
    assert open_elements(run) == ["look"] and "timer.fired" not in actions(run.instance_id)


# -- isolation ----------------------------------------------------------------------------------------------


def _real_world(client: FlaskClient, auth: Any) -> dict[str, Any]:
    """What real people see and count: cases, their audit, inboxes, the case list, the outbox, KPIs."""
    db.session.expire_all()
    inboxes = {
        who: sorted(
            item["id"]
            for item in client.get("/api/v1/tasks?scope=all&page_size=100", headers=auth(who)).get_json()[
                "items"
            ]
        )
        for who in ("dispatcher", "worker", "supervisor", "admin")
    }
    case_list = client.get("/api/v1/cases?page_size=100", headers=auth("supervisor")).get_json()
    kpi = client.get("/api/v1/kpis", headers=auth("supervisor"))
    return {
        "cases": [
            (
                c.id,
                c.key,
                c.status,
                c.handler_user,
                c.due_at,
                c.warned_at,
                c.overdue_at,
                c.escalation_level,
                c.rework_count,
                c.updated_at,
            )
            for c in db.session.execute(select(Case).order_by(Case.id)).scalars()
        ],
        "case_audit": db.session.execute(
            select(AuditEvent.id, AuditEvent.action)
            .where(AuditEvent.case_id.is_not(None))
            .order_by(AuditEvent.id)
        ).all(),
        "outbox": db.session.execute(select(JobOutbox.id).order_by(JobOutbox.id)).scalars().all(),
        "inboxes": inboxes,
        "case_list": [(item["key"], item["status"]) for item in case_list["items"]],
        "kpi": (kpi.status_code, kpi.get_json()),
    }


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_case_handling_test_run_to_its_end_leaves_the_real_world_unchanged(
    studio: Studio, app: Flask, auth: Any
) -> None:
    api = app.test_client()
    created = report(api, auth)
    walk_to(api, auth, created["key"], "handle", hours=4)
    real_instance = db.session.execute(
        select(ProcessInstance.id).where(ProcessInstance.business_key == created["key"])
    ).scalar_one()
    before = _real_world(api, auth)
    real_actions = actions(real_instance)

    run = studio.start()
    studio.complete(run, "triage", {"triage_decision": "accept"})
    studio.complete(run, "dispatch", {"handler_user": "worker", "time_limit_hours": 4})
    assert open_elements(run) == ["handle"]
    studio.advance(run, "1 天")  # past the warning and the time limit: both boundary timers fire
    # overdue: escalated to the community (a coordination task) while handling goes on
    assert open_elements(run) == ["coordinate_community", "handle"]
    studio.complete(run, "handle", {"handle_result": "resolved", "handle_description": "已清运"})
    studio.complete(run, "photo_proof", {"after_photos": [1]})  # a test photo: the run has no case
    studio.complete(run, "review", {"review_decision": "approve", "review_comment": "处置到位"})
    db.session.expire_all()
    assert run.instance.status == InstanceStatus.COMPLETED
    simulated = [
        event.data["operator"]
        for event in db.session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.instance_id == run.instance_id, AuditEvent.action == "testrun.operator_simulated"
            )
            .order_by(AuditEvent.id)
        ).scalars()
    ]
    assert simulated == [
        "case.propose_handler",
        "case.set_time_limit",
        "case.current_handler",
        "case.warn_due",
        "case.mark_overdue",
        "case.escalate",
        "case.finish",
    ]
    # Nothing real moved: the case, its audit trail and process, every inbox, the case list, the outbox, KPIs.
    assert _real_world(api, auth) == before
    assert actions(real_instance) == real_actions
    assert open_task(created["key"], "handle").status == TaskStatus.CLAIMED
    # and nothing of the run carries a case
    assert (
        db.session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.instance_id == run.instance_id, AuditEvent.case_id.is_not(None))
        ).scalar_one()
        == 0
    )


# -- service tasks without a simulation, simulations that write ------------------------------------------


def _service_probe(process_id: str, operator: str) -> bytes:
    """start → a service task calling ``operator`` (result ``outcome``) → end."""
    return definitions(
        f"{process_id}_definitions",
        f"""  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="act" />
    <bpmn:serviceTask id="act" name="执行">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="outcome">
          <spiffworkflow:parameters />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="act" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


@operators.register("probe.test_run_write", "test probe: a real operator whose simulation writes")
def _probe_write(call: operators.OperatorCall) -> dict[str, Any]:
    return {"real": True}


@operators.simulation("probe.test_run_write")
def _probe_write_simulation(call: operators.OperatorCall) -> dict[str, Any]:
    instance = db.session.get(ProcessInstance, call.instance_id)
    assert instance is not None
    instance.business_key = "written by a simulation"  # what a simulation must never do
    return {"simulated": True}


@pytest.mark.parametrize(
    ("operator", "reason"),
    [
        ("mediation.close", "没有模拟实现"),  # a real operator with no simulation: it would touch a dispute
        ("probe.test_run_write", "simulations must only read"),
    ],
)
def test_a_service_task_that_cannot_be_simulated_parks_the_run_and_writes_nothing(
    studio: Studio, operator: str, reason: str
) -> None:
    key = operator.replace(".", "_") + "_probe"
    deploy_diagram(f"{key}.bpmn", _service_probe(key, operator))
    run = studio.start(f"/design/processes/{key}/versions/1/test-run", {})
    instance = run.instance
    assert instance.status == InstanceStatus.ERROR and instance.business_key is None
    incident = db.session.execute(
        select(EngineIncident).where(EngineIncident.instance_id == instance.id)
    ).scalar_one()
    assert incident.element_id == "act" and reason in incident.reason
    assert "testrun.operator_simulated" not in actions(instance.id)
    page = studio.client.get(f"/design/test-runs/{run.id}").get_data(as_text=True)
    assert 'id="open-incident"' in page and reason in page


# -- the list, deleting, roles ---------------------------------------------------------------------------


def test_the_designer_lists_and_deletes_their_test_runs(studio: Studio, app: Flask, create_user: Any) -> None:
    first, second = studio.start(), studio.start()
    listed = studio.client.get("/design/test-runs").get_data(as_text=True)
    assert re.findall(r'data-test-run="(\d+)"', listed) == [str(second.id), str(first.id)]

    other = app.test_client()
    create_user("designer", "designer2")
    sign_in(other, "designer2")
    assert 'data-test-run="' not in other.get("/design/test-runs").get_data(as_text=True)
    assert other.get(f"/design/test-runs/{first.id}").status_code == 403

    response = studio.post_form(f"/design/test-runs/{first.id}/delete", {})
    assert response.status_code == 302
    assert first.deleted_at is not None and first.instance.status == InstanceStatus.TERMINATED
    assert open_elements(first) == []
    assert "testrun.deleted" in actions(first.instance_id)
    listed = studio.client.get("/design/test-runs").get_data(as_text=True)
    assert re.findall(r'data-test-run="(\d+)"', listed) == [str(second.id)]
    assert studio.client.get(f"/design/test-runs/{first.id}").status_code == 404


@pytest.mark.parametrize("who", ["resident", "worker", "dispatcher", "handler", "supervisor"])
def test_other_roles_get_403_and_change_nothing(studio: Studio, app: Flask, who: str) -> None:
    run = studio.start()
    task = ready_task(run, "triage")
    client = app.test_client()
    sign_in(client, who)
    before = row_counts()
    assert client.get("/design/test-runs").status_code == 403
    assert client.get(f"/design/test-runs/{run.id}").status_code == 403
    assert client.get(CASE_RUN).status_code == 403
    token = csrf_token(client, "/design/test-runs")
    headers = {"X-CSRFToken": token}
    assert client.post(CASE_RUN, json={"variables_json": "{}"}, headers=headers).status_code == 403
    assert (
        client.post(
            f"/design/test-runs/{run.id}/tasks/{task.id}",
            json={"data": {"triage_decision": "accept"}},
            headers=headers,
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/design/test-runs/{run.id}/clock", data={"duration": "PT2H", "csrf_token": token}
        ).status_code
        == 403
    )
    # nor does any inbox or task address offer the test task
    tasks = client.get("/api/v1/tasks?scope=all")
    assert tasks.status_code in (200, 401, 403)
    assert client.get(f"/api/v1/tasks/{task.id}").status_code in (401, 404)
    db.session.expire_all()
    assert row_counts() == before
