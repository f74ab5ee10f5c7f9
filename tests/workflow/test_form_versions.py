"""Forms frozen per deployment (#16 item 6), on SQLite and PostgreSQL: a form edited in the designer's form
editor while a task of the previous version is open leaves that task its form (the API, the task page,
validation); the next deployment of the same diagram freezes the new form and its tasks get it; migrating an
instance moves its open task to the target version's form."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from app.audit.models import AuditEvent
from app.auth.roles import ALL_ROLES
from app.config import PROJECT_ROOT
from app.extensions import db
from app.web.designer import forms as form_editor
from app.workflow import deploy, form_versions, instances
from app.workflow.form_version_models import DefinitionForm, FormVersion
from app.workflow.forms import FormRegistry
from app.workflow.models import HumanTask, ProcessDefinition, TaskStatus
from tests.factories import app_on_both_backends
from tests.probes import definitions, deploy_diagram, user_task
from tests.web.pages import csrf_token, post_form, sign_in

app = app_on_both_backends
pytestmark = pytest.mark.usefixtures("users")

FORM = "fv_note.schema.json"
UI = "fv_note.uischema.json"
KEY = "fv_probe"


def _schema(max_length: int, *, with_place: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"note": {"title": "备注", "type": "string", "maxLength": max_length}}
    required = ["note"]
    if with_place:
        properties["place"] = {"title": "地点", "type": "string", "minLength": 2}
        required.append("place")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "记录",
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _ui(title_en: str) -> dict[str, Any]:
    return {"ui:locales": {"en": {"title": title_en}}}


@pytest.fixture
def forms_folder(app: Flask, tmp_path: Path) -> Path:
    """A copy of forms/ for this test (the editor writes files), with the probe's form at its first text."""
    folder = tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "forms", folder)
    (folder / FORM).write_text(
        json.dumps(_schema(10, with_place=False), ensure_ascii=False), encoding="utf-8"
    )
    (folder / UI).write_text(json.dumps(_ui("Note v1")), encoding="utf-8")
    registry = FormRegistry(folder)
    app.extensions["gridcase.forms"] = registry
    app.extensions["gridcase.deploy_rules"] = lambda: deploy.default_rules(registry.exists, set(ALL_ROLES))
    return folder


def _diagram() -> bytes:
    task = user_task(
        "note", "f1", "f2", {"formJsonSchemaFilename": FORM, "candidateRoles": "dispatcher"}, "记录"
    )
    return definitions(
        "fv_definitions",
        f"""  <bpmn:process id="{KEY}" name="表单版本探针" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="note" />
{task}
    <bpmn:sequenceFlow id="f2" sourceRef="note" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def _start() -> HumanTask:
    outcome = instances.start_instance(KEY, business_key=None, variables={})
    db.session.commit()
    (task,) = outcome.created_tasks
    return task


def _edit_form(schema: dict[str, Any], ui: dict[str, Any]) -> None:
    """Save the form through the designer's form editor service, as its page does, and commit."""
    source = form_editor.load_form_source(FORM)
    saved = form_editor.save_form(
        FORM, json.dumps(schema, ensure_ascii=False), json.dumps(ui), source.version_hash, actor=None
    )
    assert saved.changed
    db.session.commit()


def _task(client: Any, auth: Any, task_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/tasks/{task_id}", headers=auth("dispatcher"))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _complete(client: Any, auth: Any, task_id: int, data: dict[str, Any]) -> Any:
    response = client.post(
        f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=auth("dispatcher")
    )
    db.session.expire_all()
    return response


def test_an_open_task_keeps_its_form_after_an_edit_and_the_next_deployment_gets_the_new_one(
    client, auth, forms_folder
):
    (first,) = deploy_diagram("fv_probe.bpmn", _diagram())
    assert first.created and first.definition.version == 1
    old_task = _start()
    v1 = db.session.get(FormVersion, old_task.form_version_id)
    assert (v1.name, v1.version) == (FORM, 1)
    assert v1.schema == _schema(10, with_place=False) and v1.ui_schema == _ui("Note v1")

    _edit_form(_schema(100, with_place=True), _ui("Note v2"))
    assert json.loads((forms_folder / FORM).read_text(encoding="utf-8")) == _schema(100, with_place=True)

    # the open task: the API still gives the form it was created with
    body = _task(client, auth, old_task.id)
    assert set(body["form_schema"]["properties"]) == {"note"}
    assert body["form_schema"]["properties"]["note"]["maxLength"] == 10
    assert body["ui_schema"] == _ui("Note v1")
    # and validates with it: v1's maxLength 10 still refuses, v2's required "place" is not asked for
    refused = _complete(client, auth, old_task.id, {"note": "x" * 20})
    assert refused.status_code == 422
    assert set(refused.get_json()["details"]) == {"note"}
    assert db.session.get(HumanTask, old_task.id).status == TaskStatus.READY

    # the same diagram deployed again freezes the edited form: a new version, whose tasks get it
    (second,) = deploy_diagram("fv_probe.bpmn", _diagram())
    assert second.created and second.definition.version == 2
    assert second.definition.content_hash == first.definition.content_hash
    assert second.definition.frozen_hash != first.definition.frozen_hash
    deployed = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "process.deployed").order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert deployed.after["forms"] == {FORM: 2}
    (again,) = deploy_diagram("fv_probe.bpmn", _diagram())
    assert not again.created and again.definition.id == second.definition.id

    new_task = _start()
    body = _task(client, auth, new_task.id)
    assert set(body["form_schema"]["properties"]) == {"note", "place"}
    assert body["ui_schema"] == _ui("Note v2")
    refused = _complete(client, auth, new_task.id, {"note": "x" * 20})
    assert refused.status_code == 422 and set(refused.get_json()["details"]) == {"place"}

    # the old task completes with what its form asks, nothing more
    done = _complete(client, auth, old_task.id, {"note": "短"})
    assert done.status_code == 200, done.get_json()
    task = db.session.get(HumanTask, old_task.id)
    assert task.status == TaskStatus.COMPLETED and task.submitted_data == {"note": "短"}
    done = _complete(client, auth, new_task.id, {"note": "x" * 20, "place": "北门"})
    assert done.status_code == 200, done.get_json()

    links = db.session.execute(
        select(ProcessDefinition.version, FormVersion.version)
        .join(DefinitionForm, DefinitionForm.definition_id == ProcessDefinition.id)
        .join(FormVersion, FormVersion.id == DefinitionForm.form_version_id)
        .where(ProcessDefinition.key == KEY)
        .order_by(ProcessDefinition.version)
    ).all()
    assert [tuple(row) for row in links] == [(1, 1), (2, 2)]


def test_the_task_page_draws_and_checks_the_frozen_form(app, client, auth, forms_folder):
    deploy_diagram("fv_probe.bpmn", _diagram())
    old_task = _start()
    _edit_form(_schema(100, with_place=True), _ui("Note v2"))
    deploy_diagram("fv_probe.bpmn", _diagram())

    sign_in(client, "dispatcher")
    claimed = post_form(client, f"/m/tasks/{old_task.id}/claim", {}, page=f"/m/tasks/{old_task.id}")
    assert claimed.status_code == 302
    page = client.get(f"/m/tasks/{old_task.id}")
    assert page.status_code == 200
    model = re.search(r"data-form='([^']*)'", page.get_data(as_text=True))
    assert model is not None
    fields = json.loads(html.unescape(model.group(1)))["fields"]
    assert [(f["name"], f["label"], f["checks"]) for f in fields] == [("note", "备注", {"maxLength": 10})]
    token = csrf_token(client, f"/m/tasks/{old_task.id}")
    path = f"/m/tasks/{old_task.id}/complete"
    refused = client.post(path, json={"data": {"note": "x" * 20}}, headers={"X-CSRFToken": token})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.get_json()["errors"]} == {"note"}
    done = client.post(path, json={"data": {"note": "好"}}, headers={"X-CSRFToken": token})
    assert done.status_code == 200, done.get_json()
    db.session.expire_all()
    assert db.session.get(HumanTask, old_task.id).status == TaskStatus.COMPLETED


def test_a_form_deployed_unchanged_is_one_version_shared_by_deployments(forms_folder):
    deploy_diagram("fv_probe.bpmn", _diagram())
    other = _diagram().replace(b"fv_probe", b"fv_other").replace(b"fv_definitions", b"fv_other_definitions")
    deploy_diagram("fv_other.bpmn", other)
    versions = db.session.execute(select(FormVersion).where(FormVersion.name == FORM)).scalars().all()
    assert len(versions) == 1
    keys = {key for key, _ in form_versions.history(FORM, versions[0].content_hash)[0].deployments}
    assert keys == {"fv_probe", "fv_other"}
    # a change in spacing or key order of the file is the same content
    (forms_folder / FORM).write_text(json.dumps(_schema(10, with_place=False), indent=4), encoding="utf-8")
    (again,) = deploy_diagram("fv_probe.bpmn", _diagram())
    assert not again.created


def test_the_form_editor_says_what_a_save_changes_and_lists_the_deployed_versions(client, forms_folder):
    deploy_diagram("fv_probe.bpmn", _diagram())
    sign_in(client, "designer")
    page = client.get(f"/design/forms/{FORM}").get_data(as_text=True)
    assert "已打开的任务继续使用其流程版本部署时的表单" in page
    assert 'data-form-version="1" class="current"' in page and "fv_probe v1" in page
    assert 'id="form-not-deployed"' not in page

    _edit_form(_schema(100, with_place=True), _ui("Note v2"))
    page = client.get(f"/design/forms/{FORM}").get_data(as_text=True)
    assert 'data-form-version="1"' in page and 'data-form-version="1" class="current"' not in page
    assert 'id="form-not-deployed"' in page  # saved, in no deployment yet

    deploy_diagram("fv_probe.bpmn", _diagram())
    page = client.get(f"/design/forms/{FORM}").get_data(as_text=True)
    assert 'data-form-version="2" class="current"' in page and "fv_probe v2" in page
    assert 'id="form-not-deployed"' not in page
    listing = client.get("/design/forms").get_data(as_text=True)
    assert "已打开的任务保持其版本的表单" in listing


def test_the_inbox_titles_tasks_from_their_frozen_forms_without_a_query_per_task(app, client, forms_folder):
    deploy_diagram("fv_probe.bpmn", _diagram())
    old = [_start() for _ in range(3)]
    _edit_form(_schema(10, with_place=False), _ui("Note v2"))
    deploy_diagram("fv_probe.bpmn", _diagram())
    new = [_start() for _ in range(3)]
    sign_in(client, "dispatcher")
    client.set_cookie("lang", "en")

    def inbox() -> tuple[str, int]:
        statements: list[str] = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731  (before_cursor_execute's statement)
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            page = client.get("/m/?scope=claimable").get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return page, len(statements)

    page, _cold = inbox()
    for task in old:
        assert re.search(rf'/m/tasks/{task.id}"[^>]*>Note v1<', page), task.id
    for task in new:
        assert re.search(rf'/m/tasks/{task.id}"[^>]*>Note v2<', page), task.id
    # warm, the English inbox asks the database exactly what the Chinese one asks (which reads no form)
    _page, english = inbox()
    client.set_cookie("lang", "zh_CN")
    _page, chinese = inbox()
    assert english == chinese


def test_migrating_an_instance_moves_its_open_task_to_the_target_versions_form_and_undo_back(
    client, auth, forms_folder
):
    deploy_diagram("fv_probe.bpmn", _diagram())
    task = _start()
    _edit_form(_schema(100, with_place=True), _ui("Note v2"))
    (second,) = deploy_diagram("fv_probe.bpmn", _diagram())
    v1, v2 = task.form_version_id, form_versions.version_id(second.definition.id, FORM)
    assert v1 != v2 and v2 is not None

    moved = client.post(
        f"/api/v1/process-definitions/{KEY}/migrations", json={"target_version": 2}, headers=auth("admin")
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["counts"] == {"migrated": 1}
    db.session.expire_all()
    row = db.session.get(HumanTask, task.id)
    assert row.status == TaskStatus.READY and row.form_version_id == v2  # the same task row, the new form
    assert set(_task(client, auth, task.id)["form_schema"]["properties"]) == {"note", "place"}
    migrated = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "instance.migrated")
    ).scalar_one()
    assert migrated.data["relabelled_task_ids"] == [task.id]

    migration_id = moved.get_json()["items"][0]["migration_id"]
    undone = client.post(f"/api/v1/instance-migrations/{migration_id}/undo", headers=auth("admin"))
    assert undone.status_code == 200, undone.get_json()
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).form_version_id == v1
    assert set(_task(client, auth, task.id)["form_schema"]["properties"]) == {"note"}
