"""Administering accounts through the services, the API and the command line: deactivation (tokens refused at
once, sign-in refused, open tasks still listed), reactivation, and one-time password resets (hashed at rest,
single use, expiring, the newest only, the policy applied, a refused password leaving the code usable)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth import accounts, resets
from app.auth.models import ApiToken, PasswordReset, User
from app.auth.signin import sign_in
from app.errors import InvalidInput
from app.extensions import db
from app.tasks.holders import open_tasks_of, reassign_candidates
from tests.conftest import PASSWORD
from tests.helpers import fingerprint, open_task, report, walk_to

NEW_PASSWORD = "Qingshui-River-42"


def user(username: str) -> User:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def token_of(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


# -- the API -----------------------------------------------------------------------------------------------


def test_deactivating_through_the_api_refuses_the_users_earlier_tokens_at_once(
    client: FlaskClient, users: dict[str, Any], auth: Any
) -> None:
    worker = token_of(client, "worker")
    second = token_of(client, "worker")
    response = client.post("/api/v1/users/worker/deactivate", json={"reason": "调岗"}, headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["active"] is False
    for headers in (worker, second):
        assert client.get("/api/v1/users/me", headers=headers).status_code == 401
    refused = client.post("/api/v1/tokens", json={"username": "worker", "password": PASSWORD})
    assert refused.status_code == 401
    assert all(
        row.revoked
        for row in db.session.execute(select(ApiToken)).scalars()
        if row.user_id == user("worker").id
    )
    (event,) = events("user.deactivated")
    assert (event.actor_label, event.entity_id) == ("admin", str(user("worker").id))
    assert event.data == {"tokens_revoked": 2, "reason": "调岗"}
    # Twice changes nothing more.
    assert client.post("/api/v1/users/worker/deactivate", json={}, headers=auth("admin")).status_code == 200
    assert len(events("user.deactivated")) == 1


def test_reactivating_through_the_api_lets_them_sign_in_but_not_with_old_tokens(
    client: FlaskClient, users: dict[str, Any], auth: Any
) -> None:
    old = token_of(client, "worker")
    client.post("/api/v1/users/worker/deactivate", json={}, headers=auth("admin"))
    response = client.post("/api/v1/users/worker/reactivate", headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["active"] is True
    assert client.get("/api/v1/users/me", headers=old).status_code == 401
    assert client.get("/api/v1/users/me", headers=token_of(client, "worker")).status_code == 200
    assert [e.actor_label for e in events("user.reactivated")] == ["admin"]


@pytest.mark.parametrize("username", ["worker", "supervisor", "designer", "resident"])
def test_only_admins_deactivate_reactivate_or_reset(
    client: FlaskClient, users: dict[str, Any], auth: Any, username: str
) -> None:
    headers = auth(username)
    before = fingerprint()
    for path in ("deactivate", "reactivate", "password-resets"):
        response = client.post(f"/api/v1/users/worker2/{path}", json={}, headers=headers)
        assert response.status_code == 403, path
    assert fingerprint() == before


def test_an_unknown_user_is_404_and_an_admin_cannot_deactivate_themselves(
    client: FlaskClient, users: dict[str, Any], auth: Any
) -> None:
    headers = auth("admin")
    before = fingerprint()
    assert client.post("/api/v1/users/nobody/deactivate", json={}, headers=headers).status_code == 404
    assert client.post("/api/v1/users/nobody/password-resets", headers=headers).status_code == 404
    response = client.post("/api/v1/users/admin/deactivate", json={}, headers=headers)
    assert response.status_code == 422 and "username" in response.get_json()["details"]
    assert fingerprint() == before


def test_a_reset_issued_through_the_api_is_a_link_and_a_code_kept_only_as_a_hash(
    client: FlaskClient, users: dict[str, Any], auth: Any
) -> None:
    response = client.post("/api/v1/users/worker/password-resets", headers=auth("admin"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"] == "worker" and body["url"].endswith(f"/password-reset/?code={body['code']}")
    row = db.session.execute(select(PasswordReset)).scalar_one()
    assert body["code"] not in row.code_hash and row.used_at is None
    (event,) = events("user.password_reset_issued")
    assert event.actor_label == "admin" and body["code"] not in str(event.data)


def test_the_new_endpoints_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("deactivate", "reactivate", "password-resets"):
        assert "post" in paths[f"/api/v1/users/{{username}}/{path}"]


# -- the services ------------------------------------------------------------------------------------------


def test_a_reset_works_once_and_a_refused_password_leaves_it_usable(
    app: Flask, users: dict[str, Any]
) -> None:
    code, _row = resets.issue_reset(user("worker"), user("admin"))
    db.session.commit()
    with pytest.raises(InvalidInput) as refused:
        resets.use_reset(code, "worker-1234567")
    assert "password" in refused.value.details
    db.session.rollback()
    assert resets.valid_reset(code) is not None
    resets.use_reset(code.lower(), NEW_PASSWORD)
    db.session.commit()
    assert user("worker").check_password(NEW_PASSWORD)
    with pytest.raises(InvalidInput) as again:
        resets.use_reset(code, "Another-Pass-77")
    assert again.value.details == {"code": resets.INVALID_CODE}


def test_a_reset_expires_and_a_newer_one_voids_the_older(
    app: Flask, users: dict[str, Any], clock: Any
) -> None:
    older, _ = resets.issue_reset(user("worker"), user("admin"))
    newer, _ = resets.issue_reset(user("worker"), user("admin"))
    db.session.commit()
    assert resets.valid_reset(older) is None and resets.valid_reset(newer) is not None
    assert events("user.password_reset_issued")[-1].data["earlier_voided"] == 1
    clock.advance(hours=24, seconds=1)
    assert resets.valid_reset(newer) is None
    with pytest.raises(InvalidInput):
        resets.use_reset(newer, NEW_PASSWORD)


def test_a_reset_unlocks_a_locked_account_and_revokes_its_tokens(
    client: FlaskClient, users: dict[str, Any]
) -> None:
    headers = token_of(client, "worker")
    for _ in range(10):
        sign_in("worker", "wrong-password", channel="api", address=None)
    db.session.commit()
    assert user("worker").locked_until is not None
    code, _ = resets.issue_reset(user("worker"), user("admin"))
    resets.use_reset(code, NEW_PASSWORD)
    db.session.commit()
    assert user("worker").locked_until is None
    assert client.get("/api/v1/users/me", headers=headers).status_code == 401
    assert (
        client.post("/api/v1/tokens", json={"username": "worker", "password": NEW_PASSWORD}).status_code
        == 201
    )


def test_editing_records_before_and_after_and_refuses_a_bad_name(app: Flask, users: dict[str, Any]) -> None:
    changed = accounts.update_user(user("worker"), user("admin"), role="grid_leader", display_name="李四")
    db.session.commit()
    assert changed == {
        "before": {"role": "grid_worker", "display_name": "worker"},
        "after": {"role": "grid_leader", "display_name": "李四"},
    }
    assert accounts.update_user(user("worker"), user("admin"), role="grid_leader") == {}
    with pytest.raises(InvalidInput) as bad:
        accounts.update_user(user("worker"), user("admin"), display_name="  ")
    assert "display_name" in bad.value.details
    with pytest.raises(InvalidInput):
        accounts.update_user(user("worker"), user("admin"), role="king")


def test_a_deactivated_holders_open_tasks_stay_listed_with_who_may_take_them(
    client: FlaskClient, users: dict[str, Any], auth: Any, deployed: None
) -> None:
    key = report(client, auth)["key"]
    walk_to(client, auth, key, "handle", handler="worker")
    task = open_task(key, "handle")
    accounts.deactivate(user("worker"), user("admin"))
    db.session.commit()
    assert [t.id for t in open_tasks_of(user("worker"))] == [task.id]
    names = [name for name, _ in reassign_candidates(task)]
    assert "worker2" in names and "worker" not in names


# -- the command line --------------------------------------------------------------------------------------


def test_the_command_line_deactivates_reactivates_and_issues_a_reset(
    app: Flask, users: dict[str, Any]
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "deactivate", "worker", "--reason", "离职"])
    assert result.exit_code == 0, result.output
    assert "deactivated worker" in result.output and user("worker").active is False
    (event,) = events("user.deactivated")
    assert event.actor_label == "system" and event.data["reason"] == "离职"
    refused = runner.invoke(args=["users", "reset-password", "worker"])
    assert refused.exit_code == 2 and "reactivate" in refused.output
    assert runner.invoke(args=["users", "reactivate", "worker"]).exit_code == 0
    issued = runner.invoke(args=["users", "reset-password", "worker", "--base-url", "https://gc.example/"])
    assert issued.exit_code == 0, issued.output
    code = issued.output.split("code: ")[1].split()[0]
    assert f"link: https://gc.example/password-reset/?code={code}" in issued.output
    resets.use_reset(code, NEW_PASSWORD)
    db.session.commit()
    assert user("worker").check_password(NEW_PASSWORD)
    assert runner.invoke(args=["users", "deactivate", "nobody"]).exit_code == 2


def test_the_user_list_of_the_api_filters_by_text_role_and_state(
    client: FlaskClient, users: dict[str, Any], auth: Any
) -> None:
    headers = auth("admin")
    client.post("/api/v1/users/worker2/deactivate", json={}, headers=headers)

    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/users?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [item["username"] for item in response.get_json()["items"]]

    assert names("role=grid_worker") == ["worker", "worker2"]
    assert names("role=grid_worker&active=false") == ["worker2"]
    assert names("q=WORK&active=true") == ["worker"]
    assert client.get("/api/v1/users?role=king", headers=headers).status_code == 422
