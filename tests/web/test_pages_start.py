"""发起流程 pages through the test client: the catalogue per role, the start form, a refused submission that
starts nothing, a start landing on the starter's task or on the receipt, and who sees a receipt."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.extensions import db
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance
from tests.cases.territory import EAST_GRID, WEST_GRID, assign
from tests.conftest import PASSWORD
from tests.helpers import fingerprint
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import seed_people

VISIT = {
    "household": "3栋2单元501 王大爷",
    "household_kind": "elderly_alone",
    "findings": "独居,身体尚好,家中燃气灶老化。",
    "needs_follow_up": "no",
}


@pytest.fixture
def seeded(app: Any) -> None:
    seed_people(app)
    create_user("leader", PASSWORD, "grid_leader")
    create_user("leader2", PASSWORD, "grid_leader")
    db.session.commit()
    assign("leader", EAST_GRID)
    assign("leader2", EAST_GRID)
    assign("leader2", WEST_GRID)
    db.session.commit()


def _submit(client: Any, key: str, body: dict[str, Any]) -> Any:
    token = csrf_token(client, f"/m/start/{key}")
    return client.post(f"/m/start/{key}", json=body, headers={"X-CSRFToken": token})


def test_the_catalogue_shows_a_grid_leader_what_they_may_start(client: Any, seeded: None) -> None:
    sign_in(client, "leader")
    page = client.get("/m/start/").get_data(as_text=True)
    assert "发起流程" in page and 'data-process-key="visit_record"' in page and "走访登记" in page
    assert 'href="/m/start/"' in client.get("/m/").get_data(as_text=True)  # in the navigation
    form = client.get("/m/start/visit_record").get_data(as_text=True)
    assert 'id="task-form"' in form and 'data-complete-url="/m/start/visit_record"' in form
    model = json.loads(re.search(r"data-form='([^']*)'", form).group(1).replace("&#39;", "'"))  # type: ignore[union-attr]
    assert [f["name"] for f in model["fields"]][:3] == ["household", "household_kind", "findings"]
    assert "start_form.js" in form and "网格:" in form  # one grid: named, not asked


def test_other_roles_see_an_empty_catalogue_and_may_not_open_the_form(client: Any, seeded: None) -> None:
    sign_in(client, "worker")
    assert "暂无您的角色可以发起的流程" in client.get("/m/start/").get_data(as_text=True)
    assert client.get("/m/start/visit_record").status_code == 403
    assert client.get("/m/start/case_handling").status_code == 404
    token = csrf_token(client, "/m/start/")
    before = fingerprint()
    refused = client.post("/m/start/visit_record", json={"data": VISIT}, headers={"X-CSRFToken": token})
    assert refused.status_code == 403
    assert fingerprint() == before


def test_bad_data_is_refused_field_by_field_in_chinese_and_starts_nothing(client: Any, seeded: None) -> None:
    sign_in(client, "leader")
    token = csrf_token(client, "/m/start/visit_record")
    before = fingerprint()
    answer = client.post(
        "/m/start/visit_record",
        json={"data": {**VISIT, "findings": "", "needs_follow_up": "yes"}},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 422
    errors = {e["pointer"]: e["message"] for e in answer.get_json()["errors"]}
    assert set(errors) == {"/findings", "/follow_up_item"}
    assert all(re.search(r"[\u4e00-\u9fff]", message) for message in errors.values())
    assert fingerprint() == before


def test_a_start_without_follow_up_lands_on_the_receipt(client: Any, seeded: None) -> None:
    sign_in(client, "leader")
    answer = _submit(client, "visit_record", {"data": VISIT})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["task_id"] is None and body["redirect"] == f"/m/start/instances/{body['instance_id']}"
    instance = db.session.get(ProcessInstance, body["instance_id"])
    assert instance is not None and instance.status == InstanceStatus.COMPLETED
    receipt = client.get(body["redirect"]).get_data(as_text=True)
    assert "已发起:走访登记" in receipt and "已完成,无需后续办理" in receipt
    # only the starter sees the receipt
    client.get("/logout")
    sign_in(client, "leader2")
    assert client.get(body["redirect"]).status_code == 404


def test_a_start_with_follow_up_lands_on_the_starters_task(client: Any, seeded: None) -> None:
    sign_in(client, "leader2")
    body = {
        "data": {**VISIT, "needs_follow_up": "yes", "follow_up_item": "联系燃气公司"},
        "grid_code": WEST_GRID,
    }
    answer = _submit(client, "visit_record", body).get_json()
    task = db.session.get(HumanTask, answer["task_id"])
    assert task is not None and task.element_id == "follow_up" and task.grid_code == WEST_GRID
    assert answer["redirect"] == f"/m/tasks/{task.id}"
    page = client.get(answer["redirect"]).get_data(as_text=True)
    assert "走访跟进" in page and "已发起。下一步由您办理" in page
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "process.started_from_form")
    ).scalar_one()
    assert event.data["grid_code"] == WEST_GRID


def test_a_leader_of_two_grids_chooses_one(client: Any, seeded: None) -> None:
    sign_in(client, "leader2")
    form = client.get("/m/start/visit_record").get_data(as_text=True)
    assert 'id="start-grid"' in form and form.count("<option value=") == 2
    token = csrf_token(client, "/m/start/visit_record")
    before = fingerprint()
    answer = client.post("/m/start/visit_record", json={"data": VISIT}, headers={"X-CSRFToken": token})
    assert answer.status_code == 422 and "grid_code" in answer.get_json()["details"]
    assert fingerprint() == before


def test_a_start_that_opens_a_case_for_someone_else_lands_on_the_receipt_with_the_case(
    client: Any, seeded: None
) -> None:
    from tests.processes.test_startable import case_starting_diagram, deploy_patrol

    deploy_patrol(case_starting_diagram(to_starter=False))
    sign_in(client, "leader")
    assert "将立案" in client.get("/m/start/").get_data(as_text=True)
    answer = _submit(client, "patrol_report", {"data": VISIT}).get_json()
    assert answer["task_id"] is None
    receipt = client.get(answer["redirect"]).get_data(as_text=True)
    instance = db.session.get(ProcessInstance, answer["instance_id"])
    assert instance is not None and instance.case_id is not None
    assert instance.business_key in receipt and "核查" in receipt  # the case, and its open step


def test_the_start_pages_speak_english_when_chosen(client: Any, seeded: None) -> None:
    sign_in(client, "leader")
    client.get("/lang/en")
    assert "Start a process" in client.get("/m/start/").get_data(as_text=True)
    form = client.get("/m/start/visit_record").get_data(as_text=True)
    assert "Household visit" in form and "Elderly living alone" in form
    token = csrf_token(client, "/m/start/visit_record")
    refused = client.post("/m/start/visit_record", json={"data": {}}, headers={"X-CSRFToken": token})
    messages = [e["message"] for e in refused.get_json()["errors"]]
    assert messages and not any(re.search(r"[\u4e00-\u9fff]", m) for m in messages)
