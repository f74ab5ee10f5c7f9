"""Security settings: the session cookie's flags, HSTS and trusted proxy headers by setting, and SECRET_KEY:
stack mode refuses to start without it, embedded mode generates one and keeps it in the instance folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.config import SECRET_KEY_FILE, ConfigError, SecuritySettings, Settings, embedded_secret_key
from tests.conftest import PASSWORD
from tests.web.pages import PageClient, csrf_token


def _session_cookie(app: Flask, users: dict[str, Any], **environ: Any) -> str:
    app.test_client_class = PageClient
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "resident", "password": PASSWORD, "csrf_token": token},
        environ_base=environ,
    )
    assert response.status_code == 302
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies
    return cookies[-1]


def test_the_session_cookie_is_httponly_and_samesite_lax(app: Flask, users: dict[str, Any]) -> None:
    cookie = _session_cookie(app, users)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain HTTP by default (SESSION_COOKIE_SECURE off)


def test_over_tls_the_cookie_is_secure_and_hsts_is_sent_behind_a_trusted_proxy(make_app: Any) -> None:
    security = SecuritySettings(
        rate_limits_enabled=False, session_cookie_secure=True, hsts_seconds=31536000, trusted_proxies=1
    )
    app = make_app("sqlite", security=security)
    with app.app_context():
        from app.auth.services import create_user
        from app.extensions import db

        create_user("resident", PASSWORD, "resident")
        db.session.commit()
        cookie = _session_cookie(app, {})
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

        client = app.test_client()
        behind_tls = client.get(
            "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        )
        assert behind_tls.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        plain = client.get("/login")
        assert "Strict-Transport-Security" not in plain.headers  # said over TLS only


def test_without_trusted_proxies_forwarded_headers_are_ignored(app: Flask) -> None:
    seen: dict[str, Any] = {}

    @app.get("/probe-address")
    def _probe() -> str:
        from flask import request

        seen.update(address=request.remote_addr, secure=request.is_secure)
        return "ok"

    app.test_client().get(
        "/probe-address", headers={"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"}
    )
    assert seen == {"address": "127.0.0.1", "secure": False}


def test_stack_mode_refuses_to_start_without_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY must be set in stack mode"):
        Settings.from_env(database_url="sqlite://", redis_url="redis://127.0.0.1:6379/7")
    settings = Settings.from_env(
        database_url="sqlite://", redis_url="redis://127.0.0.1:6379/7", secret_key="k" * 64
    )
    assert settings.secret_key == "k" * 64


def test_embedded_mode_generates_a_key_once_and_keeps_it(tmp_path: Path) -> None:
    first = embedded_secret_key(tmp_path / "instance")
    assert len(first) == 64
    assert embedded_secret_key(tmp_path / "instance") == first  # a restart signs with the same key
    stored = tmp_path / "instance" / SECRET_KEY_FILE
    assert stored.read_text() == first
    assert stored.stat().st_mode & 0o077 == 0  # readable by its owner only
    stored.write_text("short")
    with pytest.raises(ConfigError, match="damaged"):
        embedded_secret_key(tmp_path / "instance")


def test_a_bad_rate_limit_setting_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_SIGN_IN"):
        SecuritySettings(rate_limit_sign_in="ten a minute")
