"""The properties panel's vocabulary and a new process from an empty diagram, through the Flask test client:
who may read the pickers' values and in which language; the new process's key is validated on the page and
at the deploy; version 1 is stored through the same deploy service, or nothing is (all problems at once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import fingerprint
from tests.web import test_pages_designer as pages
from tests.web.test_pages_designer import Browser, audit, versions

# The designer pages' fixtures: the app on both databases with a copy of the forms, signed-in clients.
app = pages.app
sign_in = pages.sign_in

KEY = "noise_check"

A_USER_TASK = """
    <bpmn:startEvent id="start" name="开始"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="verify" name="核实">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="confirm_clear.schema.json" />
        <spiffworkflow:property name="candidateRoles" value="grid_worker" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="结束"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="verify" />
    <bpmn:sequenceFlow id="f2" sourceRef="verify" targetRef="end" />
"""


def _with_process_body(empty: str, body: str) -> str:
    return empty.replace('<bpmn:startEvent id="start" name="开始" />', body)


def _empty(browser: Browser, key: str = KEY) -> str:
    response = browser.get(f"/design/processes/new/{key}.bpmn?name=噪音核查")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


# --- the pickers' vocabulary ------------------------------------------------------------------------


def test_the_vocabulary_names_forms_roles_operators_and_processes(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    body = browser.get("/design/vocabulary.json").get_json()
    assert "confirm_clear.schema.json" in body["forms"]
    assert {"value": "grid_worker", "label": "网格员"} in body["roles"]
    finish = next(op for op in body["operators"] if op["value"] == "case.finish")
    assert finish["description"]  # the registry's documentation, shown under the picker
    assert {p["value"] for p in body["processes"]} >= {"case_handling", "sensor_alarm"}
    assert all(set(u) == {"value", "label"} for u in body["units"])

    browser.client.set_cookie("lang", "en")
    english = browser.get("/design/vocabulary.json").get_json()
    assert {"value": "grid_worker", "label": "Grid worker"} in english["roles"]


@pytest.mark.parametrize("username", ["resident", "worker", "supervisor"])
def test_only_designers_read_the_vocabulary(sign_in: Callable[[str], Browser], username: str) -> None:
    response = sign_in(username).client.get("/design/vocabulary.json", headers={"Accept": "application/json"})
    assert response.status_code == 403


# --- the new process page ---------------------------------------------------------------------------


def test_the_process_list_offers_a_new_process(sign_in: Callable[[str], Browser]) -> None:
    page = sign_in("designer").get("/design/processes").get_data(as_text=True)
    assert 'id="new-process-form"' in page and "新建流程" in page


def test_a_new_process_opens_the_modeler_on_an_empty_diagram(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    before = fingerprint()
    response = browser.get(f"/design/processes/new?key={KEY}&name=噪音核查")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'data-deploy-url="/design/processes/new/{KEY}/deploy"' in page
    assert 'data-open-after-deploy="true"' in page and "保存为草稿第 1 版" in page
    assert 'id="properties-panel"' in page and "/vendor-bundles/properties-panel.js" in page
    xml = _empty(browser)
    assert f'<bpmn:process id="{KEY}" name="噪音核查" isExecutable="true">' in xml
    assert '<bpmn:startEvent id="start" name="开始" />' in xml
    valid = browser.post(f"/design/processes/new/{KEY}/validate", {"xml": xml}).get_json()
    assert valid["valid"] is True and valid["processes"] == [KEY]
    assert fingerprint() == before  # opening and checking store nothing
    assert versions(KEY) == []


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("Noise", "小写字母"),
        ("no", "3 到 50"),
        ("9lives", "以字母开头"),
        ("a" * 51, "3 到 50"),
        ("new", "小写字母"),
        ("case_handling", "已有标识为 case_handling 的流程"),
    ],
)
def test_a_bad_or_taken_key_is_refused_on_the_field(
    sign_in: Callable[[str], Browser], key: str, words: str
) -> None:
    browser = sign_in("designer")
    response = browser.get(f"/design/processes/new?key={key}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="new-process-key-error"' in page and words in page
    assert 'aria-invalid="true"' in page
    assert browser.post(f"/design/processes/new/{key}/deploy", {"xml": "<x/>"}).status_code == 422


# --- deploying version 1 ----------------------------------------------------------------------------


def test_the_first_deploy_stores_version_1_with_an_audit_event(
    sign_in: Callable[[str], Browser], users: dict[str, Any]
) -> None:
    browser = sign_in("designer")
    xml = _with_process_body(_empty(browser), A_USER_TASK)
    response = browser.post(f"/design/processes/new/{KEY}/deploy", {"xml": xml})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["version"] == 1 and body["key"] == KEY
    assert body["edit_url"] == f"/design/processes/{KEY}/edit?version=1"
    assert versions(KEY) == [1]
    [event] = [e for e in audit("process.deployed") if e.actor_id == users["designer"].id]
    assert event.after is not None and event.after["key"] == KEY and event.after["version"] == 1
    assert event.after["file"] == f"{KEY}.bpmn"
    # the key is taken now: the new-process routes refuse it, the process's own modeler opens it
    assert browser.post(f"/design/processes/new/{KEY}/deploy", {"xml": xml}).status_code == 422
    assert browser.get(f"/design/processes/{KEY}/edit").status_code == 200
    assert versions(KEY) == [1]


def test_a_refused_first_deploy_answers_every_problem_and_stores_nothing(
    sign_in: Callable[[str], Browser],
) -> None:
    browser = sign_in("designer")
    broken = A_USER_TASK.replace('value="confirm_clear.schema.json"', 'value="no_such.schema.json"').replace(
        'value="grid_worker"', 'value="night_watch"'
    )
    before = fingerprint()
    response = browser.post(
        f"/design/processes/new/{KEY}/deploy", {"xml": _with_process_body(_empty(browser), broken)}
    )
    assert response.status_code == 422
    problems = response.get_json()["details"]["problems"]
    assert {p["element_id"] for p in problems} == {"verify"}
    reasons = " ".join(p["reason"] for p in problems)
    assert "no_such.schema.json" in reasons and "night_watch" in reasons
    assert all(p["element_name"] == "核实" for p in problems)
    assert fingerprint() == before
    assert versions(KEY) == []


def test_a_diagram_that_renames_the_process_is_refused(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    renamed = _empty(browser).replace(f'<bpmn:process id="{KEY}"', '<bpmn:process id="other_key"')
    response = browser.post(f"/design/processes/new/{KEY}/deploy", {"xml": renamed})
    assert response.status_code == 422
    assert (
        "no longer defines process 'noise_check'" in response.get_json()["details"]["problems"][0]["message"]
    )
    assert versions(KEY) == [] and versions("other_key") == []
