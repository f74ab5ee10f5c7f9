"""The instance operations API (#15 item 2) on SQLite and PostgreSQL: listing and inspecting instances and
incidents; each repair changes exactly what it says and is audited; admins everywhere, designers on test
instances (no case), every other role 403; bad input is a 422 naming the field in zh-CN and changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import CaseStatus
from app.clock import as_utc
from app.extensions import db
from app.workflow.models import HumanTask, InstanceStatus, TaskStatus
from tests.factories import app_on_both_backends, create_case
from tests.helpers import case_events, case_row, fingerprint, instance, open_ids, open_task
from tests.workflow.ops_probes import PROCESS_KEY, deploy_probes, fail_at_compute, start_probe

app = app_on_both_backends

API = "/api/v1/process-instances"
REASON = {"reason": "运维测试"}
# Every operation with a valid body: (path under the instance, body).
OPERATIONS = [
    ("retry", REASON),
    ("skip", REASON),
    ("move", {**REASON, "to_element_id": "check"}),
    ("suspend", REASON),
    ("resume", REASON),
    ("terminate", REASON),
    ("variables", {**REASON, "name": "factor", "value_json": "21"}),
]
READS = ["", "/variables", "/history", "/incidents", "/operations"]


@pytest.fixture
def probes(app, users, deployed):
    deploy_probes()


def _post(client, auth, who: str, instance_id: int, operation: str, body: dict[str, Any], expect: int) -> Any:
    response = client.post(f"{API}/{instance_id}/{operation}", json=body, headers=auth(who))
    assert response.status_code == expect, response.get_json()
    db.session.expire_all()
    return response.get_json()


def _actions(instance_id: int) -> list[str]:
    return list(
        db.session.execute(
            select(AuditEvent.action).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        ).scalars()
    )


# -- roles --------------------------------------------------------------------------------------------


REFUSED_ROLES = ["worker", "resident", "supervisor", "dispatcher"]


def test_only_admins_and_designers_read_or_operate(client, auth, users, probes, subtests):
    """One errored probe per backend for every refused role: each role's requests write nothing (its own
    fingerprint check); its sign-in writes only its own token, which no other role's requests read."""
    instance_id = start_probe()
    fail_at_compute(instance_id)
    for who in REFUSED_ROLES:
        with subtests.test(who=who):
            headers = auth(who)  # signing in writes a token: before the fingerprint
            before = fingerprint()
            for operation, body in OPERATIONS:
                response = client.post(f"{API}/{instance_id}/{operation}", json=body, headers=headers)
                assert response.status_code == 403, (operation, response.get_json())
                assert "管理员" in response.get_json()["message"]
            for path in READS:
                url = f"{API}/{instance_id}{path}" if path else API
                assert client.get(url, headers=headers).status_code == 403, path
            assert client.get("/api/v1/engine-incidents", headers=headers).status_code == 403
            assert fingerprint() == before


def test_designers_operate_on_test_instances_only(client, auth, users, probes):
    test_instance = start_probe()
    body = _post(client, auth, "designer", test_instance, "suspend", REASON, 200)
    assert body["status"] == "suspended" and body["may_operate"] is True

    key = create_case(client, auth, "dispatch")
    case_instance = instance(key).id
    auth("admin")
    before = fingerprint()
    for operation, payload in OPERATIONS:
        response = client.post(f"{API}/{case_instance}/{operation}", json=payload, headers=auth("designer"))
        assert response.status_code == 403, operation
        assert response.get_json()["details"] == {"instance": "该实例属于案件，只有系统管理员可以操作"}
    assert client.get(f"{API}/{case_instance}/variables", headers=auth("designer")).status_code == 403
    # the summary and the list stay visible: what runs where
    summary = client.get(f"{API}/{case_instance}/operations", headers=auth("designer")).get_json()
    assert summary["may_operate"] is False and summary["case_key"] == key
    assert fingerprint() == before
    _post(client, auth, "admin", case_instance, "suspend", REASON, 200)


# -- bad input ----------------------------------------------------------------------------------------


# (operation, body, field, words): refused with a 422 naming the field, in those words
BAD_INPUT = [
    ("terminate", {}, "reason", "请填写操作原因"),
    ("suspend", {"reason": " "}, "reason", "原因须为"),
    ("variables", {**REASON, "name": "factor", "value_json": "{nope"}, "value_json", "不是合法的 JSON"),
    ("variables", {**REASON, "name": "factor", "value_json": "NaN"}, "value_json", "不是合法的 JSON"),
    ("variables", {**REASON, "name": "_engine", "value_json": "1"}, "name", "变量名"),
    ("variables", {"name": "factor", "value_json": "1"}, "reason", "请填写操作原因"),
    ("move", {**REASON, "to_element_id": "nowhere"}, "to_element_id", "nowhere"),
    ("move", {**REASON}, "to_element_id", "请指定"),
    ("skip", {**REASON, "element_id": "check"}, "element_id", "无法跳过"),
]


def test_bad_input_names_the_field_and_changes_nothing(client, auth, users, probes, subtests):
    """One errored probe per backend for every bad input: each is refused and writes nothing (its own
    fingerprint check), so a later input meets the same instance as the first."""
    instance_id = start_probe()
    fail_at_compute(instance_id)
    headers = auth("admin")
    for operation, body, field, words in BAD_INPUT:
        with subtests.test(operation=operation, body=body):
            before = fingerprint()
            response = client.post(f"{API}/{instance_id}/{operation}", json=body, headers=headers)
            assert response.status_code == 422, response.get_json()
            details = response.get_json()["details"]
            assert field in details, details
            assert words in str(details[field]) or words in response.get_json()["message"]
            assert fingerprint() == before


def test_an_operation_that_does_not_fit_the_status_is_409(client, auth, users, probes):
    instance_id = start_probe()
    auth("admin")
    before = fingerprint()
    for operation in ("retry", "skip", "resume"):
        body = _post(client, auth, "admin", instance_id, operation, REASON, 409)
        assert body["details"]["status"] == "running"
    assert fingerprint() == before


# -- repairs through the API, with the case kept consistent ---------------------------------------------


def test_edit_a_variable_then_retry(client, auth, users, probes):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    variables = client.get(f"{API}/{instance_id}/variables", headers=auth("admin")).get_json()["variables"]
    assert "factor" not in variables
    _post(
        client, auth, "admin", instance_id, "variables", {**REASON, "name": "factor", "value_json": "21"}, 200
    )
    body = _post(client, auth, "admin", instance_id, "retry", REASON, 200)
    assert body["status"] == "running" and body["open_incident"] is None
    assert body["active_elements"] == [{"element_id": "check", "name": "核对", "state": "READY"}]
    variables = client.get(f"{API}/{instance_id}/variables", headers=auth("admin")).get_json()["variables"]
    assert variables["total"] == 42
    history = client.get(f"{API}/{instance_id}/history", headers=auth("admin")).get_json()
    actions = [e["action"] for e in history["events"]]
    assert actions.index("instance.variable_edited") < actions.index("instance.retried")
    assert {"look", "compute"} <= set(history["completed_element_ids"])
    (incident,) = client.get(f"{API}/{instance_id}/incidents", headers=auth("admin")).get_json()
    assert incident["resolution"] == "retried"


def test_terminate_a_case_instance_closes_the_case(client, auth, users, probes):
    key = create_case(client, auth, "dispatch")
    instance_id = instance(key).id
    dispatch = open_task(key, "dispatch")
    body = _post(client, auth, "admin", instance_id, "terminate", {"reason": "重复上报，终止流程"}, 200)
    assert body["status"] == "terminated"
    assert db.session.get(HumanTask, dispatch.id).status == TaskStatus.CANCELLED
    case = case_row(key)
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    (closed,) = [e for e in case_events(key, "case.status_changed") if e.after == {"status": "closed"}]
    assert closed.data == {"reason": "重复上报，终止流程", "terminated": True}
    assert closed.actor_label == "admin"
    (terminated,) = case_events(key, "instance.terminated")
    assert terminated.before["status"] == "running"
    assert terminated.after["cancelled_task_ids"] == [dispatch.id]
    assert open_ids(key) == []


def test_suspend_refuses_completion_through_the_api_until_resumed(client, auth, users, probes):
    key = create_case(client, auth, "dispatch")
    instance_id = instance(key).id
    _post(client, auth, "admin", instance_id, "suspend", REASON, 200)
    dispatch = open_task(key, "dispatch")
    auth("dispatcher")
    before = fingerprint()
    response = client.post(
        f"/api/v1/tasks/{dispatch.id}/complete",
        json={"data": {"handler_user": "worker", "time_limit_hours": 24}},
        headers=auth("dispatcher"),
    )
    assert response.status_code == 409 and response.get_json()["details"]["instance_status"] == "suspended"
    assert fingerprint() == before
    _post(client, auth, "admin", instance_id, "resume", REASON, 200)
    response = client.post(
        f"/api/v1/tasks/{dispatch.id}/complete",
        json={"data": {"handler_user": "worker", "time_limit_hours": 24}},
        headers=auth("dispatcher"),
    )
    assert response.status_code == 200, response.get_json()
    assert open_ids(key) == ["handle"]


def test_a_suspended_instance_takes_no_message(client, auth, users, probes):
    key = create_case(client, auth)  # at triage: the reporter may still withdraw (message report_withdrawn)
    instance_id = instance(key).id
    _post(client, auth, "admin", instance_id, "suspend", REASON, 200)
    message = {"name": "report_withdrawn", "instance_id": instance_id, "payload": {}}
    auth("dispatcher")
    before = fingerprint()
    response = client.post("/api/v1/messages", json=message, headers=auth("dispatcher"))
    assert response.status_code == 409 and response.get_json()["details"]["status"] == "suspended"
    assert fingerprint() == before
    _post(client, auth, "admin", instance_id, "resume", REASON, 200)
    assert client.post("/api/v1/messages", json=message, headers=auth("dispatcher")).status_code == 200
    assert case_row(key).status == CaseStatus.WITHDRAWN


def test_move_the_token_of_a_case_back_to_triage(client, auth, users, probes):
    key = create_case(client, auth, "dispatch")
    assert case_row(key).status == CaseStatus.DISPATCHING
    instance_id = instance(key).id
    _post(client, auth, "admin", instance_id, "move", {"reason": "退回受理", "to_element_id": "triage"}, 200)
    assert open_ids(key) == ["triage"]
    assert case_row(key).status == CaseStatus.TRIAGE
    (moved,) = case_events(key, "instance.moved")
    assert moved.before["active_element_ids"] == ["dispatch"]
    assert moved.after == {"status": "running", "active_element_ids": ["triage"]}
    assert moved.data["reason"] == "退回受理" and moved.data["from_element_id"] == "dispatch"


def test_move_the_token_inside_the_handling_sub_process(client, auth, users, probes):
    key = create_case(client, auth, "handle")
    instance_id = instance(key).id
    timers_before = instance(key).next_timer_at
    body = _post(client, auth, "admin", instance_id, "move", {**REASON, "to_element_id": "photo_proof"}, 200)
    assert open_ids(key) == ["photo_proof"]
    assert case_row(key).status == CaseStatus.FEEDBACK
    active = {e["element_id"] for e in body["active_elements"]}
    assert {"photo_proof", "timer_warn", "timer_overdue"} <= active and "handle" not in active
    assert instance(key).next_timer_at == timers_before  # the sub-process's timers still run

    auth("admin")
    before = fingerprint()
    response = client.post(
        f"{API}/{instance_id}/move", json={**REASON, "to_element_id": "dispatch"}, headers=auth("admin")
    )
    assert response.status_code == 422 and "to_element_id" in response.get_json()["details"]
    assert fingerprint() == before


def test_skip_through_the_api(client, auth, users, probes):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    body = _post(client, auth, "admin", instance_id, "skip", REASON, 200)
    assert body["status"] == "running"
    assert body["active_elements"] == [{"element_id": "check", "name": "核对", "state": "READY"}]
    assert _actions(instance_id)[-1] == "instance.skipped"


# -- lists --------------------------------------------------------------------------------------------


def test_list_and_filter_instances_and_incidents(client, auth, users, probes, clock):
    running = start_probe()
    errored = start_probe()
    fail_at_compute(errored)
    key = create_case(client, auth, "dispatch")

    def ids(**query: Any) -> list[int]:
        response = client.get(API, query_string=query, headers=auth("admin"))
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert set(ids(process_key=PROCESS_KEY)) == {running, errored}
    assert ids(status="error") == [errored]
    assert ids(has_incident="true") == [errored]
    assert errored not in ids(has_incident="false")
    assert ids(business_key=key) == [instance(key).id]
    assert set(ids(process_key=PROCESS_KEY, version=1)) == {running, errored}
    assert ids(process_key=PROCESS_KEY, version=2) == []
    started = as_utc(instance(key).started_at).isoformat()
    assert instance(key).id in ids(started_from=started)
    assert ids(started_to=started) == []
    page = client.get(API, query_string={"page_size": 1}, headers=auth("admin")).get_json()
    assert page["total"] == 3 and page["pages"] == 3 and len(page["items"]) == 1
    (item,) = [i for i in client.get(API, headers=auth("admin")).get_json()["items"] if i["id"] == errored]
    assert item["open_incident"]["element_id"] == "compute" and item["version"] == 1
    bad = client.get(API, query_string={"status": "sleeping"}, headers=auth("admin"))
    assert bad.status_code == 422 and "status" in bad.get_json()["details"]

    incidents = client.get("/api/v1/engine-incidents", headers=auth("designer")).get_json()
    assert [i["instance_id"] for i in incidents["items"]] == [errored]
    assert incidents["items"][0]["kind"] == "step"
    all_incidents = client.get(
        "/api/v1/engine-incidents", query_string={"open": "false"}, headers=auth("admin")
    )
    assert all_incidents.get_json()["total"] == 1
    assert instance(key).status == InstanceStatus.RUNNING
