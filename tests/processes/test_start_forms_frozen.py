"""Start forms frozen per deployment (#16 items 6 and 8): the start event's form is frozen with the deployment
like a user task's. Editing it in the form editor leaves the deployed version's 发起流程 page, API and
validation on the old fields; the next deployment freezes the edited form and starts with it."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.roles import ALL_ROLES
from app.config import PROJECT_ROOT
from app.extensions import db
from app.web.designer import forms as form_editor
from app.workflow import deploy
from app.workflow.form_version_models import DefinitionForm, FormVersion
from app.workflow.forms import FormRegistry
from app.workflow.models import ProcessDefinition, ProcessInstance
from tests.helpers import fingerprint
from tests.probes import definitions, deploy_diagram
from tests.web.pages import sign_in

pytestmark = pytest.mark.usefixtures("users")

FORM = "sf_note.schema.json"
KEY = "sf_probe"
STARTER = "admin"  # a role that starts without a grid


def _schema(*, with_place: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"note": {"title": "备注", "type": "string", "maxLength": 10}}
    required = ["note"]
    if with_place:
        properties["note"]["maxLength"] = 100
        properties["place"] = {"title": "发生地点", "type": "string", "minLength": 2}
        required.append("place")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "登记",
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


@pytest.fixture
def forms_folder(app: Flask, tmp_path: Path) -> Path:
    """A copy of forms/ (the editor writes files) with the probe's start form at its first text."""
    folder = tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "forms", folder)
    (folder / FORM).write_text(json.dumps(_schema(with_place=False), ensure_ascii=False), encoding="utf-8")
    registry = FormRegistry(folder)
    app.extensions["gridcase.forms"] = registry
    app.extensions["gridcase.deploy_rules"] = lambda: deploy.default_rules(registry.exists, set(ALL_ROLES))
    return folder


def _diagram() -> bytes:
    return definitions(
        "sf_definitions",
        f"""  <bpmn:process id="{KEY}" name="登记探针" isExecutable="true">
    <bpmn:startEvent id="start" name="登记">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="{FORM}" />
        <spiffworkflow:property name="candidateRoles" value="{STARTER}" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def _edit_form() -> None:
    """Add a required 发生地点 through the designer's form editor service, as its page does."""
    source = form_editor.load_form_source(FORM)
    saved = form_editor.save_form(
        FORM, json.dumps(_schema(with_place=True), ensure_ascii=False), "", source.version_hash, actor=None
    )
    assert saved.changed
    db.session.commit()


def _page_fields(client: Any) -> list[tuple[str, str]]:
    """The fields the 发起流程 page draws (its form model, as the task pages carry it)."""
    page = client.get(f"/m/start/{KEY}")
    assert page.status_code == 200
    model = re.search(r"data-form='([^']*)'", page.get_data(as_text=True))
    assert model is not None
    return [(f["name"], f["label"]) for f in json.loads(html.unescape(model.group(1)))["fields"]]


def _start(client: Any, headers: dict[str, str], data: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/startable-processes/{KEY}/instances", json={"data": data}, headers=headers)


def test_an_edited_start_form_waits_for_the_next_deployment(app, client, auth, forms_folder):
    (first,) = deploy_diagram("sf_probe.bpmn", _diagram())
    frozen = db.session.execute(
        select(FormVersion)
        .join(DefinitionForm, DefinitionForm.form_version_id == FormVersion.id)
        .where(DefinitionForm.definition_id == first.definition.id)
    ).scalar_one()
    assert (frozen.name, frozen.version, frozen.schema) == (FORM, 1, _schema(with_place=False))

    _edit_form()
    headers = auth(STARTER)

    # version 1 is still the one that starts: its page and its API give the form it froze …
    detail = client.get(f"/api/v1/startable-processes/{KEY}", headers=headers).get_json()
    assert detail["version"] == 1 and set(detail["form_schema"]["properties"]) == {"note"}
    sign_in(client, STARTER)
    assert _page_fields(client) == [("note", "备注")]
    # … and validate with it: v1's maxLength 10 refuses, v2's required place is not asked for
    before = fingerprint()
    refused = _start(client, headers, {"note": "x" * 20})
    assert refused.status_code == 422 and set(refused.get_json()["details"]) == {"note"}
    assert fingerprint() == before
    started = _start(client, headers, {"note": "短"})
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["version"] == 1

    # the same diagram deployed again freezes the edited start form: version 2 starts with the new fields
    (second,) = deploy_diagram("sf_probe.bpmn", _diagram())
    assert second.created and second.definition.version == 2
    assert second.definition.frozen_hash != first.definition.frozen_hash
    detail = client.get(f"/api/v1/startable-processes/{KEY}", headers=headers).get_json()
    assert detail["version"] == 2 and set(detail["form_schema"]["properties"]) == {"note", "place"}
    assert _page_fields(client) == [("note", "备注"), ("place", "发生地点")]
    refused = _start(client, headers, {"note": "x" * 20})
    assert refused.status_code == 422 and set(refused.get_json()["details"]) == {"place"}
    started = _start(client, headers, {"note": "x" * 20, "place": "北门"})
    assert started.status_code == 201, started.get_json()
    instance = db.session.get(ProcessInstance, started.get_json()["instance_id"])
    assert instance is not None and instance.definition_id == second.definition.id

    links = db.session.execute(
        select(ProcessDefinition.version, FormVersion.version)
        .join(DefinitionForm, DefinitionForm.definition_id == ProcessDefinition.id)
        .join(FormVersion, FormVersion.id == DefinitionForm.form_version_id)
        .where(ProcessDefinition.key == KEY)
        .order_by(ProcessDefinition.version)
    ).all()
    assert [tuple(row) for row in links] == [(1, 1), (2, 2)]
    deployed = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "process.deployed").order_by(AuditEvent.id.desc())
    ).scalars()
    assert next(deployed).after["forms"] == {FORM: 2}


def test_a_start_form_deployed_unchanged_is_the_same_version(forms_folder):
    (first,) = deploy_diagram("sf_probe.bpmn", _diagram())
    (again,) = deploy_diagram("sf_probe.bpmn", _diagram())
    assert not again.created and again.definition.id == first.definition.id
