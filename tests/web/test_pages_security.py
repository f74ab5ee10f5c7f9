"""The foundation of the pages: CSRF, security headers, language, the start page, vendor files."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.web.nav import home_of
from tests.conftest import PASSWORD
from tests.web.pages import csrf_token, sign_in


def _csp(response) -> dict[str, list[str]]:
    policy = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


# -- CSRF ---------------------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused_and_signs_nobody_in(client, users):
    response = client.post("/login", data={"username": "worker", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous: sent to /login
    assert client.get("/").headers["Location"].startswith("/login")


def test_login_with_a_forged_token_is_refused(client, users):
    csrf_token(client)
    response = client.post(
        "/login", data={"username": "worker", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_logout_needs_the_token(client, users):
    sign_in(client, "worker")
    assert client.post("/logout").status_code == 400
    assert client.get("/").headers["Location"] == "/m/"  # still signed in
    token = csrf_token(client)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")


def test_a_token_from_another_session_is_refused(app, users):
    other = app.test_client()
    stolen = csrf_token(other)
    client = app.test_client()
    csrf_token(client)
    response = client.post("/login", data={"username": "worker", "password": PASSWORD, "csrf_token": stolen})
    assert response.status_code == 400


def test_the_api_is_exempt_from_csrf_and_page_sessions_cannot_write_it(client, users):
    # bearer-token writes need no CSRF token…
    response = client.post("/api/v1/tokens", json={"username": "resident", "password": PASSWORD})
    assert response.status_code == 201
    # …and a signed-in page session may read the API but not write it (no cookie-driven writes).
    sign_in(client, "resident")
    assert client.get("/api/v1/cases").status_code == 200
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    response = client.post("/api/v1/cases", json={"title": "x"})
    assert response.status_code == 401
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before


def test_wrong_password_shows_the_form_again(client, users):
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "worker", "password": "nope-nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_login_redirects_only_to_same_site_paths(client, users):
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x", data={"username": "worker", "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


# -- headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login", "/lang/en", "/static/css/app.css", "/vendor/leaflet/dist/leaflet.js"]
)
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code in (200, 302)
    policy = _csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts_or_handlers(client, users):
    sign_in(client, "admin")
    html = client.get("/").get_data(as_text=True) + client.get("/login").get_data(as_text=True)
    assert "<script>" not in html
    assert " onclick=" not in html and " onload=" not in html and "style=" not in html


def test_api_docs_page_allows_only_its_own_inline_script_by_hash(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    sources = _csp(response)["script-src"]
    assert sources[0] == "'self'"
    assert len(sources) == 2 and sources[1].startswith("'sha256-")
    assert "'unsafe-inline'" not in sources


# -- language -----------------------------------------------------------------------------------------


def test_chinese_by_default_and_english_by_the_switch(client, users):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "<h1>登录</h1>" in page
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page
    client.get("/lang/zh_CN?next=/login")
    assert "<h1>登录</h1>" in client.get("/login").get_data(as_text=True)


def test_unknown_language_and_foreign_next_are_ignored(client):
    response = client.get("/lang/xx?next=https://evil.example/")
    assert response.headers["Location"] == "/"
    assert "lang=" not in response.headers.get("Set-Cookie", "")


def test_dates_and_numbers_follow_the_language(app):
    from datetime import UTC, datetime

    from flask_babel import refresh

    from app.web.i18n import datetime_filter, number_filter

    moment = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    with app.test_request_context("/"):
        assert datetime_filter(moment) == "2026/11/2 09:30"  # China time
        assert number_filter(12345.5) == "12,345.5"
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        refresh()  # the test's app context spans both requests; a real request refreshes before it runs
        assert datetime_filter(moment) == "11/2/26, 9:30\u202fAM"


# -- start page and navigation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "home"),
    [
        ("resident", "/r/"),
        ("worker", "/m/"),
        ("handler", "/m/"),
        ("dispatcher", "/dispatch/"),
        ("supervisor", "/supervise/dashboard"),
        ("designer", "/design/processes"),
    ],
)
def test_start_page_sends_each_role_home(client, users, username, home):
    sign_in(client, username)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == home
    assert home_of(users[username].role) == home


def test_admin_start_page_lists_every_area(client, users):
    sign_in(client, "admin")
    page = client.get("/").get_data(as_text=True)
    for path in ("/m/", "/supervise/dashboard", "/supervise/cases", "/design/processes"):
        assert f'href="{path}"' in page


def test_nav_shows_only_the_roles_links(client, users):
    sign_in(client, "resident")
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/r/report"' in page and 'href="/r/track"' in page
    assert 'href="/m/"' not in page and 'href="/supervise/cases"' not in page and "/design/" not in page


def test_anonymous_start_page_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# -- vendor files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/@json-editor/json-editor/dist/jsoneditor.js",
        "/vendor/bpmn-js/dist/bpmn-modeler.development.js",
        "/vendor/diff/dist/diff.js",
        "/vendor/echarts/dist/echarts.min.js",
        "/vendor/htmx.org/dist/htmx.min.js",
        "/vendor/leaflet/dist/leaflet.js",
        "/vendor/swagger-ui-dist/swagger-ui.css",
    ],
)
def test_every_npm_package_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    response.close()


@pytest.mark.parametrize(
    "path", ["/vendor/left-pad/index.js", "/vendor/leaflet/../package.json", "/vendor/@json-editor/x/y.js"]
)
def test_only_declared_packages_are_served(client, path):
    assert client.get(path).status_code == 404


def test_vendor_url_global(app):
    from app.web.vendor import vendor_url

    with app.test_request_context():  # a URL for a page: fingerprinted (app/web/assets.py)
        url = vendor_url("@json-editor/json-editor", "dist/jsoneditor.js")
    assert url.startswith("/vendor/@json-editor/json-editor/dist/jsoneditor.js?v=")
    with pytest.raises(ValueError):
        vendor_url("left-pad", "index.js")
