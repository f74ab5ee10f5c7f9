"""The designer's decision table pages: the list, versions, the dmn-js editor page and its JSON routes
(validate, deploy as the next version), a new table from an empty one, and who may use them."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.config import PROJECT_ROOT
from app.extensions import db
from app.web.designer import decision_tables
from app.workflow import deploy
from app.workflow.models import ProcessDefinition
from tests.web.pages import PageClient, csrf_token, post_form, sign_in

ROUTE_DMN = (PROJECT_ROOT / "bpmn" / "sensor_alarm_route.dmn").read_text(encoding="utf-8")


@pytest.fixture
def app(app: Flask, users: dict[str, Any]) -> Flask:
    """The shipped table and the sensor alarm process that calls it, deployed."""
    app.test_client_class = PageClient
    rules = app.extensions["gridcase.deploy_rules"]()
    for name in ("sensor_alarm_route.dmn", "sensor_alarm.bpmn"):
        deploy.deploy_file(name, (PROJECT_ROOT / "bpmn" / name).read_bytes(), rules)
    db.session.commit()
    return app


def _client(app: Flask, who: str) -> Any:
    client = app.test_client()
    sign_in(client, who)
    return client


def _post(client: Any, path: str, xml: str) -> Any:
    token = csrf_token(client, "/design/decisions")
    return client.post(path, json={"xml": xml}, headers={"X-CSRFToken": token, "Accept": "application/json"})


def _versions(key: str) -> list[int]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessDefinition.version)
            .where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version)
        ).scalars()
    )


def test_the_pages_list_the_table_its_versions_and_who_calls_it(app):
    client = _client(app, "designer")
    listing = client.get("/design/decisions").get_data(as_text=True)
    assert 'data-table-key="sensor_alarm_route"' in listing
    assert "传感器报警分流" in listing
    versions = client.get("/design/decisions/sensor_alarm_route").get_data(as_text=True)
    assert 'data-version="1"' in versions
    assert 'data-caller="sensor_alarm"' in versions and "decide_route" in versions
    editor = client.get("/design/decisions/sensor_alarm_route/edit")
    assert editor.status_code == 200
    page = editor.get_data(as_text=True)
    assert 'data-xml-url="/design/decisions/sensor_alarm_route/versions/1.dmn"' in page
    assert "dmn-modeler.production.min.js" in page
    xml = client.get("/design/decisions/sensor_alarm_route/versions/1.dmn")
    assert xml.status_code == 200 and xml.get_data(as_text=True) == ROUTE_DMN
    assert client.get("/design/decisions/sensor_alarm_route/edit?version=7").status_code == 404
    # The process list links a DMN to this editor.
    assert "/design/decisions/sensor_alarm_route/edit" in client.get("/design/processes").get_data(
        as_text=True
    )


@pytest.mark.parametrize("who", ["resident", "worker", "dispatcher", "supervisor"])
def test_only_designers_and_admins(app, who):
    client = _client(app, who)
    assert client.get("/design/decisions").status_code == 403
    assert client.get("/design/decisions/sensor_alarm_route/edit").status_code == 403
    assert _post(client, "/design/decisions/sensor_alarm_route/deploy", ROUTE_DMN).status_code == 403
    assert _versions("sensor_alarm_route") == [1]


def test_validate_lists_every_bad_cell_and_stores_nothing(app):
    client = _client(app, "designer")
    broken = ROUTE_DMN.replace('<text>!= "red"</text>', "<text>[1..3]</text>").replace(
        '<text>"dispatch"</text>', '<text>"dispatch</text>'
    )
    body = _post(client, "/design/decisions/sensor_alarm_route/validate", broken).get_json()
    assert body["valid"] is False
    assert len(body["problems"]) == 2
    assert all(p["element_id"] == "sensor_alarm_route" for p in body["problems"])
    assert any("1 <= ? <= 3" in p["message"] for p in body["problems"])
    refused = _post(client, "/design/decisions/sensor_alarm_route/deploy", broken)
    assert refused.status_code == 422 and len(refused.get_json()["details"]["problems"]) == 2
    assert _versions("sensor_alarm_route") == [1]
    assert _post(client, "/design/decisions/sensor_alarm_route/validate", ROUTE_DMN).get_json() == {
        "valid": True,
        "decisions": ["sensor_alarm_route"],
        "problems": [],
    }


def test_deploy_makes_the_next_version_and_audits_it(app, users):
    client = _client(app, "designer")
    edited = ROUTE_DMN.replace('<text>!= "red"</text>', '<text>? not in ("red", "orange")</text>')
    response = _post(client, "/design/decisions/sensor_alarm_route/deploy", edited)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 2
    assert response.get_json()["edit_url"] == "/design/decisions/sensor_alarm_route/edit?version=2"
    assert _versions("sensor_alarm_route") == [1, 2]
    event = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "process.deployed").order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert event is not None and event.actor_id == users["designer"].id
    assert event.after["key"] == "sensor_alarm_route" and event.after["version"] == 2
    again = _post(client, "/design/decisions/sensor_alarm_route/deploy", edited)
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert _versions("sensor_alarm_route") == [1, 2]


def test_a_decision_a_process_calls_cannot_be_removed(app):
    client = _client(app, "designer")
    renamed = ROUTE_DMN.replace('decision id="sensor_alarm_route"', 'decision id="alarm_route_2"')
    response = _post(client, "/design/decisions/sensor_alarm_route/deploy", renamed)
    assert response.status_code == 422
    [problem] = response.get_json()["details"]["problems"]
    assert problem["element_id"] == "sensor_alarm_route"
    assert "called by a process" in problem["message"]
    assert _versions("sensor_alarm_route") == [1]


def test_a_new_table_starts_empty_and_deploys_as_version_1(app):
    client = _client(app, "designer")
    assert client.get("/design/decisions/new").status_code == 200
    page = post_form(client, "/design/decisions/new", {"key": "report_priority", "name": "上报优先级"})
    assert page.status_code == 200  # type: ignore[attr-defined]
    html = page.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "data-empty-xml=" in html and 'data-deploy-url="/design/decisions/report_priority/deploy"' in html
    assert _versions("report_priority") == []  # nothing stored until the deploy
    empty = decision_tables.empty_table("report_priority", "上报优先级")
    filled = (
        empty.replace("<text></text>", "<text>category_code</text>")
        .replace(
            "</decisionTable>",
            '<rule id="r1"><inputEntry id="r1_in"><text>"A01"</text></inputEntry>'
            '<outputEntry id="r1_out"><text>"high"</text></outputEntry></rule></decisionTable>',
        )
        .replace('name="" typeRef', 'name="priority" typeRef')
    )
    response = _post(client, "/design/decisions/report_priority/deploy", filled)
    assert response.status_code == 201, response.get_json()
    assert _versions("report_priority") == [1]
    definition = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == "report_priority")
    ).scalar_one()
    assert (definition.kind, definition.file_name, definition.name) == (
        "dmn",
        "report_priority.dmn",
        "上报优先级",
    )


def test_a_new_table_needs_a_free_key(app):
    client = _client(app, "designer")
    taken = post_form(
        client, "/design/decisions/new", {"key": "sensor_alarm", "name": "x"}, "/design/decisions/new"
    )
    assert taken.status_code == 409  # type: ignore[attr-defined]
    bad = post_form(client, "/design/decisions/new", {"key": "Bad Key", "name": "x"}, "/design/decisions/new")
    assert bad.status_code == 422  # type: ignore[attr-defined]
