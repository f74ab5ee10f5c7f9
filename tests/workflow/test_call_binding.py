"""Call activities bound to the callee's deployment (the default) or to its published version at the call's
start (``calledElementBinding="latest"``, #16 item 6), on SQLite and PostgreSQL: which callee version a call
runs (never a draft), that the choice survives a restore after later deployments, the form of a task in a
bound callee, and that deploying the same caller after its callee changed is a new version calling the new
callee."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app

from app.auth.roles import ALL_ROLES
from app.config import PROJECT_ROOT
from app.errors import InvalidInput
from app.extensions import db
from app.workflow import deploy, instances, publication
from app.workflow.form_version_models import FormVersion
from app.workflow.forms import FormRegistry
from app.workflow.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from tests.factories import app_on_both_backends
from tests.probes import definitions, deploy_diagram, user_task

app = app_on_both_backends
pytestmark = pytest.mark.usefixtures("users")

FORM = "fv_call.schema.json"


def _form(title: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "properties": {"note": {"type": "string"}},
    }


@pytest.fixture
def forms_folder(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "forms", folder)
    (folder / FORM).write_text(json.dumps(_form("表单一")), encoding="utf-8")
    registry = FormRegistry(folder)
    app.extensions["gridcase.forms"] = registry
    app.extensions["gridcase.deploy_rules"] = lambda: deploy.default_rules(registry.exists, set(ALL_ROLES))
    return folder


def _callee(task_name: str) -> bytes:
    task = user_task(
        "do_it", "c1", "c2", {"formJsonSchemaFilename": FORM, "candidateRoles": "dispatcher"}, task_name
    )
    return definitions(
        "fv_callee_definitions",
        f"""  <bpmn:process id="fv_callee" name="被调用流程" isExecutable="true">
    <bpmn:startEvent id="callee_start"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="callee_start" targetRef="do_it" />
{task}
    <bpmn:sequenceFlow id="c2" sourceRef="do_it" targetRef="callee_end" />
    <bpmn:endEvent id="callee_end"><bpmn:incoming>c2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def _caller(key: str, binding: str | None) -> bytes:
    properties = (
        ""
        if binding is None
        else "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="calledElementBinding" value="{binding}" />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )
    return definitions(
        f"{key}_definitions",
        f"""  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:callActivity id="call" name="调用" calledElement="fv_callee">{properties}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def _start(key: str) -> HumanTask:
    outcome = instances.start_instance(key, business_key=None, variables={})
    db.session.commit()
    assert outcome.incident is None
    (task,) = outcome.created_tasks
    return task


def _form_version(task: HumanTask) -> int:
    return db.session.get(FormVersion, task.form_version_id).version


def _complete(client: Any, auth: Any, task: HumanTask) -> ProcessInstance:
    response = client.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {}}, headers=auth("dispatcher"))
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    return db.session.get(ProcessInstance, task.instance_id)


def test_latest_runs_the_newest_callee_at_the_calls_start_and_deployment_the_frozen_one(
    client, auth, forms_folder
):
    deploy_diagram("fv_callee.bpmn", _callee("第一版"))
    deploy_diagram("fv_latest.bpmn", _caller("fv_latest", "latest"))
    deploy_diagram("fv_frozen.bpmn", _caller("fv_frozen", None))  # the default: deployment
    deploy_diagram("fv_explicit.bpmn", _caller("fv_explicit", "deployment"))

    # the callee changes (its task and its form) after the callers were deployed
    (forms_folder / FORM).write_text(json.dumps(_form("表单二")), encoding="utf-8")
    (callee_v2,) = deploy_diagram("fv_callee.bpmn", _callee("第二版"))
    assert callee_v2.created and callee_v2.definition.version == 2

    latest = _start("fv_latest")
    frozen = _start("fv_frozen")
    explicit = _start("fv_explicit")
    assert (latest.name, _form_version(latest)) == ("第二版", 2)  # the callee's own frozen form
    assert (frozen.name, _form_version(frozen)) == ("第一版", 1)  # the caller's deployment froze both
    assert (explicit.name, _form_version(explicit)) == ("第一版", 1)

    # a third callee version while the latest-bound call runs: that call keeps the version it started with,
    # also when its state is restored from the database (not the live object)
    deploy_diagram("fv_callee.bpmn", _callee("第三版"))
    instance = db.session.get(ProcessInstance, latest.instance_id)
    state = json.loads(instance.state)
    assert state["bound_calls"] == {next(iter(state["subprocesses"])): callee_v2.definition.id}
    restored = instances.restored_engine(instance.definition_id, instance.state)
    assert [t.name for t in restored.ready_user_tasks()] == ["第二版"]
    assert restored.ready_user_tasks()[0].definition_id == callee_v2.definition.id
    assert json.loads(restored.dump()) == state

    # the next latest-bound call runs the third version
    assert _start("fv_latest").name == "第三版"

    # and each call completes its caller
    for task in (latest, frozen, explicit):
        assert _complete(client, auth, task).status == InstanceStatus.COMPLETED
    assert db.session.get(HumanTask, latest.id).status == TaskStatus.COMPLETED


def test_latest_runs_the_published_callee_never_a_draft(forms_folder):
    deploy_diagram("fv_callee.bpmn", _callee("第一版"))
    deploy_diagram("fv_latest.bpmn", _caller("fv_latest", "latest"))
    rules = current_app.extensions["gridcase.deploy_rules"]()
    (draft,) = deploy.deploy_file("fv_callee.bpmn", _callee("草稿版"), rules, publish=False)
    db.session.commit()
    assert _start("fv_latest").name == "第一版"  # the studio's draft of the callee is not called
    publication.publish_version("fv_callee", draft.definition.version, None)
    db.session.commit()
    assert _start("fv_latest").name == "草稿版"


def test_deploying_the_same_caller_after_its_callee_changed_is_a_new_version_with_the_new_callee(
    forms_folder,
):
    deploy_diagram("fv_callee.bpmn", _callee("第一版"))
    (first,) = deploy_diagram("fv_frozen.bpmn", _caller("fv_frozen", "deployment"))
    (same,) = deploy_diagram("fv_frozen.bpmn", _caller("fv_frozen", "deployment"))
    assert not same.created
    deploy_diagram("fv_callee.bpmn", _callee("第二版"))
    (second,) = deploy_diagram("fv_frozen.bpmn", _caller("fv_frozen", "deployment"))
    assert second.created and second.definition.version == 2
    assert second.definition.content_hash == first.definition.content_hash
    assert _start("fv_frozen").name == "第二版"
    versions = db.session.query(ProcessDefinition).filter_by(key="fv_frozen").count()
    assert versions == 2


def test_an_unknown_binding_is_refused_at_deploy_naming_the_call(forms_folder):
    deploy_diagram("fv_callee.bpmn", _callee("第一版"))
    with pytest.raises(InvalidInput) as refused:
        deploy_diagram("fv_bad.bpmn", _caller("fv_bad", "newest"))
    problems = refused.value.details["problems"]
    reason = "calledElementBinding 'newest' is not one of: deployment, latest"
    assert [(p["element_id"], p["element_name"], p["reason"]) for p in problems] == [("call", "调用", reason)]
    assert problems[0]["message"].endswith("不能是 newest")
    assert db.session.query(ProcessDefinition).filter_by(key="fv_bad").count() == 0


def test_migrating_a_caller_leaves_a_latest_bound_callee_on_its_version(client, auth, forms_folder):
    deploy_diagram("fv_callee.bpmn", _callee("第一版"))
    deploy_diagram("fv_latest.bpmn", _caller("fv_latest", "latest"))
    deploy_diagram("fv_callee.bpmn", _callee("第二版"))
    task = _start("fv_latest")
    assert task.name == "第二版"
    # a new caller version (the call renamed), then the callee moves on again
    deploy_diagram(
        "fv_latest.bpmn",
        _caller("fv_latest", "latest").replace('name="调用"'.encode(), 'name="调用流程"'.encode()),
    )
    deploy_diagram("fv_callee.bpmn", _callee("第三版"))

    moved = client.post(
        "/api/v1/process-definitions/fv_latest/migrations", json={"target_version": 2}, headers=auth("admin")
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["counts"] == {"migrated": 1}
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, task.instance_id)
    assert db.session.get(ProcessDefinition, instance.definition_id).version == 2
    restored = instances.restored_engine(instance.definition_id, instance.state)
    assert [t.name for t in restored.ready_user_tasks()] == ["第二版"]
    row = db.session.get(HumanTask, task.id)
    assert row.status == TaskStatus.READY and row.name == "第二版"
    assert _complete(client, auth, row).status == InstanceStatus.COMPLETED
