"""The operations pages through the Flask test client: who may use them, the list's filters, pagination and
empty state, the instance page (incident, variables, history), and the repair forms (CSRF, reason, field
errors in zh-CN that change nothing)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.workflow.models import InstanceStatus
from tests.helpers import fingerprint
from tests.web.pages import PageClient, csrf_token, sign_in
from tests.workflow.ops_probes import deploy_probes, fail_at_compute, instance_row, start_probe

OUTSIDERS = ["resident", "worker", "dispatcher", "supervisor", "handler"]


@pytest.fixture
def probes(app, users):
    deploy_probes()


@pytest.fixture
def browse(app, users):
    app.test_client_class = PageClient

    def signed_in(username: str) -> FlaskClient:
        client = app.test_client()
        sign_in(client, username)
        return client

    return signed_in


def _form(client: FlaskClient, instance_id: int, operation: str, data: dict[str, Any]) -> Any:
    token = csrf_token(client, f"/operate/instances/{instance_id}")
    return client.post(f"/operate/instances/{instance_id}/{operation}", data={**data, "csrf_token": token})


@pytest.mark.parametrize("who", OUTSIDERS)
def test_other_roles_get_403(browse, probes, who):
    instance_id = start_probe()
    client = browse(who)
    before = fingerprint()
    assert client.get("/operate/instances").status_code == 403
    assert client.get(f"/operate/instances/{instance_id}").status_code == 403
    assert client.get(f"/operate/instances/{instance_id}/diagram.json").status_code == 403
    token = csrf_token(client, "/operate/instances")  # the 403 page carries the token too
    response = client.post(
        f"/operate/instances/{instance_id}/suspend", data={"reason": "试试看", "csrf_token": token}
    )
    assert response.status_code == 403
    assert fingerprint() == before


def test_anonymous_is_sent_to_sign_in(app, probes):
    response = app.test_client().get("/operate/instances")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_list_filters_paginates_and_has_an_empty_state(browse, probes):
    ids = [start_probe() for _ in range(22)]
    fail_at_compute(ids[0])
    client = browse("admin")
    page = client.get("/operate/instances").get_data(as_text=True)
    assert "共 22 个实例" in page and "第 1 / 2 页" in page
    assert page.count("data-instance-id=") == 20
    errored = client.get("/operate/instances?status=error").get_data(as_text=True)
    assert re.findall(r'data-instance-id="(\d+)"', errored) == [str(ids[0])]
    assert "计算" in errored  # the incident's element
    with_incident = client.get("/operate/instances?has_incident=true").get_data(as_text=True)
    assert re.findall(r'data-instance-id="(\d+)"', with_incident) == [str(ids[0])]
    empty = client.get("/operate/instances?process_key=ops_probe&version=7").get_data(as_text=True)
    assert "没有符合条件的流程实例" in empty
    bad = client.get("/operate/instances?version=abc&started_from=yesterday")
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="err-version"' in text and 'id="err-started_from"' in text


def test_the_instance_page_shows_the_incident_variables_and_history(browse, probes):
    instance_id = start_probe(note="路灯")
    fail_at_compute(instance_id)
    page = browse("admin").get(f"/operate/instances/{instance_id}").get_data(as_text=True)
    assert 'id="open-incident"' in page and 'data-element-id="compute"' in page
    assert "factor" in page  # the reason names the missing variable
    assert 'data-variable="note"' in page and "&#34;路灯&#34;" in page
    assert 'data-action="incident.opened"' in page
    for form in ("op-retry", "op-skip", "op-move", "op-variable", "op-terminate"):
        assert f'id="{form}"' in page
    assert 'id="op-suspend"' not in page  # suspend is for running instances
    diagram = browse("designer").get(f"/operate/instances/{instance_id}/diagram.json").get_json()
    assert diagram["incident"] == ["compute"] and "compute" in diagram["active"]
    assert "<bpmn:scriptTask" in diagram["xml"]


def test_a_form_edits_a_variable_and_retries(browse, probes):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    client = browse("designer")  # a test instance: designers may operate on it
    response = _form(
        client, instance_id, "variable", {"name": "factor", "value_json": "21", "reason": "补上系数"}
    )
    assert response.status_code == 302
    response = _form(client, instance_id, "retry", {"reason": "系数已补"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已重试：实例重新运行。" in page
    assert instance_row(instance_id).status == InstanceStatus.RUNNING
    assert 'id="open-incident"' not in page and 'data-element-id="check"' in page


@pytest.mark.parametrize(
    ("operation", "data", "field", "words"),
    [
        (
            "variable",
            {"name": "factor", "value_json": "{oops", "reason": "补上系数"},
            "value_json",
            "不是合法的 JSON",
        ),
        ("variable", {"name": "factor", "value_json": "1", "reason": ""}, "reason", "请填写操作原因"),
        ("move", {"to_element_id": "nowhere", "reason": "移动一下"}, "to_element_id", "nowhere"),
        ("terminate", {"reason": ""}, "reason", "请填写操作原因"),
    ],
)
def test_a_refused_form_names_the_field_and_changes_nothing(browse, probes, operation, data, field, words):
    instance_id = start_probe()
    fail_at_compute(instance_id)
    client = browse("admin")
    csrf_token(client, f"/operate/instances/{instance_id}")
    before = fingerprint()
    response = _form(client, instance_id, operation, data)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    match = re.search(rf'id="err-{operation}-{field}"[^>]*>([^<]*)<', text)
    assert match and words in match.group(1), text[:2000]
    assert fingerprint() == before


def test_a_form_without_csrf_is_refused(browse, probes):
    instance_id = start_probe()
    client = browse("admin")
    before = fingerprint()
    response = client.post(f"/operate/instances/{instance_id}/suspend", data={"reason": "没有令牌"})
    assert response.status_code == 400
    assert fingerprint() == before
    db.session.rollback()


def test_an_operation_that_does_not_fit_is_409_on_the_page(browse, probes):
    instance_id = start_probe()
    client = browse("admin")
    before = fingerprint()
    response = _form(client, instance_id, "resume", {"reason": "恢复一下"})
    assert response.status_code == 409
    assert 'id="op-problem"' in response.get_data(as_text=True)
    assert fingerprint() == before
