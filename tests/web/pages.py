"""Helpers of the server-side page tests (Flask test client): CSRF tokens and signing in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from app.extensions import db
from tests.conftest import PASSWORD

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's <meta name="csrf-token">."""
    response = client.get(path)
    match = _META.search(response.get_data(as_text=True))
    assert match, f"no csrf-token meta on {path} ({response.status_code})"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """Sign the test client in through the login form (with its CSRF token)."""
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def post_form(client: FlaskClient, path: str, data: dict[str, object], page: str | None = None) -> object:
    """POST a page form with the session's CSRF token (read from ``page``, default ``path``)."""
    token = csrf_token(client, page or path)
    return client.post(path, data={**data, "csrf_token": token})


class PageClient(FlaskClient):
    """A test client whose requests do not inherit the previous request's signed-in user or CSRF token.

    The fixtures keep one app context open for the whole test, so every request shares its ``g``, where
    Flask-Login caches the user (``g._login_user``) and Flask-WTF the token (``g.csrf_token``); in production
    each request has its own app context. Several users' clients in one test need them cleared."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        for name in ("_login_user", "csrf_token"):
            g.pop(name, None)
        return super().open(*args, **kwargs)


@pytest.fixture(name="app")
def page_app(make_app: Any, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The ``app`` of the page tests that import it, with ``PageClient`` as its test client: SQLite unless a
    test asks for PostgreSQL too (``parametrize("app", ["sqlite", "postgresql"], indirect=True)``)."""
    app = make_app(getattr(request, "param", "sqlite"))
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
