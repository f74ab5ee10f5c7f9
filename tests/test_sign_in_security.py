"""Signing in and tokens: the password policy, the lockout, equal answer times, the audit of sign-ins, and
tokens that can be listed and revoked (a revoked token or a deactivated user's token is refused at once)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.auth.passwords import password_problems
from app.extensions import db
from tests.conftest import PASSWORD
from tests.helpers import count
from tests.web.pages import PageClient, csrf_token

# -- the policy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-1", "至少 10 个字符"),
        ("12345678901", "不能全是数字"),
        ("wangfang-2026", "不能等于或包含用户名"),
        ("Wangfang", "不能等于或包含用户名"),
        ("woaini5201314", "太常见"),
        ("aaaaaaaaaaaa", "太常见"),
    ],
)
def test_the_policy_names_its_reasons_in_chinese_first(password: str, reason: str) -> None:
    problems = password_problems(password, "wangfang")
    assert any(reason in problem for problem in problems), problems


def test_a_good_password_passes_and_the_demo_password_is_allowed() -> None:
    assert password_problems("Lamp-post-42", "wangfang") == []
    assert password_problems("gridcase-demo", "worker1") == []  # app/demo: make run's users still sign in


def test_creating_a_user_applies_the_policy(
    client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]]
) -> None:
    for weak in ("12345678", "12345678901", "newbie-2026x"):
        body = {"username": "newbie", "password": weak, "role": "resident"}
        refused = client.post("/api/v1/users", json=body, headers=auth("admin"))
        assert refused.status_code == 422, weak
        assert refused.get_json()["details"]["password"]
    body = {"username": "newbie", "password": "Lamp-post-42", "role": "resident"}
    assert client.post("/api/v1/users", json=body, headers=auth("admin")).status_code == 201


def test_changing_a_password_applies_the_policy_and_revokes_the_tokens(
    client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]]
) -> None:
    headers = auth("worker")
    weak = client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "worker-123456"},
        headers=headers,
    )
    assert weak.status_code == 422 and "用户名" in str(weak.get_json()["details"])
    wrong = client.post(
        "/api/v1/users/me/password", json={"current_password": "nope", "new_password": "x"}, headers=headers
    )
    assert wrong.status_code == 403
    changed = client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "Lamp-post-42"},
        headers=headers,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/users/me", headers=headers).status_code == 401  # the old token is revoked
    signed = client.post("/api/v1/tokens", json={"username": "worker", "password": "Lamp-post-42"})
    assert signed.status_code == 201


# -- lockout and audit -----------------------------------------------------------------------------------


def _token(client: FlaskClient, username: str, password: str) -> int:
    return client.post("/api/v1/tokens", json={"username": username, "password": password}).status_code


def test_ten_failures_lock_the_account_for_fifteen_minutes(
    app: Flask, client: FlaskClient, users: dict[str, Any]
) -> None:
    for _ in range(9):
        assert _token(client, "worker", "wrong-password") == 401
    assert _token(client, "worker", PASSWORD) == 201  # 9 failures: not locked; a success resets the count
    for _ in range(10):
        assert _token(client, "worker", "wrong-password") == 401
    refused = client.post("/api/v1/tokens", json={"username": "worker", "password": PASSWORD})
    assert refused.status_code == 401  # locked: even the right password
    # The same answer as a wrong password or an unknown user: the lock does not tell the account exists.
    unknown = client.post("/api/v1/tokens", json={"username": "nobody", "password": PASSWORD})
    assert refused.get_json() == unknown.get_json()
    assert "锁定" in refused.get_json()["message"]

    locked = db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth.locked")).scalar_one()
    assert locked.entity_id == str(users["worker"].id)
    assert locked.data["failures"] == 10 and locked.data["channel"] == "api"
    assert (
        count(AuditEvent, AuditEvent.action == "auth.sign_in_failed") == 21
    )  # 19 wrong, 1 locked, 1 unknown
    reasons = [
        e.data["reason"]
        for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed").order_by(AuditEvent.id)
        ).scalars()
    ]
    assert reasons[-2:] == ["locked", "unknown_user"]
    assert count(AuditEvent, AuditEvent.action == "auth.signed_in") == 1

    # Another account is not affected; after the lock's 15 minutes, the right password works.
    assert _token(client, "worker2", PASSWORD) == 201
    app.extensions["gridcase.clock"].advance(timedelta(minutes=15, seconds=1))
    assert _token(client, "worker", PASSWORD) == 201


def test_failures_older_than_the_window_do_not_count(
    app: Flask, client: FlaskClient, users: dict[str, Any]
) -> None:
    for _ in range(9):
        assert _token(client, "worker", "wrong-password") == 401
    app.extensions["gridcase.clock"].advance(timedelta(minutes=16))
    for _ in range(9):
        assert _token(client, "worker", "wrong-password") == 401
    assert _token(client, "worker", PASSWORD) == 201


def test_the_page_sign_in_is_audited_and_counts_towards_the_lock(app: Flask, users: dict[str, Any]) -> None:
    app.test_client_class = PageClient
    client = app.test_client()
    token = csrf_token(client)
    for _ in range(10):
        page = client.post("/login", data={"username": "resident", "password": "bad", "csrf_token": token})
        assert page.status_code == 401
        assert "连续输错多次后账户将暂时锁定" in page.get_data(as_text=True)
    right = client.post("/login", data={"username": "resident", "password": PASSWORD, "csrf_token": token})
    assert right.status_code == 401
    events = list(db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth.locked")).scalars())
    assert len(events) == 1 and events[0].data["channel"] == "page"


def test_a_successful_page_sign_in_is_audited(app: Flask, users: dict[str, Any]) -> None:
    app.test_client_class = PageClient
    client = app.test_client()
    token = csrf_token(client)
    ok = client.post("/login", data={"username": "resident", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth.signed_in")).scalar_one()
    assert event.actor_label == "resident" and event.data == {"channel": "page", "address": "127.0.0.1"}


def test_the_answer_takes_as_long_whether_the_username_exists_or_not(make_app: Any) -> None:
    """With a real hash cost (~20-60 ms here), an unknown username answers as slowly as a wrong password."""
    app = make_app("sqlite", password_hash_method="pbkdf2:sha256:150000")
    with app.app_context():
        from app.auth.services import create_user

        create_user("zhanglei", "Lamp-post-42", "resident")
        db.session.commit()
        client = app.test_client()
        _token(client, "nobody", "warm-up-password")  # the dummy hash is made once, on first use

        # The cost of an answer is the CPU its thread spends (the test client answers in this thread): a
        # wall clock would also count the other test workers sharing the CPUs. Tries alternate between the
        # two names, so a slower moment of the machine weighs on both alike.
        times: dict[str, list[float]] = {"zhanglei": [], "nobody": []}
        for _ in range(7):
            for username, spent in times.items():
                started = time.thread_time()
                assert _token(client, username, "wrong-password") == 401
                spent.append(time.thread_time() - started)
        existing, missing = statistics.median(times["zhanglei"]), statistics.median(times["nobody"])
        print(f"answer time: existing user {existing * 1000:.1f} ms, unknown user {missing * 1000:.1f} ms")
        assert existing > 0.005 and missing > 0.005  # both paid for a hash
        assert 0.67 < missing / existing < 1.5


# -- tokens ----------------------------------------------------------------------------------------------


def test_tokens_are_listed_and_revoked_by_their_owner_or_an_admin(
    client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]]
) -> None:
    worker = auth("worker")
    second = client.post("/api/v1/tokens", json={"username": "worker", "password": PASSWORD}).get_json()
    second_headers = {"Authorization": f"Bearer {second['token']}"}
    listed = client.get("/api/v1/tokens", headers=worker).get_json()
    assert listed["total"] == 2
    assert all("token" not in item for item in listed["items"])  # never the token itself
    newest = listed["items"][0]["id"]

    # Someone else's token: the same 404 as none; the admin may list and revoke it.
    assert client.delete(f"/api/v1/tokens/{newest}", headers=auth("worker2")).status_code == 404
    assert (
        client.get(f"/api/v1/tokens?user_id={users['worker'].id}", headers=auth("worker2")).status_code == 403
    )
    assert (
        client.get(f"/api/v1/tokens?user_id={users['worker'].id}", headers=auth("admin")).get_json()["total"]
        == 2
    )
    assert client.delete(f"/api/v1/tokens/{newest}", headers=auth("admin")).status_code == 204

    refused = client.get("/api/v1/users/me", headers=second_headers)
    assert refused.status_code == 401 and refused.get_json()["error"] == "not_authenticated"
    assert client.get("/api/v1/users/me", headers=worker).status_code == 200  # the other token still works
    oldest = listed["items"][1]["id"]
    assert client.delete(f"/api/v1/tokens/{oldest}", headers=worker).status_code == 204  # one's own
    assert client.get("/api/v1/users/me", headers=worker).status_code == 401
    revoked = db.session.execute(select(AuditEvent).where(AuditEvent.action == "token.revoked")).scalars()
    assert sorted(e.actor_label for e in revoked) == ["admin", "worker"]


def test_a_deactivated_users_token_and_session_are_refused_at_once(
    app: Flask, client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]]
) -> None:
    headers = auth("worker")
    app.test_client_class = PageClient
    page = app.test_client()
    from tests.web.pages import sign_in

    sign_in(page, "worker")
    assert page.get("/m/").status_code == 200
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200

    user = db.session.get(User, users["worker"].id)
    assert user is not None
    user.active = False
    db.session.commit()

    assert client.get("/api/v1/users/me", headers=headers).status_code == 401
    assert page.get("/m/").status_code == 302  # back to the sign-in page
    assert _token(client, "worker", PASSWORD) == 401
