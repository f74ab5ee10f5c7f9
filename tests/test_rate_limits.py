"""Rate limits: sign-in (page and API together, per address), reporting (per user) and registration answer
429 with Retry-After past their limit, in the API's error body or as a page, and recover after the window.

Windows of one second keep the tests short: recovering waits for one window, not for minutes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.config import SecuritySettings
from app.extensions import db
from tests.conftest import PASSWORD
from tests.web.pages import csrf_token

WINDOW = 1.1  # one window of "N per second", and a little more


@pytest.fixture
def app(make_app: Any) -> Iterator[Flask]:
    security = SecuritySettings(
        rate_limit_sign_in="3 per second",
        rate_limit_report="2 per second",
        rate_limit_registration="1 per second",
    )
    app = make_app("sqlite", security=security)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _sign_in(client: FlaskClient, password: str = "wrong-password-1") -> int:
    response = client.post("/api/v1/tokens", json={"username": "resident", "password": password})
    return response.status_code


def test_sign_in_is_limited_per_address_across_page_and_api_and_recovers(
    client: FlaskClient, users: dict[str, Any]
) -> None:
    assert _sign_in(client) == 401
    assert _sign_in(client) == 401
    token = csrf_token(client)
    page = client.post(
        "/login", data={"username": "resident", "password": "wrong-password-1", "csrf_token": token}
    )
    assert page.status_code == 401  # the third attempt of this second, on the page

    refused = client.post("/api/v1/tokens", json={"username": "resident", "password": PASSWORD})
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"] == "too_many_requests"
    assert "请求过于频繁" in body["message"] and "too many requests" in body["message"]
    assert set(body) == {"error", "message", "details"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 1

    refused_page = client.post(
        "/login", data={"username": "resident", "password": PASSWORD, "csrf_token": token}
    )
    assert refused_page.status_code == 429
    assert refused_page.mimetype == "text/html"
    assert "请求过于频繁" in refused_page.get_data(as_text=True)
    assert refused_page.headers["Retry-After"] == "1"

    # Another address is not affected.
    other = client.post(
        "/api/v1/tokens",
        json={"username": "resident", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other.status_code == 201

    time.sleep(WINDOW)
    assert _sign_in(client, PASSWORD) == 201  # the window passed: signing in works again


def test_reports_are_limited_per_user(
    client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]], deployed: None
) -> None:
    report = {"title": "路灯不亮", "description": "小区门口路灯不亮"}
    resident, worker = auth("resident"), auth("worker")
    assert client.post("/api/v1/cases", json=report, headers=resident).status_code == 201
    assert client.post("/api/v1/cases", json=report, headers=resident).status_code == 201
    refused = client.post("/api/v1/cases", json=report, headers=resident)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "too_many_requests"
    # Another user from the same address still reports.
    assert client.post("/api/v1/cases", json=report, headers=worker).status_code == 201
    time.sleep(WINDOW)
    assert client.post("/api/v1/cases", json=report, headers=resident).status_code == 201


def test_registration_is_limited(
    client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]]
) -> None:
    admin = auth("admin")

    def new_user(name: str) -> int:
        body = {"username": name, "password": "Lamp-post-42", "role": "resident"}
        return client.post("/api/v1/users", json=body, headers=admin).status_code

    assert new_user("neighbour1") == 201
    assert new_user("neighbour2") == 429
    time.sleep(WINDOW)
    assert new_user("neighbour2") == 201


def test_reading_is_not_limited(
    client: FlaskClient, users: dict[str, Any], auth: Callable[[str], dict[str, str]]
) -> None:
    headers = auth("resident")
    for _ in range(10):
        assert client.get("/api/v1/cases", headers=headers).status_code == 200


@pytest.mark.redis
def test_in_stack_mode_web_workers_count_together_in_redis(make_app: Any, redis: Any) -> None:
    """Two apps on one Redis stand for two gunicorn workers: the sign-in limit is shared."""
    from tests.conftest import REDIS_URL

    security = SecuritySettings(rate_limit_sign_in="2 per second")
    first = make_app("sqlite", redis_url=REDIS_URL, security=security)
    second = make_app("sqlite", redis_url=REDIS_URL, security=security)
    body = {"username": "nobody", "password": "wrong-password-1"}
    with first.app_context():
        assert first.test_client().post("/api/v1/tokens", json=body).status_code == 401
    with second.app_context():
        assert second.test_client().post("/api/v1/tokens", json=body).status_code == 401
        assert second.test_client().post("/api/v1/tokens", json=body).status_code == 429
    assert any(b"gridcase-limits" in key for key in redis.keys("*"))
