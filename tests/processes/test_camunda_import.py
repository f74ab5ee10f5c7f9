"""Importing a Camunda 7 Modeler diagram: what converts, what the report asks a person to do, and that the
converted process deploys and runs once the JavaScript script is rewritten in Python."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.processes import juel
from app.workflow import instances, scheduler
from app.workflow.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance
from tests.helpers import complete_by_id, fingerprint

DIAGRAM = Path(__file__).parent / "diagrams" / "camunda_alarm_check.bpmn"
CONVERT = "/api/v1/process-definitions/convert"


def _upload(client: Any, path: str, content: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        path,
        data={"file": (io.BytesIO(content), "alarm_check.bpmn")},
        headers=headers,
        content_type="multipart/form-data",
    )


@pytest.fixture
def converted(client: Any, auth: Any, users: Any) -> dict[str, Any]:
    response = _upload(client, CONVERT, DIAGRAM.read_bytes(), auth("designer"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _changes(body: dict[str, Any], outcome: str) -> set[tuple[str, str]]:
    return {(c["element_id"], c["construct"]) for c in body["changes"] if c["outcome"] == outcome}


def test_the_report_lists_each_change_and_each_construct_that_needs_a_person(converted):
    assert converted["converted"] is True
    assert _changes(converted, "converted") == {
        ("Task_confirm", "camunda:formKey"),
        ("Task_confirm", "camunda:candidateGroups"),
        ("Task_confirm", "camunda:dueDate"),
        ("Timer_overdue", "timeDuration"),
        ("Flow_cleared", "conditionExpression"),
        ("Flow_not_cleared", "conditionExpression"),
    }
    assert _changes(converted, "needs_hand") == {
        ("Script_close", "script (javascript)"),
        ("Task_confirm", "camunda:taskListener"),
    }
    assert _changes(converted, "dropped") == {
        ("alarm_check", "camunda:historyTimeToLive"),
        ("alarm_check", "camunda:versionTag"),
        ("StartEvent_1", "camunda:initiator"),
        ("Script_close", "camunda:asyncBefore"),
    }
    assert converted["needs_hand"] == 2
    by_element = {(c["element_id"], c["construct"]): c for c in converted["changes"]}
    assert by_element[("Flow_cleared", "conditionExpression")]["after"] == (
        "clear_decision == 'cleared' and not escalated"
    )
    assert by_element[("Flow_not_cleared", "conditionExpression")]["after"] == (
        "clear_decision == 'not_cleared' or escalated"
    )
    assert by_element[("Timer_overdue", "timeDuration")]["after"] == "'PT2H'"
    assert by_element[("Task_confirm", "camunda:formKey")]["after"] == (
        "formJsonSchemaFilename = confirm_clear.schema.json"
    )
    script = by_element[("Script_close", "script (javascript)")]
    assert script["element_name"] == "记录解除"
    assert "javascript 脚本无法执行" in script["reason"]
    xml = converted["xml"]
    assert "camunda:" not in xml and "http://camunda.org/schema/1.0/bpmn" not in xml
    assert 'name="candidateRoles" value="dispatcher"' in xml


def test_the_report_speaks_english_on_request(client, auth, users):
    from app.web.i18n import LANG_COOKIE

    client.set_cookie(LANG_COOKIE, "en")
    body = _upload(client, CONVERT, DIAGRAM.read_bytes(), auth("designer")).get_json()
    reasons = {c["construct"]: c["reason"] for c in body["changes"]}
    assert reasons["script (javascript)"].startswith("javascript scripts cannot run")


def test_the_converted_diagram_is_refused_by_name_until_the_script_is_rewritten(client, auth, converted):
    before = fingerprint()
    refused = _upload(client, "/api/v1/process-definitions", converted["xml"].encode(), auth("designer"))
    assert refused.status_code == 422
    assert "Script_close" in str(refused.get_json())
    assert fingerprint() == before


def _deploy_rewritten(client: Any, auth: Any, converted: dict[str, Any]) -> None:
    # The designer rewrites the script in Python (and says so: the deploy refuses other languages).
    xml = (
        converted["xml"]
        .replace('execution.setVariable("closed", true);', "closed = True")
        .replace('scriptFormat="javascript"', 'scriptFormat="python"')
    )
    response = _upload(client, "/api/v1/process-definitions", xml.encode(), auth("designer"))
    assert response.status_code == 201, response.get_json()
    definition = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == "alarm_check")
    ).scalar_one()
    assert "confirm_clear.schema.json" in str(definition.user_tasks)


def _start(clock: Any, escalated: bool = False) -> tuple[ProcessInstance, HumanTask]:
    due = (clock.now() + timedelta(hours=2)).isoformat()
    outcome = instances.start_instance(
        "alarm_check", business_key=None, variables={"due_at": due, "escalated": escalated}
    )
    db.session.commit()
    instance = db.session.get(ProcessInstance, outcome.instance.id)
    assert instance is not None and instance.status == InstanceStatus.RUNNING, instance and instance.error
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id)).scalar_one()
    assert task.element_id == "Task_confirm"
    assert task.form_key == "confirm_clear.schema.json"
    assert task.candidate_roles == HumanTask.join_roles(["dispatcher"])
    assert task.due_at is not None
    return instance, task


def test_the_rewritten_process_runs_each_branch(client, auth, converted, clock):
    _deploy_rewritten(client, auth, converted)
    # cleared: the (rewritten) script runs
    instance, task = _start(clock)
    complete_by_id(client, auth, "dispatcher", task.id, {"clear_decision": "cleared"})
    db.session.refresh(instance)
    assert instance.status == InstanceStatus.COMPLETED
    assert instances.instance_state(instance)["completed_element_ids"].count("End_cleared") == 1
    # not cleared
    instance, task = _start(clock)
    complete_by_id(client, auth, "dispatcher", task.id, {"clear_decision": "not_cleared"})
    db.session.refresh(instance)
    assert "End_not_cleared" in instances.instance_state(instance)["completed_element_ids"]
    # nobody confirms within two hours: the boundary timer ends it (the clock, not sleeping)
    instance, task = _start(clock)
    clock.set(clock.now() + timedelta(hours=2, minutes=1))
    assert scheduler.tick() == 1
    db.session.expire_all()
    assert (
        "End_overdue"
        in instances.instance_state(db.session.get(ProcessInstance, instance.id))["completed_element_ids"]
    )


def test_a_plain_diagram_comes_back_unchanged(client, auth, users):
    from app.config import PROJECT_ROOT

    content = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_bytes()
    body = _upload(client, CONVERT, content, auth("designer")).get_json()
    assert body == {"converted": False, "needs_hand": 0, "changes": [], "xml": content.decode()}


@pytest.mark.parametrize(
    ("who", "content", "status"),
    [("worker", DIAGRAM.read_bytes(), 403), ("designer", b"not xml <", 422), ("designer", None, 422)],
)
def test_bad_requests(client, auth, users, who, content, status):
    if content is None:
        response = client.post(CONVERT, headers=auth(who))
    else:
        response = _upload(
            client, CONVERT, content + b"xmlns:c='http://camunda.org/schema/1.0/bpmn'", auth(who)
        )
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize(
    ("juel_text", "python"),
    [
        ("${approved}", "approved"),
        ("${!approved}", "not approved"),
        ("${amount > 1000 && level == 'red'}", "amount > 1000 and level == 'red'"),
        ("#{a.b.c ge 3 or empty note}", 'a["b"]["c"] >= 3 or not note'),
        ('${status != "done" || x == null}', "status != 'done' or x == None"),
        ("${(a + 1) * 2 == 4}", "(a + 1) * 2 == 4"),
    ],
)
def test_juel_to_python(juel_text, python):
    assert juel.to_python(juel_text) == python


@pytest.mark.parametrize(
    "juel_text",
    ["${execution.getVariable('x')}", "${x.size() > 0}", "${a ? b : c}", "${list[0]}", "${}"],
)
def test_juel_beyond_the_translation_is_refused(juel_text):
    with pytest.raises(juel.NotConvertible):
        juel.to_python(juel_text)


def test_a_camunda_diagram_deployed_unconverted_is_refused_at_its_script(client, auth, users):
    """A JavaScript script can compile as Python (``execution.setVariable("x", true);``): the deploy
    refuses the language by name instead of failing on the next person at run time."""
    headers = auth("designer")
    before = fingerprint()
    refused = _upload(client, "/api/v1/process-definitions", DIAGRAM.read_bytes(), headers)
    assert refused.status_code == 422
    details = refused.get_json()["details"]
    assert details["element_id"] == "Script_close"
    assert "script language 'javascript' cannot run" in details["reason"]
    assert fingerprint() == before
