"""Helpers of the server-side page tests (Flask test client): CSRF tokens and signing in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

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
