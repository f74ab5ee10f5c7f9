"""GET /api/v1/process-definitions/<key>/diff on SQLite and PostgreSQL: the semantic diff of two versions and
the XML lines changed (normalized and stored); designers and admins only; bad versions are 404/422."""

from __future__ import annotations

from typing import Any

from app import runtime
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy
from tests.factories import app_on_both_backends

app = app_on_both_backends

CASE_HANDLING = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8")
API = "/api/v1/process-definitions/case_handling/diff"


def _deploy(xml: str) -> None:
    deploy.deploy_file("case_handling.bpmn", xml.encode("utf-8"), runtime.deploy_rules())
    db.session.commit()


def test_the_diff_of_two_versions(app: Any, client: Any, auth: Any, users: Any) -> None:
    _deploy(CASE_HANDLING)
    # v2: a rename and a new candidate role, written with tabs (the layout is not a change)
    edited = (
        CASE_HANDLING.replace('name="受理立案"', 'name="受理审核"', 1)
        .replace(
            '<spiffworkflow:property name="candidateRoles" value="dispatcher" />',
            '<spiffworkflow:property name="candidateRoles" value="dispatcher,supervisor" />',
            1,
        )
        .replace("\n    ", "\n\t")
    )
    _deploy(edited)

    response = client.get(API, headers=auth("designer"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["key"], body["a"], body["b"]) == ("case_handling", 1, 2)
    assert body["counts"] == {"changed": 1, "added": 0, "removed": 0, "moved": 0}
    assert body["entries"] == [
        {
            "kind": "changed",
            "element_id": "triage",
            "type": "userTask",
            "name": "受理审核",
            "changes": [
                {"property": "name", "old": "受理立案", "new": "受理审核"},
                {"property": "property:candidateRoles", "old": "dispatcher", "new": "dispatcher,supervisor"},
            ],
        }
    ]
    assert body["normalized_lines"] == {"added": 2, "removed": 2}
    assert body["stored_lines"]["added"] > 100  # every re-indented line

    # the other way round, and a version against itself
    back = client.get(f"{API}?a=2&b=1", headers=auth("admin")).get_json()
    assert back["entries"][0]["changes"][0] == {"property": "name", "old": "受理审核", "new": "受理立案"}
    same = client.get(f"{API}?a=2&b=2", headers=auth("designer")).get_json()
    assert same["entries"] == [] and same["normalized_lines"] == {"added": 0, "removed": 0}


def test_who_may_ask_and_bad_versions(app: Any, client: Any, auth: Any, users: Any) -> None:
    _deploy(CASE_HANDLING)
    for role in ("resident", "worker", "dispatcher", "supervisor"):
        assert client.get(API, headers=auth(role)).status_code == 403
    assert client.get(API).status_code == 401
    assert client.get(f"{API}?a=1&b=9", headers=auth("designer")).status_code == 404
    assert client.get("/api/v1/process-definitions/nope/diff", headers=auth("designer")).status_code == 404
    bad = client.get(f"{API}?a=zero", headers=auth("designer"))
    assert bad.status_code == 422 and "a" in str(bad.get_json())
