"""Bad input is refused with a 4xx naming the field and the reason, and leaves the database as it was."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from PIL import Image

from app.extensions import db
from app.workflow.models import TaskStatus
from tests.factories import create_case
from tests.helpers import complete, fingerprint, jpeg, open_task, report
from tests.probes import definitions, upload_diagram, user_task

USERS = ("resident", "worker", "worker2", "dispatcher", "handler", "supervisor", "designer", "admin")


@pytest.fixture
def signed_in(users: dict[str, Any], auth: Any) -> None:
    """Every user holds a token already, so signing in during a test does not change the fingerprint."""
    for username in USERS:
        auth(username)


pytestmark = pytest.mark.usefixtures("users", "deployed", "signed_in")


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["message"]
    return body  # type: ignore[no-any-return]


# -- report ----------------------------------------------------------------------------------------

GOOD_REPORT = {
    "title": "井盖缺失",
    "description": "人行道井盖丢失",
    "category_code": "P0101",
    "severity": "red",
    "lat": 30.7589,
    "lon": 103.9718,
    "address": "锦绣路12号",
}


REPORT_FIELD_ERRORS = [
    ({"title": None}, "title", "Missing data for required field."),
    ({"title": "长" * 121}, "title", "Length must be between 2 and 120."),
    ({"title": "x"}, "title", "Length must be between 2 and 120."),
    ({"colour": "red"}, "colour", "Unknown field."),
    ({"lat": 90.5}, "lat", "Must be greater than or equal to -90 and less than or equal to 90."),
    ({"lon": -181}, "lon", "Must be greater than or equal to -180 and less than or equal to 180."),
    ({"lat": "north"}, "lat", "Not a valid number."),
    ({"severity": "purple"}, "severity", "Must be one of: red, orange, yellow, blue."),
    ({"category_code": "E01a"}, "category_code", "expected a category code"),
    ({"category_code": "0102"}, "category_code", "expected a category code"),
    ({"source_channel": "pigeon"}, "source_channel", "Must be one of:"),
]
REPORT_FIELD_ERROR_IDS = [
    "missing-title",
    "title-too-long",
    "title-too-short",
    "unknown-field",
    "lat-range",
    "lon-range",
    "lat-type",
    "severity-enum",
    "category-letters",
    "category-old-digits-only",
    "source-channel",
]


def test_report_field_errors(client, auth, subtests):
    for case_id, (change, field, reason) in zip(REPORT_FIELD_ERROR_IDS, REPORT_FIELD_ERRORS, strict=True):
        with subtests.test(case_id):
            body = {k: v for k, v in {**GOOD_REPORT, **change}.items() if v is not None}
            before = fingerprint()
            error = _error(client.post("/api/v1/cases", json=body, headers=auth("resident")), 422)
            assert list(error["details"]) == [field]
            assert any(message.startswith(reason) for message in error["details"][field]), error["details"]
            assert field in error["message"]
            assert fingerprint() == before


def test_report_names_every_bad_field_at_once(client, auth):
    before = fingerprint()
    body = {"description": "x", "severity": "pink", "lat": 100, "extra": 1}
    error = _error(client.post("/api/v1/cases", json=body, headers=auth("resident")), 422)
    assert set(error["details"]) == {"title", "severity", "lat", "extra"}
    assert fingerprint() == before


NOT_A_JSON_OBJECT = [
    ('{"title": "井盖缺失"', "application/json", 400, {"json": ["Invalid JSON body."]}),  # truncated
    (
        "title=井盖缺失",
        "application/x-www-form-urlencoded",
        422,
        {"title": ["Missing data for required field."]},
    ),
    ("井盖缺失", "text/plain", 422, {"title": ["Missing data for required field."]}),
    ('["井盖缺失"]', "application/json", 422, {"_schema": ["Invalid input type."]}),  # not an object
]
NOT_A_JSON_OBJECT_IDS = ["broken-json", "form-encoded", "plain-text", "json-array"]


def test_report_body_that_is_not_a_json_object(client, auth, subtests):
    for case_id, (data, content_type, status, details) in zip(
        NOT_A_JSON_OBJECT_IDS, NOT_A_JSON_OBJECT, strict=True
    ):
        with subtests.test(case_id):
            before = fingerprint()
            response = client.post(
                "/api/v1/cases",
                data=data.encode("utf-8"),
                content_type=content_type,
                headers=auth("resident"),
            )
            error = _error(response, status)
            assert error["details"] == details
            assert error["message"] == f"invalid input in: {', '.join(details)}"
            assert fingerprint() == before


# -- completing tasks --------------------------------------------------------------------------------


def _complete(client: Any, auth: Any, who: str, task_id: int, payload: Any) -> Any:
    return client.post(f"/api/v1/tasks/{task_id}/complete", json=payload, headers=auth(who))


FAILING_THE_FORM = [
    ({"triage_decision": "accept", "priority": "high"}, {"priority": "unknown field"}),
    ({"triage_decision": "maybe"}, {"triage_decision": "must be one of: accept, reject, duplicate"}),
    ({"triage_decision": 1}, {"triage_decision": "must be of type string"}),
    ({}, {"triage_decision": "this field is required"}),
    ({"triage_note": "ok"}, {"triage_decision": "this field is required"}),
    (
        {"triage_decision": "duplicate", "duplicate_of": "2026-1"},
        {"duplicate_of": "must be a case number like GC-2024-000123"},
    ),
    ({"triage_decision": "reject", "reject_reason": "   "}, {"reject_reason": "must not be blank"}),
]
FAILING_THE_FORM_IDS = [
    "unknown-key",
    "not-in-enum",
    "wrong-type",
    "empty",
    "missing-required",
    "pattern",
    "blank",
]


def test_complete_with_data_failing_the_form(client, auth, subtests):
    """One triage task for every case: each is refused and changes nothing (checked per case)."""
    key = report(client, auth)["key"]
    task = open_task(key, "triage")
    for case_id, (data, details) in zip(FAILING_THE_FORM_IDS, FAILING_THE_FORM, strict=True):
        with subtests.test(case_id):
            before = fingerprint()
            error = _error(_complete(client, auth, "dispatcher", task.id, {"data": data}), 422)
            assert error["error"] == "invalid_input"
            assert error["details"] == details
            for field in details:
                assert field in error["message"]
            assert fingerprint() == before


def test_dispatch_form_errors(client, auth):
    key = create_case(client, auth, "dispatch")
    task_id = open_task(key, "dispatch").id
    before = fingerprint()
    cases = [
        (
            {"handler_user": "worker", "time_limit_hours": "ten"},
            {"time_limit_hours": "must be of type integer"},
        ),
        ({"handler_user": "worker", "time_limit_hours": 0}, {"time_limit_hours": "must be at least 1"}),
        ({"handler_user": "worker", "time_limit_hours": 1000}, {"time_limit_hours": "must be at most 720"}),
        (
            {"handler_user": "nobody", "time_limit_hours": 8},
            {"handler_user": "unknown user or not a grid_worker/department_handler: 'nobody'"},
        ),
        (
            {"handler_user": "dispatcher", "time_limit_hours": 8},
            {"handler_user": "unknown user or not a grid_worker/department_handler: 'dispatcher'"},
        ),
        (
            {"time_limit_hours": 8},
            {"": "give exactly one of handler_user or handler_unit (not both, not neither)"},
        ),
        (
            {"handler_user": "worker", "handler_unit": "water", "time_limit_hours": 8},
            {"": "give exactly one of handler_user or handler_unit (not both, not neither)"},
        ),
    ]
    for data, details in cases:
        response = _complete(client, auth, "dispatcher", task_id, {"data": data})
        error = _error(response, 422)
        expected = {("data" if k == "" else k): v for k, v in details.items()}
        assert error["details"] == expected, data
        assert fingerprint() == before, data


NOT_AN_OBJECT_PAYLOADS = [
    ({"data": ["triage_decision", "accept"]}, "data"),
    ({"data": "accept"}, "data"),
    ({"data": None}, "data"),
    ({}, "data"),
    ({"data": {"triage_decision": "accept"}, "extra": 1}, "extra"),
]
NOT_AN_OBJECT_PAYLOAD_IDS = ["list", "string", "null", "missing", "unknown-envelope-key"]


def test_complete_data_must_be_an_object(client, auth, subtests):
    """One triage task for every case: each is refused and changes nothing (checked per case)."""
    key = report(client, auth)["key"]
    task = open_task(key, "triage")
    for case_id, (payload, field) in zip(NOT_AN_OBJECT_PAYLOAD_IDS, NOT_AN_OBJECT_PAYLOADS, strict=True):
        with subtests.test(case_id):
            before = fingerprint()
            error = _error(_complete(client, auth, "dispatcher", task.id, payload), 422)
            assert field in error["details"], error
            assert fingerprint() == before


def test_complete_an_already_completed_task(client, auth):
    key = report(client, auth)["key"]
    task_id = open_task(key, "triage").id
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    before = fingerprint()
    error = _error(
        _complete(
            client,
            auth,
            "dispatcher",
            task_id,
            {"data": {"triage_decision": "reject", "reject_reason": "再想想"}},
        ),
        409,
    )
    assert error["error"] == "conflict"
    assert error["details"] == {"status": TaskStatus.COMPLETED}
    assert "completed" in error["message"]
    assert fingerprint() == before


def test_complete_a_task_claimed_by_someone_else(client, auth, create_user):
    create_user("dispatcher", "dispatcher2")
    auth("dispatcher2")
    key = report(client, auth)["key"]
    task_id = open_task(key, "triage").id
    claimed = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("dispatcher"))
    assert claimed.status_code == 200, claimed.get_json()
    before = fingerprint()
    error = _error(
        _complete(client, auth, "dispatcher2", task_id, {"data": {"triage_decision": "accept"}}), 409
    )
    assert error["error"] == "conflict"
    assert "claimed by someone else" in error["message"]
    assert error["details"] == {"status": TaskStatus.CLAIMED}
    assert fingerprint() == before
    # a supervisor sees every task, but still cannot complete a handler's claimed one
    walk_to_key = create_case(client, auth, "handle")
    handle_id = open_task(walk_to_key, "handle").id
    before = fingerprint()
    error = _error(
        _complete(
            client,
            auth,
            "supervisor",
            handle_id,
            {"data": {"handle_result": "resolved", "handle_description": "已清理"}},
        ),
        409,
    )
    assert "claimed by someone else" in error["message"]
    assert fingerprint() == before


def test_complete_an_unknown_task(client, auth):
    before = fingerprint()
    error = _error(
        _complete(client, auth, "dispatcher", 999999, {"data": {"triage_decision": "accept"}}), 404
    )
    assert "999999" in error["message"]
    assert fingerprint() == before


# -- attachments ---------------------------------------------------------------------------------------


def _upload(
    client: Any,
    auth: Any,
    key: str,
    content: bytes | None,
    name: str = "photo.jpg",
    kind: str | None = "after",
    who: str = "resident",
) -> Any:
    query = f"?kind={kind}" if kind is not None else ""
    data = {"file": (io.BytesIO(content), name)} if content is not None else {"note": "no file here"}
    return client.post(
        f"/api/v1/cases/{key}/attachments{query}",
        data=data,
        headers=auth(who),
        content_type="multipart/form-data",
    )


NOT_A_PHOTO = [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "photo.jpg", "PDF"),
    ("现场情况说明:垃圾已清理。\n".encode(), "photo.jpg", "text"),
    (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01", "photo.gif", "GIF"),
]
NOT_A_PHOTO_IDS = ["pdf", "text", "gif"]


def test_upload_that_is_not_a_photo(client, auth, subtests):
    """One case for every upload: each is refused and changes nothing (checked per case)."""
    key = report(client, auth)["key"]
    for case_id, (content, name, looks_like) in zip(NOT_A_PHOTO_IDS, NOT_A_PHOTO, strict=True):
        with subtests.test(case_id):
            before = fingerprint()
            error = _error(_upload(client, auth, key, content, name), 415)
            assert error["error"] == "unsupported_media_type"
            assert list(error["details"]) == ["file"]
            assert f"looks like {looks_like}" in error["details"]["file"]
            assert fingerprint() == before


def test_upload_truncated_jpeg(client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    error = _error(_upload(client, auth, key, jpeg()[:200]), 415)
    assert "damaged or truncated JPEG" in error["details"]["file"]
    assert fingerprint() == before


def test_upload_without_a_file(client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    error = _error(_upload(client, auth, key, None), 422)
    assert list(error["details"]) == ["file"]
    assert "multipart field 'file'" in error["details"]["file"]
    assert fingerprint() == before


def test_upload_an_empty_file(client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    error = _error(_upload(client, auth, key, b""), 422)
    assert error["details"] == {"file": "file is empty"}
    assert fingerprint() == before


def test_upload_with_an_unknown_kind(client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    error = _error(_upload(client, auth, key, jpeg(), kind="selfie"), 422)
    assert list(error["details"]) == ["kind"]
    assert "report, before, after, other" in error["details"]["kind"][0]
    assert "kind" in error["message"]
    assert fingerprint() == before


def _noisy_jpeg(size: tuple[int, int] = (160, 120)) -> bytes:
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


class TestSmallUploadLimit:
    @pytest.fixture
    def app(self, make_app: Any) -> Iterator[Flask]:
        app = make_app("sqlite", max_upload_bytes=2048)
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()

    def test_oversized_photo(self, client, auth):
        key = report(client, auth)["key"]
        small = jpeg(size=(8, 8))
        assert len(small) <= 2048
        big = _noisy_jpeg()
        assert 2048 < len(big) < 64 * 1024
        before = fingerprint()
        error = _error(_upload(client, auth, key, big), 413)
        assert error["error"] == "payload_too_large"
        assert list(error["details"]) == ["file"]
        assert "the limit is 2.0 KB" in error["details"]["file"]
        assert fingerprint() == before
        # a request far beyond the limit is refused before it is read, the same way
        huge = _error(_upload(client, auth, key, b"\xff\xd8\xff" + b"\0" * (200 * 1024)), 413)
        assert huge["message"]
        assert fingerprint() == before
        # and a photo within the limit is fine
        assert _upload(client, auth, key, small).status_code == 201


# -- deploying diagrams ----------------------------------------------------------------------------------

# one user task "ask", then a gateway whose condition may call the service task "notify"
TINY_PROCESS = """  <bpmn:process id="tiny" name="Tiny" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="ask" />
{ask}
    <bpmn:sequenceFlow id="f_ask" sourceRef="ask" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="f_done">
      <bpmn:incoming>f_ask</bpmn:incoming>
      <bpmn:outgoing>f_done</bpmn:outgoing>
      <bpmn:outgoing>f_notify</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_notify" sourceRef="gw" targetRef="notify">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="result">
          <spiffworkflow:parameters />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_notify</bpmn:incoming>
      <bpmn:outgoing>f_notified</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f_notified" sourceRef="notify" targetRef="end" />
    <bpmn:sequenceFlow id="f_done" sourceRef="gw" targetRef="end" />
    <bpmn:endEvent id="end">
      <bpmn:incoming>f_done</bpmn:incoming>
      <bpmn:incoming>f_notified</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>"""

GOOD_PROPERTIES = {"formJsonSchemaFilename": "triage.schema.json", "candidateRoles": "dispatcher"}


def _diagram(
    properties: dict[str, str] | None = None,
    condition: str = 'triage_decision == "reject"',
    operator: str = "case.warn_due",
) -> bytes:
    props = GOOD_PROPERTIES if properties is None else properties
    ask = user_task("ask", "f_start", "f_ask", props, name="Ask")
    process = TINY_PROCESS.format(ask=ask, condition=condition, operator=operator)
    return definitions("tiny_definitions", process).encode("utf-8")


def _deploy(client: Any, auth: Any, content: bytes, name: str = "tiny.bpmn") -> Any:
    return upload_diagram(client, auth, "designer", content, name)


def test_the_template_diagram_deploys(client, auth):
    """The control: the diagram the bad ones are made from is fine, and deploying it adds a row."""
    before = fingerprint()
    response = _deploy(client, auth, _diagram())
    assert response.status_code == 201, response.get_json()
    assert response.get_json()[0]["definition"]["key"] == "tiny"
    assert fingerprint()["counts"]["process_definition"] == before["counts"]["process_definition"] + 1


BAD_DIAGRAMS = [
    (_diagram(operator="case.teleport"), "notify", "unknown service-task operator 'case.teleport'"),
    (
        _diagram(properties={"candidateRoles": "dispatcher"}),
        "ask",
        "user task has no 'formJsonSchemaFilename' property",
    ),
    (
        _diagram(
            properties={"formJsonSchemaFilename": "missing.schema.json", "candidateRoles": "dispatcher"}
        ),
        "ask",
        "form 'missing.schema.json' does not exist",
    ),
    (
        _diagram(
            properties={
                "formJsonSchemaFilename": "../forms/triage.schema.json",
                "candidateRoles": "dispatcher",
            }
        ),
        "ask",
        "does not exist",
    ),
    (
        _diagram(properties={"formJsonSchemaFilename": "triage.schema.json", "candidateRoles": "wizard"}),
        "ask",
        "unknown role(s) in candidateRoles: ['wizard']",
    ),
    (
        _diagram(properties={"formJsonSchemaFilename": "triage.schema.json"}),
        "ask",
        "user task has no 'candidateRoles' property",
    ),
    (_diagram(condition='__import__("os").system("id") == 0'), "gw", "condition is not allowed"),
    (_diagram(condition="triage_decision.__class__ is str"), "gw", "condition is not allowed"),
    (_diagram(condition="().__class__.__bases__[0].__subclasses__()"), "gw", "condition is not allowed"),
    (
        _diagram(properties={**GOOD_PROPERTIES, "dueAt": "time_limit.__class__"}),
        "ask",
        "property 'dueAt' is not allowed",
    ),
]
BAD_DIAGRAM_IDS = [
    "unknown-operator",
    "no-form",
    "missing-form",
    "form-path",
    "unknown-role",
    "no-roles",
    "import",
    "dunder-attribute",
    "dunder-chain",
    "dunder-in-property",
]


def test_deploy_refuses_a_bad_diagram(client, auth, subtests):
    for case_id, (content, element_id, reason) in zip(BAD_DIAGRAM_IDS, BAD_DIAGRAMS, strict=True):
        with subtests.test(case_id):
            before = fingerprint()
            error = _error(_deploy(client, auth, content), 422)
            assert error["error"] == "invalid_input"
            assert error["details"]["file"] == "tiny.bpmn"
            assert error["details"]["element_id"] == element_id
            assert reason in error["details"]["reason"]
            assert f"element '{element_id}'" in error["message"]
            assert fingerprint() == before


def test_deploy_refuses_malformed_xml(client, auth):
    content = _diagram().replace(b"</bpmn:userTask>", b"</bpmn:userTsk>")
    line = content.decode().splitlines().index("    </bpmn:userTsk>") + 1
    before = fingerprint()
    error = _error(_deploy(client, auth, content), 422)
    assert error["details"]["file"] == "tiny.bpmn"
    assert error["details"]["line"] == line
    assert "not well-formed XML" in error["details"]["reason"]
    assert error["message"].startswith(f"tiny.bpmn line {line}")
    assert fingerprint() == before


BAD_FILE_NAMES = [
    ("tiny.txt", _diagram()),
    ("tiny.bpmn.txt", _diagram()),
    ("../tiny.bpmn", _diagram()),
    ("tiny", _diagram()),
]
BAD_FILE_NAME_IDS = ["txt", "double-extension", "path", "no-extension"]


def test_deploy_refuses_a_bad_file_name(client, auth, subtests):
    for case_id, (name, content) in zip(BAD_FILE_NAME_IDS, BAD_FILE_NAMES, strict=True):
        with subtests.test(case_id):
            before = fingerprint()
            response = _deploy(client, auth, content, name=name)
            error = _error(response, 422)
            assert list(error["details"]) == ["file"]
            assert "expected name.bpmn or name.dmn" in error["details"]["file"]
            assert fingerprint() == before


def test_deploy_refuses_no_file_and_non_utf8(client, auth):
    before = fingerprint()
    error = _error(
        client.post(
            "/api/v1/process-definitions",
            data={},
            headers=auth("designer"),
            content_type="multipart/form-data",
        ),
        422,
    )
    assert list(error["details"]) == ["file"]
    error = _error(_deploy(client, auth, _diagram().replace(b"Tiny", "Tïny".encode("latin-1"))), 422)
    assert list(error["details"]) == ["file"]
    assert fingerprint() == before


def test_deploy_refuses_a_file_without_an_executable_process(client, auth):
    content = _diagram().replace(b'isExecutable="true"', b'isExecutable="false"')
    before = fingerprint()
    error = _error(_deploy(client, auth, content), 422)
    assert "no executable process" in error["details"]["reason"]
    assert fingerprint() == before


# -- messages ---------------------------------------------------------------------------------------------


def test_message_no_process_starts_on(client, auth):
    before = fingerprint()
    error = _error(
        client.post(
            "/api/v1/messages",
            json={"name": "pipe_burst", "payload": {"street": "锦绣路"}},
            headers=auth("dispatcher"),
        ),
        404,
    )
    assert error["error"] == "not_found"
    assert "pipe_burst" in error["message"]
    assert error["details"] == {"message": "pipe_burst"}
    assert fingerprint() == before


def test_message_to_an_instance_not_waiting_for_it(client, auth):
    key = create_case(client, auth, "dispatch")
    before = fingerprint()
    error = _error(
        client.post(
            "/api/v1/messages",
            json={"name": "report_withdrawn", "business_key": key},
            headers=auth("dispatcher"),
        ),
        409,
    )
    assert "report_withdrawn" in error["message"]
    assert error["details"] == {"message": "report_withdrawn"}
    assert fingerprint() == before


BAD_MESSAGE_BODIES = [
    ({"name": "Pipe Burst"}, "name"),
    ({}, "name"),
    ({"name": "pipe_burst", "payload": [1]}, "payload"),
    ({"name": "pipe_burst", "instance_id": "one"}, "instance_id"),
]
BAD_MESSAGE_BODY_IDS = ["bad-name", "no-name", "payload-list", "instance-id-type"]


def test_message_bad_body(client, auth, subtests):
    for case_id, (body, field) in zip(BAD_MESSAGE_BODY_IDS, BAD_MESSAGE_BODIES, strict=True):
        with subtests.test(case_id):
            before = fingerprint()
            error = _error(client.post("/api/v1/messages", json=body, headers=auth("dispatcher")), 422)
            assert field in error["details"]
            assert fingerprint() == before


def test_message_to_an_unknown_business_key(client, auth):
    before = fingerprint()
    error = _error(
        client.post(
            "/api/v1/messages",
            json={"name": "report_withdrawn", "business_key": "GC-2026-999999"},
            headers=auth("dispatcher"),
        ),
        404,
    )
    assert "GC-2026-999999" in error["message"]
    assert fingerprint() == before


# -- query strings ------------------------------------------------------------------------------------


UNKNOWN_QUERY_KEYS = [
    "/api/v1/cases?colour=red",
    "/api/v1/cases?per_page=5",
    "/api/v1/tasks?colour=red",
    "/api/v1/devices?colour=red",
    "/api/v1/dead-letters?colour=red",
    "/api/v1/incidents?colour=red",
    "/api/v1/disputes?colour=red",
    "/api/v1/inspections/places?colour=red",
]


def test_an_unknown_query_key_is_refused_not_ignored(client, auth, subtests):
    """An unfiltered list must never look like a filtered one."""
    for url in UNKNOWN_QUERY_KEYS:
        with subtests.test(url):
            before = fingerprint()
            body = _error(client.get(url, headers=auth("supervisor")), 422)
            key = url.split("?")[1].split("=")[0]
            assert body["details"] == {key: ["Unknown field."]}
            assert fingerprint() == before
