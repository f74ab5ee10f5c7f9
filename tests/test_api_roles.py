"""Who may call what: authentication on every endpoint, then the role matrix, endpoint by endpoint."""

from __future__ import annotations

import io
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select

from app import create_app
from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases.models import Case
from app.extensions import db
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.conftest import PASSWORD, _settings
from tests.helpers import complete, ensure_catalogue, jpeg, open_task, report, upload_photo
from tests.probes import one_task_bpmn, upload_diagram

ACCEPT = {"data": {"triage_decision": "accept"}}
# Public: signing in, and the API description (with the page that renders it).
PUBLIC = {("POST", "/api/v1/tokens"), ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}


def _api_routes() -> list[tuple[str, str]]:
    """Every (method, rule) under /api/v1 in the url map, read from an app that is never connected."""
    app = create_app(_settings("sqlite://", Path(tempfile.gettempdir()) / "gridcase-urlmap"))
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, rule.rule))
    return sorted(routes)


API_ROUTES = _api_routes()
PROTECTED = [route for route in API_ROUTES if route not in PUBLIC]


def _concrete(rule: str, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule)


def _login(client, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _instance_id(case_key: str) -> int:
    return db.session.execute(
        select(ProcessInstance.id).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == case_key)
    ).scalar_one()


def _audit(action: str, entity_id: Any) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        ).scalars()
    )


SMALL_BPMN = one_task_bpmn("roles_probe", "supervisor")


# -- authentication on every endpoint -------------------------------------------------------------


def test_url_map_and_openapi_list_the_same_api():
    """The endpoint list checked below is the whole API: every documented path is in the url map and back."""
    app = create_app(_settings("sqlite://", Path(tempfile.gettempdir()) / "gridcase-urlmap"))
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    mapped = {
        (method, re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule))
        for method, rule in API_ROUTES
        if (method, rule) not in {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}
    }
    assert documented == mapped
    assert len(PROTECTED) >= 25


def test_every_endpoint_needs_a_valid_token(client, auth, users, deployed, clock, subtests):
    """Every protected endpoint (one subtest each, named by method and rule) refuses each bad credential.

    One case, photo and task, and one revoked and one expired token, serve every endpoint: a refused
    request changes nothing, and that is checked after each endpoint."""
    created = report(client, auth)
    photo = upload_photo(client, auth, "resident", created["key"], kind="report")
    task = open_task(created["key"], "triage")

    revoked = _login(client, "dispatcher")
    assert client.delete("/api/v1/tokens/current", headers=_bearer(revoked)).status_code == 204
    expiring = _login(client, "dispatcher")
    assert client.get("/api/v1/users/me", headers=_bearer(expiring)).status_code == 200
    clock.advance(hours=24 * 30 + 1)  # past TOKEN_TTL_HOURS

    attempts = {
        "no token": {},
        "malformed header": {"Authorization": "Bearer"},
        "other scheme": {"Authorization": f"Basic {expiring}"},
        "invalid token": _bearer("gc_not-a-real-token"),
        "revoked token": _bearer(revoked),
        "expired token": _bearer(expiring),
    }
    for method, rule in PROTECTED:
        with subtests.test(f"{method} {rule}"):
            key = "case_handling" if rule.startswith("/api/v1/process-definitions/") else created["key"]
            url = _concrete(
                rule,
                {
                    "key": key,
                    "attachment_id": photo["id"],
                    "task_id": task.id,
                    "instance_id": task.instance_id,
                    "version": 1,
                    "code": "510124",
                    "username": "worker",
                    "device_id": "probe-device",
                    "document_id": 1,  # a dispute document (refused before any lookup)
                    # inspection campaigns, places, items and photos: refused before any lookup too
                    "campaign_id": 1,
                    "place_id": 1,
                    "item_id": 1,
                    "photo_id": 1,
                    "token_id": 1,  # an API token (refused before any lookup)
                    # instance migrations and their batches (refused before any lookup)
                    "migration_id": 1,
                    "batch_id": "00000000-0000-4000-8000-000000000000",
                    "job_id": 1,  # a background job (refused before any lookup)
                },
            )
            for what, headers in attempts.items():
                # No body at all: authentication is decided before the input is looked at.
                response = client.open(url, method=method, headers=headers)
                assert response.status_code == 401, (what, response.status_code, response.get_json())
                assert response.get_json()["error"] == "not_authenticated", what
            # Nothing changed for anyone.
            db.session.expire_all()
            assert db.session.get(HumanTask, task.id).status == TaskStatus.READY
            assert (
                db.session.execute(select(Case.status).where(Case.key == created["key"])).scalar_one()
                == "triage"
            )


def test_public_endpoints_need_no_token(client, users):
    assert client.get("/api/v1/openapi.json").status_code == 200
    response = client.post("/api/v1/tokens", json={"username": "resident", "password": PASSWORD})
    assert response.status_code == 201
    assert response.get_json()["token_type"] == "Bearer"
    for username, password in (("resident", "wrong-password"), ("nobody", PASSWORD)):
        response = client.post("/api/v1/tokens", json={"username": username, "password": password})
        assert response.status_code == 401


def test_revoked_token_is_refused(client, users):
    token = _login(client, "worker")
    assert client.get("/api/v1/users/me", headers=_bearer(token)).get_json()["username"] == "worker"
    assert client.delete("/api/v1/tokens/current", headers=_bearer(token)).status_code == 204
    response = client.get("/api/v1/users/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_authenticated"
    # Other tokens of the same user still work.
    other = _login(client, "worker")
    assert client.get("/api/v1/users/me", headers=_bearer(other)).status_code == 200
    assert [
        e.actor_label
        for e in db.session.execute(select(AuditEvent).where(AuditEvent.action == "token.revoked")).scalars()
    ] == ["worker"]


def test_passwords_are_stored_hashed(client, auth, users):
    for username in ("resident", "admin"):
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        assert user.password_hash != PASSWORD
        assert PASSWORD not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    response = client.post(
        "/api/v1/users",
        json={"username": "newbie", "password": "another-pass-9", "role": "resident"},
        headers=auth("admin"),
    )
    assert response.status_code == 201
    assert "password" not in response.get_json()
    newbie = db.session.execute(select(User).where(User.username == "newbie")).scalar_one()
    assert newbie.password_hash != "another-pass-9"
    assert newbie.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert newbie.check_password("another-pass-9")


# -- cases -----------------------------------------------------------------------------------------


def test_report_needs_a_reporting_role(client, auth, users, deployed):
    ensure_catalogue()
    body = {"title": "路灯不亮", "category_code": "E0102", "severity": "blue"}
    response = client.post("/api/v1/cases", json=body, headers=auth("designer"))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert db.session.execute(select(Case)).first() is None
    for who in ("resident", "worker", "dispatcher", "supervisor", "admin"):
        assert client.post("/api/v1/cases", json=body, headers=auth(who)).status_code == 201, who


def test_case_visibility(client, auth, users, create_user, deployed):
    create_user("resident", "resident2")
    mine = report(client, auth, "resident", title="我的案件")
    theirs = report(client, auth, "resident2", title="别人的案件")
    by_worker = report(client, auth, "worker", title="网格员上报")

    # Another resident: the case does not exist for them (no leak of its existence).
    response = client.get(f"/api/v1/cases/{theirs['key']}", headers=auth("resident"))
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    absent = client.get("/api/v1/cases/GC-2026-999999", headers=auth("resident"))
    assert absent.status_code == 404
    assert absent.get_json()["error"] == response.get_json()["error"]
    for who in ("resident", "dispatcher", "supervisor", "admin"):
        response = client.get(f"/api/v1/cases/{mine['key']}", headers=auth(who))
        assert response.status_code == 200, who
        assert response.get_json()["reporter"] == "resident"

    listed = client.get("/api/v1/cases", headers=auth("resident")).get_json()
    assert [c["key"] for c in listed["items"]] == [mine["key"]]
    assert listed["total"] == 1
    listed = client.get("/api/v1/cases", headers=auth("resident2")).get_json()
    assert [c["key"] for c in listed["items"]] == [theirs["key"]]
    everything = client.get("/api/v1/cases", headers=auth("dispatcher")).get_json()
    assert {c["key"] for c in everything["items"]} == {mine["key"], theirs["key"], by_worker["key"]}
    # A designer sees no cases.
    assert client.get("/api/v1/cases", headers=auth("designer")).get_json()["total"] == 0
    assert client.get(f"/api/v1/cases/{mine['key']}", headers=auth("designer")).status_code == 404

    # Timeline and comments follow the same rule.
    assert client.get(f"/api/v1/cases/{mine['key']}/timeline", headers=auth("resident2")).status_code == 404
    assert client.get(f"/api/v1/cases/{mine['key']}/timeline", headers=auth("resident")).status_code == 200
    assert client.get(f"/api/v1/cases/{mine['key']}/comments", headers=auth("resident2")).status_code == 404
    assert (
        client.post(
            f"/api/v1/cases/{mine['key']}/comments", json={"body": "hi"}, headers=auth("resident2")
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/cases/{mine['key']}/withdraw", json={"reason": "不需要了"}, headers=auth("resident2")
        ).status_code
        == 404
    )


def test_attachments_follow_case_visibility(client, auth, users, create_user, deployed):
    create_user("resident", "resident2")
    created = report(client, auth)
    content = jpeg((10, 200, 10))
    photo = upload_photo(client, auth, "resident", created["key"], kind="report", content=content)

    for url in (
        f"/api/v1/attachments/{photo['id']}",
        f"/api/v1/attachments/{photo['id']}/content",
        f"/api/v1/cases/{created['key']}/attachments",
    ):
        response = client.get(url, headers=auth("resident2"))
        assert response.status_code == 404, url
    assert (
        client.get(f"/api/v1/attachments/{photo['id'] + 1000}/content", headers=auth("resident")).status_code
        == 404
    )
    upload = client.post(
        f"/api/v1/cases/{created['key']}/attachments?kind=report",
        data={"file": (io.BytesIO(jpeg()), "x.jpg")},
        headers=auth("resident2"),
        content_type="multipart/form-data",
    )
    assert upload.status_code == 404

    for who in ("resident", "dispatcher"):
        response = client.get(f"/api/v1/attachments/{photo['id']}/content", headers=auth(who))
        assert response.status_code == 200, who
        assert response.mimetype == "image/jpeg"
        with Image.open(io.BytesIO(response.data)) as shown, Image.open(io.BytesIO(content)) as sent:
            assert shown.size == sent.size, who  # the photo (re-encoded when stored; see test_photo_privacy)


def test_process_instance_state_follows_case_visibility(client, auth, users, create_user, deployed):
    create_user("resident", "resident2")
    created = report(client, auth)
    instance_id = _instance_id(created["key"])
    for who in ("resident", "dispatcher", "supervisor", "admin", "designer"):
        response = client.get(f"/api/v1/process-instances/{instance_id}", headers=auth(who))
        assert response.status_code == 200, who
        body = response.get_json()
        assert body["case_key"] == created["key"]
        assert "triage" in body["active_element_ids"]
    for who in ("resident2", "worker"):
        response = client.get(f"/api/v1/process-instances/{instance_id}", headers=auth(who))
        assert response.status_code == 404, who
    assert client.get("/api/v1/process-instances/99999", headers=auth("dispatcher")).status_code == 404


# -- tasks -----------------------------------------------------------------------------------------


def test_claimable_inbox_by_role(client, auth, users, deployed):
    created = report(client, auth)
    triage = open_task(created["key"], "triage")
    response = client.get("/api/v1/tasks?scope=claimable", headers=auth("dispatcher"))
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(t["id"], t["element_id"], t["case_key"]) for t in items] == [
        (triage.id, "triage", created["key"])
    ]
    for who in ("worker", "resident", "handler", "designer"):
        for scope in ("claimable", "all", "mine"):
            response = client.get(f"/api/v1/tasks?scope={scope}", headers=auth(who))
            assert response.status_code == 200
            assert response.get_json()["items"] == [], (who, scope)
    # A task you cannot see does not exist for you.
    assert client.get(f"/api/v1/tasks/{triage.id}", headers=auth("worker")).status_code == 404
    detail = client.get(f"/api/v1/tasks/{triage.id}", headers=auth("dispatcher"))
    assert detail.status_code == 200, detail.get_json()
    body = detail.get_json()
    assert (body["id"], body["element_id"], body["case_key"], body["status"]) == (
        triage.id,
        "triage",
        created["key"],
        "ready",
    )
    assert body["candidate_roles"] == ["dispatcher"]
    assert body["created_at"].startswith("2026-11-02T09:00:00")
    assert "triage_decision" in body["form_schema"]["properties"]
    assert body["data"]["case_key"] == created["key"]
    assert body["submitted_data"] is None


def test_claim_rules(client, auth, users, create_user, deployed):
    create_user("dispatcher", "dispatcher2")
    created = report(client, auth)
    triage = open_task(created["key"], "triage")
    url = f"/api/v1/tasks/{triage.id}/claim"

    # A supervisor sees every task but is not a candidate for triage: wrong role.
    response = client.post(url, headers=auth("supervisor"))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    # Roles that may not even see the task get the same answer as for a task that does not exist.
    for who in ("worker", "resident"):
        assert client.post(url, headers=auth(who)).status_code == 404, who

    first = client.post(url, headers=auth("dispatcher"))
    assert first.status_code == 200
    assert first.get_json()["status"] == "claimed"
    assert client.post(url, headers=auth("dispatcher")).status_code == 200  # idempotent for the holder
    second = client.post(url, headers=auth("dispatcher2"))
    assert second.status_code == 409
    assert second.get_json()["error"] == "conflict"
    db.session.expire_all()
    assert db.session.get(HumanTask, triage.id).assignee_id == users["dispatcher"].id
    assert len(_audit("task.claimed", triage.id)) == 1

    # Only the holder (or a supervisor) may hand it back.
    response = client.post(f"/api/v1/tasks/{triage.id}/unclaim", headers=auth("dispatcher2"))
    assert response.status_code == 403
    # Completing a task someone else holds is a conflict, and changes nothing.
    response = client.post(f"/api/v1/tasks/{triage.id}/complete", json=ACCEPT, headers=auth("dispatcher2"))
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(HumanTask, triage.id).status == TaskStatus.CLAIMED
    assert _audit("task.completed", triage.id) == []

    response = client.post(f"/api/v1/tasks/{triage.id}/unclaim", headers=auth("dispatcher"))
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"
    assert client.post(url, headers=auth("dispatcher2")).status_code == 200


def test_supervisor_may_unclaim_anyones_task(client, auth, users, deployed):
    created = report(client, auth)
    triage = open_task(created["key"], "triage")
    assert client.post(f"/api/v1/tasks/{triage.id}/claim", headers=auth("dispatcher")).status_code == 200
    response = client.post(f"/api/v1/tasks/{triage.id}/unclaim", headers=auth("supervisor"))
    assert response.status_code == 200
    assert response.get_json()["assignee_id"] is None


def test_reassign_rules(client, auth, users, create_user, deployed):
    create_user("dispatcher", "dispatcher2")
    created = report(client, auth)
    triage = open_task(created["key"], "triage")
    url = f"/api/v1/tasks/{triage.id}/reassign"

    for who in ("worker", "dispatcher", "resident", "designer"):
        response = client.post(url, json={"username": "dispatcher2"}, headers=auth(who))
        assert response.status_code == 403, who
    assert _audit("task.reassigned", triage.id) == []

    response = client.post(url, json={"username": "worker"}, headers=auth("supervisor"))
    assert response.status_code == 422
    assert "username" in response.get_json()["details"]
    response = client.post(url, json={"username": "nobody"}, headers=auth("supervisor"))
    assert response.status_code == 422
    assert _audit("task.reassigned", triage.id) == []

    response = client.post(url, json={"username": "dispatcher2"}, headers=auth("supervisor"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "claimed"
    assert (
        body["assignee_id"]
        == db.session.execute(select(User.id).where(User.username == "dispatcher2")).scalar_one()
    )
    events = _audit("task.reassigned", triage.id)
    assert len(events) == 1
    assert events[0].actor_label == "supervisor"
    assert events[0].after["candidate_user"] == "dispatcher2"
    # The new holder can complete it; the previous pool cannot.
    assert (
        client.post(
            f"/api/v1/tasks/{triage.id}/complete", json=ACCEPT, headers=auth("dispatcher")
        ).status_code
        == 404
    )
    complete(client, auth, "dispatcher2", created["key"], "triage", {"triage_decision": "accept"})


def test_wrong_role_cannot_complete(client, auth, users, deployed):
    created = report(client, auth)
    triage = open_task(created["key"], "triage")
    response = client.post(f"/api/v1/tasks/{triage.id}/complete", json=ACCEPT, headers=auth("supervisor"))
    assert response.status_code == 403
    response = client.post(f"/api/v1/tasks/{triage.id}/complete", json=ACCEPT, headers=auth("resident"))
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(HumanTask, triage.id).status == TaskStatus.READY


# -- process definitions and messages --------------------------------------------------------------


def test_deploy_needs_designer(client, auth, users):
    for who in ("worker", "dispatcher", "supervisor", "resident"):
        response = upload_diagram(client, auth, who, SMALL_BPMN, "roles_probe.bpmn")
        assert response.status_code == 403, who
    response = upload_diagram(client, auth, "designer", SMALL_BPMN, "roles_probe.bpmn")
    assert response.status_code == 201, response.get_json()
    [first] = response.get_json()
    assert first["created"] is True
    assert first["definition"]["key"] == "roles_probe"
    assert first["definition"]["version"] == 1

    again = upload_diagram(client, auth, "designer", SMALL_BPMN, "roles_probe.bpmn")
    assert again.status_code == 201
    [second] = again.get_json()
    assert second["created"] is False
    assert second["definition"]["version"] == 1
    assert second["definition"]["id"] == first["definition"]["id"]
    assert response.get_json()[0]["definition"]["content_hash"] == second["definition"]["content_hash"]
    assert len(_audit("process.deployed", first["definition"]["id"])) == 1
    assert upload_diagram(client, auth, "admin", SMALL_BPMN, "roles_probe.bpmn").status_code == 201


def test_definitions_readable_by_any_signed_in_user(client, auth, users, deployed):
    for who in ("resident", "worker", "designer", "supervisor"):
        response = client.get("/api/v1/process-definitions/case_handling/versions/1/xml", headers=auth(who))
        assert response.status_code == 200, who
        assert response.mimetype == "application/xml"
        assert b'id="case_handling"' in response.data
        versions = client.get("/api/v1/process-definitions/case_handling/versions", headers=auth(who))
        assert versions.status_code == 200
        assert [v["version"] for v in versions.get_json()] == [1]
        assert client.get("/api/v1/process-definitions", headers=auth(who)).status_code == 200
    assert (
        client.get(
            "/api/v1/process-definitions/case_handling/versions/9/xml", headers=auth("resident")
        ).status_code
        == 404
    )


def test_messages_need_dispatcher_or_above(client, auth, users, deployed):
    created = report(client, auth)
    instance_id = _instance_id(created["key"])
    body = {"name": "report_withdrawn", "payload": {"reason": "x"}, "instance_id": instance_id}
    for who in ("resident", "worker", "handler", "designer"):
        response = client.post("/api/v1/messages", json=body, headers=auth(who))
        assert response.status_code == 403, who
    db.session.expire_all()
    assert db.session.execute(select(Case.status).where(Case.key == created["key"])).scalar_one() == "triage"
    response = client.post("/api/v1/messages", json=body, headers=auth("dispatcher"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "completed"


# -- users -----------------------------------------------------------------------------------------


def test_forbidden_names_the_roles_by_their_value(client, auth, users):
    response = client.get("/api/v1/users", headers=auth("worker"))
    assert response.status_code == 403
    body = response.get_json()
    assert body["message"] == "a grid_worker may not do this"
    assert body["details"] == {"role": "needs one of admin, supervisor"}


def test_user_administration(client, auth, users):
    new_user = {"username": "worker9", "password": "long-enough-1", "role": "grid_worker"}
    for who in ("worker", "resident", "dispatcher", "designer"):
        assert client.get("/api/v1/users", headers=auth(who)).status_code == 403, who
        assert client.post("/api/v1/users", json=new_user, headers=auth(who)).status_code == 403, who
    assert client.post("/api/v1/users", json=new_user, headers=auth("supervisor")).status_code == 403
    assert db.session.execute(select(User).where(User.username == "worker9")).first() is None
    assert client.get("/api/v1/users", headers=auth("supervisor")).status_code == 200

    response = client.post("/api/v1/users", json=new_user, headers=auth("admin"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["role"] == "grid_worker"
    assert client.post("/api/v1/users", json=new_user, headers=auth("admin")).status_code == 409
    listed = client.get("/api/v1/users?page_size=100", headers=auth("admin")).get_json()
    assert "worker9" in [u["username"] for u in listed["items"]]
    created_events = [
        e
        for e in db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.created")).scalars()
        if e.after["username"] == "worker9"
    ]
    assert [e.actor_label for e in created_events] == ["admin"]
    # The new user can sign in.
    token = _login(client, "worker9", "long-enough-1")
    me = client.get("/api/v1/users/me", headers=_bearer(token)).get_json()
    assert me["username"] == "worker9"


def test_expired_token_after_ttl(client, users, clock):
    token = _login(client, "resident")
    clock.advance(timedelta(hours=24 * 30) - timedelta(minutes=1))
    assert client.get("/api/v1/users/me", headers=_bearer(token)).status_code == 200
    clock.advance(minutes=2)
    assert client.get("/api/v1/users/me", headers=_bearer(token)).status_code == 401
