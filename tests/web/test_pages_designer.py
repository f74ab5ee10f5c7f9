"""Designer pages through the Flask test client: who may use them, validate and deploy from the modeler, the
form editor's check and save, and the version diff. Every refused write leaves the database (fingerprint),
the forms folder and the audit trail as they were."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.roles import ALL_ROLES
from app.config import PROJECT_ROOT
from app.extensions import db
from app.web.designer import forms as designer_forms
from app.workflow import deploy
from app.workflow.forms import FormRegistry
from app.workflow.models import ProcessDefinition
from tests.conftest import AppFactory
from tests.helpers import fingerprint, report

CASE_HANDLING = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8")
OUTSIDERS = ["resident", "worker", "dispatcher", "handler", "supervisor"]


@pytest.fixture(params=["sqlite", "postgresql"])
def app(make_app: AppFactory, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on both databases; the forms folder is a copy in the test's folder (saves write files)."""
    app = make_app(request.param)
    forms_folder = tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "forms", forms_folder)
    registry = FormRegistry(forms_folder)
    app.extensions["gridcase.forms"] = registry
    app.extensions["gridcase.deploy_rules"] = lambda: deploy.default_rules(registry.exists, set(ALL_ROLES))
    with app.app_context():
        rules = app.extensions["gridcase.deploy_rules"]()
        for name in (
            "case_handling.bpmn",
            "sensor_alarm_route.dmn",  # the decision sensor_alarm.bpmn calls: deployed before it
            "sensor_alarm.bpmn",
        ):  # not the whole folder: others are adding to it
            deploy.deploy_file(name, (PROJECT_ROOT / "bpmn" / name).read_bytes(), rules)
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def forms_folder(app: Flask) -> Path:
    return Path(app.extensions["gridcase.forms"].folder)


class Browser:
    """A signed-in page session: GETs pages, POSTs JSON with the CSRF token of the layout."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self._token: str | None = None

    def get(self, path: str) -> Any:
        _forget_cached_csrf_token()
        return self.client.get(path)

    def token(self) -> str:
        if self._token is None:
            page = self.client.get("/design/processes")  # the layout, also on the 403 page of other roles
            match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
            assert match, "the layout has no csrf-token meta tag"
            self._token = match.group(1)
        return self._token

    def post(self, path: str, body: dict[str, Any], *, csrf: bool = True) -> Any:
        headers = {"Accept": "application/json"}
        if csrf:
            headers["X-CSRFToken"] = self.token()
        _forget_cached_csrf_token()
        return self.client.post(path, json=body, headers=headers)


def _forget_cached_csrf_token() -> None:
    """Flask-WTF caches the token on ``g``, and these tests keep one app context around many requests of
    several clients: drop it, so each request reads its own session's token like a real one."""
    g.pop("csrf_token", None)


@pytest.fixture
def sign_in(app: Flask, users: dict[str, Any]) -> Callable[[str | None], Browser]:
    def browser(username: str | None) -> Browser:
        client = app.test_client()
        if username is not None:
            user_id = users[username].id  # read here: inside session_transaction it would open a transaction
            with client.session_transaction() as session:
                session["_user_id"] = str(user_id)
                session["_fresh"] = True
        return Browser(client)

    return browser


def versions(key: str) -> list[int]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessDefinition.version)
            .where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version)
        ).scalars()
    )


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def latest_xml(key: str = "case_handling") -> str:
    return deploy.definition_xml(key, versions(key)[-1])


# --- who may use the designer pages ---------------------------------------------------------------

PAGES = [
    "/design/processes",
    "/design/processes/case_handling",
    "/design/processes/case_handling/edit",
    "/design/processes/case_handling/edit?version=1",
    "/design/processes/case_handling/versions/1.bpmn",
    "/design/processes/case_handling/diff?a=1&b=1",
    "/design/forms",
    "/design/forms/triage.schema.json",
]


@pytest.mark.parametrize("username", ["designer", "admin"])
def test_designers_and_admins_open_every_page(sign_in: Callable[[str], Browser], username: str) -> None:
    browser = sign_in(username)
    for path in PAGES:
        response = browser.get(path)
        assert response.status_code == 200, (path, response.status_code)
    assert browser.get("/design/").status_code == 302


def test_other_roles_get_403_and_change_nothing(
    sign_in: Callable[[str], Browser], forms_folder: Path
) -> None:
    before = fingerprint()
    triage = (forms_folder / "triage.schema.json").read_text(encoding="utf-8")
    for username in OUTSIDERS:
        browser = sign_in(username)
        for path in PAGES:
            assert browser.get(path).status_code == 403, (username, path)
        writes = [
            ("/design/processes/case_handling/validate", {"xml": CASE_HANDLING}),
            ("/design/processes/case_handling/deploy", {"xml": CASE_HANDLING.replace("受理立案", "受理")}),
            ("/design/forms/triage.schema.json/check", {"schema": triage, "uischema": ""}),
            (
                "/design/forms/triage.schema.json",
                {"schema": triage.replace("受理立案", "受理"), "uischema": "", "base_hash": "x"},
            ),
        ]
        for path, body in writes:
            assert browser.post(path, body).status_code == 403, (username, path)
    assert fingerprint() == before
    assert (forms_folder / "triage.schema.json").read_text(encoding="utf-8") == triage


def test_anonymous_is_sent_to_sign_in(sign_in: Callable[[str | None], Browser]) -> None:
    browser = sign_in(None)
    response = browser.get("/design/processes")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    response = browser.client.post(
        "/design/processes/case_handling/deploy",
        json={"xml": CASE_HANDLING},
        headers={"Accept": "application/json"},
    )
    assert response.status_code in (302, 400, 401)
    assert versions("case_handling") == [1]


# --- process list, versions, modeler page ---------------------------------------------------------


def test_process_list_shows_versions_and_running_instances(
    sign_in: Callable[[str], Browser], client: FlaskClient, auth: Callable[[str], dict[str, str]]
) -> None:
    report(client, auth)
    report(client, auth)
    page = sign_in("designer").get("/design/processes").get_data(as_text=True)
    row = re.search(r'<tr data-process-key="case_handling">(.*?)</tr>', page, re.S)
    assert row, page
    assert re.search(r'data-field="latest-version">1<', row.group(1))
    assert re.search(r'data-field="version-count">1<', row.group(1))
    assert re.search(r'data-field="running">2<', row.group(1))
    assert 'data-process-key="sensor_alarm"' in page
    versions_page = sign_in("designer").get("/design/processes/case_handling").get_data(as_text=True)
    assert re.search(r'<tr data-version="1">.*?data-field="running">2<', versions_page, re.S)


def test_modeler_page_loads_the_modeler_and_the_version_xml(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    page = browser.get("/design/processes/case_handling/edit").get_data(as_text=True)
    assert "/vendor/bpmn-js/dist/bpmn-modeler.production.min.js" in page
    assert "/vendor/bpmn-js/dist/assets/bpmn-js.css" in page
    assert 'data-xml-url="/design/processes/case_handling/versions/1.bpmn"' in page
    assert "<script>" not in page  # the CSP allows no inline script
    xml = browser.get("/design/processes/case_handling/versions/1.bpmn")
    assert xml.mimetype == "application/xml"
    assert xml.get_data(as_text=True) == CASE_HANDLING
    assert browser.get("/design/processes/no_such_process/edit").status_code == 404
    assert browser.get("/design/processes/case_handling/edit?version=9").status_code == 404
    assert browser.get("/design/processes/case_handling/edit?version=x").status_code == 422


# --- validate -------------------------------------------------------------------------------------

UNKNOWN_ROLE = CASE_HANDLING.replace(
    '<spiffworkflow:property name="candidateRoles" value="dispatcher" />',
    '<spiffworkflow:property name="candidateRoles" value="night_watch" />',
    1,
)
UNKNOWN_OPERATOR = CASE_HANDLING.replace('id="case.mark_duplicate"', 'id="case.teleport"', 1)
SANDBOX_REFUSED = CASE_HANDLING.replace(
    'triage_decision == "reject"', "triage_decision.__class__.__name__ == 'str'", 1
)
MALFORMED = CASE_HANDLING.replace(
    '<bpmn:exclusiveGateway id="gw_triage"', '<bpmn:exclusiveGateway id="gw_triage', 1
)
UNKNOWN_CALLED_PROCESS = CASE_HANDLING.replace(
    '<bpmn:sequenceFlow id="flow_start_triage" sourceRef="start_report" targetRef="triage" />',
    '<bpmn:sequenceFlow id="flow_start_triage" sourceRef="start_report" targetRef="call_missing" />\n'
    '    <bpmn:callActivity id="call_missing" calledElement="no_such_process">'
    "<bpmn:incoming>flow_start_triage</bpmn:incoming><bpmn:outgoing>flow_called</bpmn:outgoing>"
    "</bpmn:callActivity>\n"
    '    <bpmn:sequenceFlow id="flow_called" sourceRef="call_missing" targetRef="triage" />',
    1,
)
RENAMED_PROCESS = CASE_HANDLING.replace(
    '<bpmn:process id="case_handling"', '<bpmn:process id="case_handling_2"', 1
)
BROKEN_DIAGRAMS = {
    "unknown role": (UNKNOWN_ROLE, "triage", "night_watch"),
    "unknown operator": (UNKNOWN_OPERATOR, "mark_duplicate", "case.teleport"),
    "sandbox": (SANDBOX_REFUSED, None, ""),
    "malformed": (MALFORMED, None, "XML 格式错误"),  # the reader's language: zh-CN unless English is chosen
    "renamed process": (RENAMED_PROCESS, "case_handling_2", "case_handling"),
}


def test_validate_accepts_the_deployed_diagram(sign_in: Callable[[str], Browser]) -> None:
    before = fingerprint()
    response = sign_in("designer").post("/design/processes/case_handling/validate", {"xml": CASE_HANDLING})
    assert response.status_code == 200
    assert response.get_json() == {"valid": True, "processes": ["case_handling"], "problems": []}
    assert fingerprint() == before


@pytest.mark.parametrize("case", sorted(BROKEN_DIAGRAMS))
def test_validate_names_the_broken_element(sign_in: Callable[[str], Browser], case: str) -> None:
    xml, element_id, words = BROKEN_DIAGRAMS[case]
    before = fingerprint()
    response = sign_in("designer").post("/design/processes/case_handling/validate", {"xml": xml})
    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is False
    [problem] = body["problems"]
    assert words in problem["message"]
    if case == "sandbox":
        assert problem["element_id"] in {"flow_reject", "gw_triage"}
        assert "_" in problem["message"] or "underscore" in problem["message"].lower()
    elif case == "malformed":
        assert isinstance(problem["line"], int) and problem["line"] > 1
    else:
        assert problem["element_id"] == element_id
    assert fingerprint() == before


def test_validate_names_an_unknown_called_process(sign_in: Callable[[str], Browser]) -> None:
    response = sign_in("designer").post(
        "/design/processes/case_handling/validate", {"xml": UNKNOWN_CALLED_PROCESS}
    )
    body = response.get_json()
    assert body["valid"] is False
    [problem] = body["problems"]
    assert problem["message"].startswith("找不到被调用的流程 no_such_process")  # zh-CN first
    assert problem["reason"] == "called process 'no_such_process' was not found"
    assert "The process 'no_such_process' was not found" in problem["original"]  # SpiffWorkflow's own text
    assert problem["element_id"] == "call_missing"  # the engine names no element: the caller is found


def test_validate_refuses_bad_requests(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    assert browser.post("/design/processes/case_handling/validate", {}).status_code == 422
    assert browser.post("/design/processes/case_handling/validate", {"xml": 5}).status_code == 422
    empty = browser.post("/design/processes/case_handling/validate", {"xml": "  "}).get_json()
    assert empty["valid"] is False and empty["problems"][0]["message"] == "the diagram is empty"
    assert browser.post("/design/processes/nope/validate", {"xml": CASE_HANDLING}).status_code == 404
    assert (
        browser.post(
            "/design/processes/case_handling/validate", {"xml": CASE_HANDLING}, csrf=False
        ).status_code
        == 400
    )


# --- deploy ---------------------------------------------------------------------------------------


def test_deploy_creates_the_next_version_with_an_audit_event(
    sign_in: Callable[[str], Browser], users: dict[str, Any]
) -> None:
    browser = sign_in("designer")
    edited = CASE_HANDLING.replace(
        '<bpmn:userTask id="triage" name="受理立案">', '<bpmn:userTask id="triage" name="受理审核">'
    )
    response = browser.post("/design/processes/case_handling/deploy", {"xml": edited})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True and body["version"] == 2 and body["key"] == "case_handling"
    assert body["versions_url"] == "/design/processes/case_handling"
    assert versions("case_handling") == [1, 2]
    assert latest_xml() == edited
    [event] = [e for e in audit("process.deployed") if e.actor_id is not None]
    assert event.actor_id == users["designer"].id
    assert event.after is not None
    assert event.after["key"] == "case_handling" and event.after["version"] == 2
    page = browser.get("/design/processes/case_handling").get_data(as_text=True)
    assert '<tr data-version="2">' in page
    list_page = browser.get("/design/processes").get_data(as_text=True)
    assert re.search(r'data-process-key="case_handling">.*?data-field="latest-version">2<', list_page, re.S)

    # The same bytes again: that version, nothing new.
    again = browser.post("/design/processes/case_handling/deploy", {"xml": edited})
    assert again.status_code == 200
    assert again.get_json()["created"] is False and again.get_json()["version"] == 2
    assert versions("case_handling") == [1, 2]


def test_an_admin_deploys_and_the_same_bytes_are_the_same_version(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("admin")
    edited = CASE_HANDLING.replace("受理立案", "受理审核")
    assert browser.post("/design/processes/case_handling/deploy", {"xml": edited}).status_code == 201
    # Version 1's exact bytes again: versions are by content, so that is version 1 (no new version; the
    # modeler's own output differs in layout, so going back through the modeler does make a new version).
    v1 = browser.get("/design/processes/case_handling/versions/1.bpmn").get_data(as_text=True)
    response = browser.post("/design/processes/case_handling/deploy", {"xml": v1})
    assert response.status_code == 200 and response.get_json()["version"] == 1
    assert versions("case_handling") == [1, 2]


@pytest.mark.parametrize("case", sorted(BROKEN_DIAGRAMS))
def test_a_refused_deploy_changes_nothing(sign_in: Callable[[str], Browser], case: str) -> None:
    xml, element_id, words = BROKEN_DIAGRAMS[case]
    before = fingerprint()
    response = sign_in("designer").post("/design/processes/case_handling/deploy", {"xml": xml})
    assert response.status_code == 422
    body = response.get_json()
    [problem] = body["details"]["problems"]
    assert words in problem["message"]
    if element_id and case != "sandbox":
        assert problem["element_id"] == element_id
    assert fingerprint() == before
    assert versions("case_handling") == [1]
    assert versions("case_handling_2") == []
    assert [e for e in audit("process.deployed") if e.actor_id is not None] == []


def test_deploy_refuses_unknown_keys_and_requests_without_csrf(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    before = fingerprint()
    edited = CASE_HANDLING.replace("受理立案", "受理审核")
    assert browser.post("/design/processes/no_such/deploy", {"xml": edited}).status_code == 404
    assert (
        browser.post("/design/processes/case_handling/deploy", {"xml": edited}, csrf=False).status_code == 400
    )
    assert browser.post("/design/processes/case_handling/deploy", {"diagram": edited}).status_code == 422
    assert fingerprint() == before


# --- diff -----------------------------------------------------------------------------------------


def test_diff_lists_the_changed_elements_and_the_changed_lines(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    edited = CASE_HANDLING.replace(
        '<bpmn:userTask id="triage" name="受理立案">', '<bpmn:userTask id="triage" name="受理审核">'
    ).replace(
        '<bpmn:conditionExpression>triage_decision == "reject"</bpmn:conditionExpression>',
        '<bpmn:conditionExpression>triage_decision in ("reject", "spam")</bpmn:conditionExpression>',
    )
    assert browser.post("/design/processes/case_handling/deploy", {"xml": edited}).status_code == 201

    # The first tab: the elements that changed, each with its changed properties, marked on the diagrams.
    page = browser.get("/design/processes/case_handling/diff?a=1&b=2").get_data(as_text=True)
    entries = re.findall(r'<li class="diff-entry diff-entry-(\w+)" data-element-id="(\w+)"', page)
    assert entries == [("changed", "triage"), ("changed", "flow_reject")]
    triage = page.split('data-element-id="triage"')[1].split("</li>")[0]
    assert "用户任务" in triage and re.search(
        r'<dt data-property="name">名称</dt>\s*<dd><del>受理立案</del>', triage
    )
    assert "<ins>受理审核</ins>" in triage
    flow = page.split('data-element-id="flow_reject"')[1].split("</li>")[0]
    assert '<dt data-property="condition">条件</dt>' in flow
    assert "<ins>triage_decision in (&#34;reject&#34;, &#34;spam&#34;)</ins>" in flow
    assert '<span class="diff-badge diff-badge-changed" data-count="changed">修改 2</span>' in page
    assert 'data-xml-url="/design/processes/case_handling/versions/1.bpmn"' in page
    assert "bpmn-navigated-viewer.production.min.js" in page

    # The second tab: the XML lines, normalized (the changed line is line 58 of the canonical form) ...
    text = browser.get("/design/processes/case_handling/diff?a=1&b=2&view=text").get_data(as_text=True)
    deleted = re.findall(r'<tr class="diff-del">.*?<code>(.*?)</code>', text, re.S)
    added = re.findall(r'<tr class="diff-add">.*?<code>(.*?)</code>', text, re.S)
    assert len(deleted) == 2 and "受理立案" in deleted[0]
    assert len(added) == 2 and "受理审核" in added[0]
    assert '<span class="diff-added">+2</span>' in text
    assert re.search(r'<tr class="diff-del">\s*<td class="ln">58</td><td class="ln"></td>', text)
    assert "bpmn-navigated-viewer" not in text
    # ... or the stored bytes as they are (line 67 of the file)
    raw = browser.get("/design/processes/case_handling/diff?a=1&b=2&view=text&format=raw").get_data(
        as_text=True
    )
    assert re.search(r'<tr class="diff-del">\s*<td class="ln">67</td><td class="ln"></td>', raw)
    assert raw.count('<tr class="diff-add">') == 2

    # default: the newest against the one before it
    assert (
        browser.get("/design/processes/case_handling/diff").get_data(as_text=True).count('class="diff-entry ')
        == 2
    )
    same = browser.get("/design/processes/case_handling/diff?a=2&b=2").get_data(as_text=True)
    assert "两个版本的元素、属性和布局都相同" in same and 'class="diff-entry ' not in same
    same_text = browser.get("/design/processes/case_handling/diff?a=2&b=2&view=text").get_data(as_text=True)
    assert "diff-add" not in same_text.split('id="diff-summary"')[1].split("</p>")[0]
    assert browser.get("/design/processes/case_handling/diff?a=1&b=7").status_code == 404
    assert browser.get("/design/processes/case_handling/diff?a=one&b=2").status_code == 422
    assert browser.get("/design/processes/case_handling/diff?a=1&b=2&view=pdf").status_code == 422


# --- forms ----------------------------------------------------------------------------------------


def _form_texts(forms_folder: Path, stem: str) -> tuple[str, str]:
    return (
        (forms_folder / f"{stem}.schema.json").read_text(encoding="utf-8"),
        (forms_folder / f"{stem}.uischema.json").read_text(encoding="utf-8"),
    )


def _base_hash(browser: Browser, name: str) -> str:
    page = browser.get(f"/design/forms/{name}").get_data(as_text=True)
    match = re.search(r'data-base-hash="([0-9a-f]{64})"', page)
    assert match
    return match.group(1)


def test_form_list_and_editor(sign_in: Callable[[str], Browser], forms_folder: Path) -> None:
    browser = sign_in("designer")
    page = browser.get("/design/forms").get_data(as_text=True)
    assert 'data-form="triage.schema.json"' in page
    row = re.search(r'<tr data-form="triage.schema.json">(.*?)</tr>', page, re.S)
    assert row and "case_handling v1" in row.group(1)
    editor = browser.get("/design/forms/triage.schema.json").get_data(as_text=True)
    assert "@json-editor/json-editor/dist/jsoneditor.js" in editor
    assert "受理结论" in editor and "(Decision)" not in editor  # the schema text, escaped into the textarea
    assert "&#34;ui:order&#34;" in editor or "&quot;ui:order&quot;" in editor
    assert browser.get("/design/forms/../secrets.schema.json").status_code == 404
    assert browser.get("/design/forms/Bad-Name.json").status_code == 404


def test_form_check_reports_schema_problems(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    schema, ui = _form_texts(Path(PROJECT_ROOT / "forms"), "triage")
    ok = browser.post("/design/forms/triage.schema.json/check", {"schema": schema, "uischema": ui}).get_json()
    assert ok == {"valid": True, "problems": []}
    loose = schema.replace('"additionalProperties": false', '"additionalProperties": true')
    body = browser.post(
        "/design/forms/triage.schema.json/check", {"schema": loose, "uischema": ui}
    ).get_json()
    assert body["valid"] is False
    assert {
        "document": "schema",
        "message": '(root): a form must have "additionalProperties": false',
    } in body["problems"]
    broken = browser.post(
        "/design/forms/triage.schema.json/check", {"schema": schema[:-10], "uischema": "[1]"}
    ).get_json()
    documents = sorted(p["document"] for p in broken["problems"])
    assert documents == ["schema", "uischema"]
    assert broken["problems"][0]["message"].startswith("not valid JSON")
    unknown_order = browser.post(
        "/design/forms/triage.schema.json/check",
        {"schema": schema, "uischema": json.dumps({"ui:order": ["triage_decision", "ghost"]})},
    ).get_json()
    assert unknown_order["problems"] == [
        {"document": "uischema", "message": "ui:order names undeclared fields: ['ghost']"}
    ]


def test_form_save_writes_the_files_and_an_audit_event(
    sign_in: Callable[[str], Browser], forms_folder: Path, users: dict[str, Any], app: Flask
) -> None:
    browser = sign_in("designer")
    schema, ui = _form_texts(forms_folder, "triage")
    base = _base_hash(browser, "triage.schema.json")
    new_schema = schema.replace("受理备注", "受理说明")
    response = browser.post(
        "/design/forms/triage.schema.json", {"schema": new_schema, "uischema": ui, "base_hash": base}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["created"] is False and body["changed"] is True and body["version_hash"] != base
    assert (forms_folder / "triage.schema.json").read_text(encoding="utf-8") == new_schema
    assert (forms_folder / "triage.uischema.json").read_text(encoding="utf-8") == ui
    assert not list(forms_folder.glob(".*.tmp"))
    [event] = audit("form.saved")
    assert event.actor_id == users["designer"].id and event.entity_id == "triage.schema.json"
    assert event.before is not None and event.after is not None
    assert event.before["schema"]["properties"]["triage_note"]["title"] == "受理备注"
    assert event.after["schema"]["properties"]["triage_note"]["title"] == "受理说明"
    assert event.after["hash"] == body["version_hash"]
    # the registry tasks validate against sees the new file
    loaded = app.extensions["gridcase.forms"].load("triage.schema.json")
    assert loaded["properties"]["triage_note"]["title"] == "受理说明"

    # Saving from the old base is a conflict; saving the same text again changes nothing.
    stale = browser.post(
        "/design/forms/triage.schema.json", {"schema": schema, "uischema": ui, "base_hash": base}
    )
    assert stale.status_code == 409
    same = browser.post(
        "/design/forms/triage.schema.json",
        {"schema": new_schema, "uischema": ui, "base_hash": body["version_hash"]},
    )
    assert same.status_code == 200 and same.get_json()["changed"] is False
    assert len(audit("form.saved")) == 1


def test_a_refused_form_save_changes_nothing(sign_in: Callable[[str], Browser], forms_folder: Path) -> None:
    browser = sign_in("designer")
    schema, ui = _form_texts(forms_folder, "triage")
    base = _base_hash(browser, "triage.schema.json")
    before = fingerprint()
    attempts = [
        {
            "schema": schema.replace('"type": "object"', '"type": "array"', 1),
            "uischema": ui,
            "base_hash": base,
        },
        {"schema": "{not json", "uischema": ui, "base_hash": base},
        {"schema": schema, "uischema": '{"ui:order": ["nope"]}', "base_hash": base},
        {
            "schema": json.dumps({**json.loads(schema), "required": ["missing"]}, ensure_ascii=False),
            "base_hash": base,
        },
    ]
    for attempt in attempts:
        response = browser.post("/design/forms/triage.schema.json", attempt)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["details"]["problems"]
    assert (
        browser.post("/design/forms/triage.schema.json", {"schema": schema, "uischema": ui}).status_code
        == 422
    )
    no_csrf = browser.post(
        "/design/forms/triage.schema.json",
        {"schema": schema + " ", "uischema": ui, "base_hash": base},
        csrf=False,
    )
    assert no_csrf.status_code == 400
    assert _form_texts(forms_folder, "triage") == (schema, ui)
    assert not list(forms_folder.glob(".*.tmp"))
    assert audit("form.saved") == []
    assert fingerprint() == before


def test_a_new_form_is_created_on_save(sign_in: Callable[[str], Browser], forms_folder: Path) -> None:
    browser = sign_in("designer")
    redirect = browser.get("/design/forms/new?name=inspection_note")
    assert redirect.status_code == 302
    assert redirect.headers["Location"].endswith("/design/forms/inspection_note.schema.json")
    page = browser.get("/design/forms/inspection_note.schema.json")
    assert page.status_code == 200
    base = _base_hash(browser, "inspection_note.schema.json")
    response = browser.post(
        "/design/forms/inspection_note.schema.json",
        {"schema": designer_forms.NEW_FORM_TEMPLATE, "uischema": "", "base_hash": base},
    )
    assert response.status_code == 200 and response.get_json()["created"] is True
    assert (forms_folder / "inspection_note.schema.json").read_text(
        encoding="utf-8"
    ) == designer_forms.NEW_FORM_TEMPLATE
    assert not (forms_folder / "inspection_note.uischema.json").exists()
    [event] = audit("form.saved")
    assert event.before is None and event.after is not None and event.after["uischema"] is None
    assert "inspection_note.schema.json" in browser.get("/design/forms").get_data(as_text=True)
    assert browser.get("/design/forms/new?name=Bad Name").status_code == 404


def test_a_form_save_rolled_back_leaves_the_files(
    app: Flask, users: dict[str, Any], forms_folder: Path
) -> None:
    schema, ui = _form_texts(forms_folder, "review")
    base = designer_forms.load_form_source("review.schema.json").version_hash
    with app.test_request_context():
        designer_forms.save_form(
            "review.schema.json", schema.replace("核查", "复核"), "", base, actor=users["designer"]
        )
        assert list(forms_folder.glob(".*.tmp"))  # staged, not applied
        db.session.rollback()
    assert _form_texts(forms_folder, "review") == (schema, ui)
    assert not list(forms_folder.glob(".*.tmp"))
    assert audit("form.saved") == []


def test_pages_are_chinese_first_and_english_by_the_switch(sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    page = browser.get("/design/processes/case_handling/edit").get_data(as_text=True)
    assert ">校验</button>" in page and "保存为草稿" in page
    browser.client.set_cookie("lang", "en")
    page = browser.get("/design/processes/case_handling/edit").get_data(as_text=True)
    assert ">Validate</button>" in page and "Save as a draft" in page
