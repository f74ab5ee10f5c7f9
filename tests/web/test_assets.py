"""Static files (app/web/assets.py, app/web/vendor.py): URLs fingerprinted by content, the fingerprinted
ones cached for a year without a cookie, the others briefly; a changed file changes its URL and each
version is hashed once; no template or script writes a static path by hand; and each page loads only the
npm libraries it uses (the heavy ones: bpmn-js, echarts, leaflet, json-editor, swagger-ui; htmx nowhere)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from flask import Blueprint, Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.extensions import db
from app.web import assets
from app.web.vendor import vendor_url
from app.workflow.models import ProcessInstance
from tests.conftest import AppFactory
from tests.web.pages import PageClient, sign_in
from tests.web.seed import case_at_handle, seed_people

YEAR = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[: assets.HASH_LENGTH]


def test_static_and_vendor_urls_carry_the_content_hash(app: Flask) -> None:
    with app.test_request_context():
        own = url_for("web.static", filename="js/map.js")
        leaflet = vendor_url("leaflet", "dist/leaflet.js")
        scoped = vendor_url("@json-editor/json-editor", "dist/jsoneditor.js")
        other_blueprint = url_for("supervisor.static", filename="supervisor.css")
        missing = url_for("web.static", filename="js/no-such-file.js")
    root = PROJECT_ROOT / "app" / "web"
    assert own == f"/static/js/map.js?v={_hash(root / 'static' / 'js' / 'map.js')}"
    modules = PROJECT_ROOT / "node_modules"
    leaflet_js = modules / "leaflet" / "dist" / "leaflet.js"
    assert leaflet == f"/vendor/leaflet/dist/leaflet.js?v={_hash(leaflet_js)}"
    scoped_file = modules / "@json-editor" / "json-editor" / "dist" / "jsoneditor.js"
    assert scoped == f"/vendor/@json-editor/json-editor/dist/jsoneditor.js?v={_hash(scoped_file)}"
    supervisor_css = root / "supervisor" / "static" / "supervisor.css"
    assert other_blueprint == f"/supervise/static/supervisor.css?v={_hash(supervisor_css)}"
    assert missing == "/static/js/no-such-file.js"  # nothing to hash: the 404 stays a 404


def _signed_in(app: Flask) -> FlaskClient:
    seed_people(app)
    app.test_client_class = PageClient
    client = app.test_client()
    sign_in(client, "worker")
    return client


def test_a_fingerprinted_file_is_cached_for_a_year_without_the_session(app: Flask) -> None:
    client = _signed_in(app)
    with app.test_request_context():
        urls = [url_for("web.static", filename="js/task_form.js"), vendor_url("leaflet", "dist/leaflet.css")]
    for url in urls:
        answer = client.get(url, headers={"Accept-Encoding": "br"})
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == YEAR
        assert "Expires" not in answer.headers
        # the same bytes for everyone: no cookie set, and caches need not key on it
        assert "Set-Cookie" not in answer.headers
        assert "cookie" not in answer.headers["Vary"].lower()
    page = client.get("/m/")
    assert page.status_code == 200 and "Cookie" in page.headers["Vary"]  # pages still depend on the session


def test_an_unfingerprinted_or_stale_url_gets_a_short_cache(client: FlaskClient) -> None:
    for url in ("/static/js/map.js", "/static/js/map.js?v=0123456789ab", "/vendor/leaflet/dist/leaflet.js"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == SHORT, url
        assert answer.headers["ETag"]  # revalidated after the five minutes
    assert client.get("/static/js/no-such-file.js?v=0123456789ab").status_code == 404


def test_a_changed_file_changes_its_url_and_each_version_is_hashed_once(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "extra-static"
    folder.mkdir()
    script = folder / "page.js"
    script.write_text("console.log('one');\n", encoding="utf-8")
    app = make_app("sqlite")
    extra = Blueprint("extra", __name__, static_folder=str(folder), static_url_path="/static")
    app.register_blueprint(extra, url_prefix="/extra")
    reads: list[str] = []
    file_digest = hashlib.file_digest

    def counted(handle, name):
        reads.append(handle.name)
        return file_digest(handle, name)

    monkeypatch.setattr(assets.hashlib, "file_digest", counted)

    def url() -> str:
        with app.test_request_context():
            return url_for("extra.static", filename="page.js")

    first = url()
    assert first == url() == f"/extra/static/page.js?v={_hash(script)}"
    assert len(reads) == 1  # the second URL came from the cache
    client = app.test_client()
    assert client.get(first).headers["Cache-Control"] == YEAR

    script.write_text("console.log('two');\n", encoding="utf-8")
    stat = script.stat()
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a coarse clock can't hide it
    second = url()
    assert second != first and second == f"/extra/static/page.js?v={_hash(script)}"
    assert len(reads) == 2
    assert client.get(second).headers["Cache-Control"] == YEAR
    assert client.get(first).headers["Cache-Control"] == SHORT  # the old page's URL: today's file, briefly
    assert client.get(second).data == b"console.log('two');\n"


HAND_WRITTEN = re.compile(r"""["'(]/(static|vendor)/""")


def test_no_template_or_script_writes_a_static_path_by_hand() -> None:
    """Static URLs come from url_for / vendor_url (so they carry the fingerprint), or from data-* attributes
    the templates fill with them; a literal /static/… or /vendor/… would be served without it."""
    app_folder = PROJECT_ROOT / "app"
    files = [*app_folder.rglob("templates/**/*.html"), *app_folder.rglob("static/**/*.js")]
    assert files
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_WRITTEN.search(line)
    ]
    assert offenders == []


# The npm libraries each page may load (every other page none): heavy ones only where they are used.
_ASSET = re.compile(r"""<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)\"""")
_VENDOR = re.compile(r"^/vendor/((?:@[^/]+/)?[^/]+)/")


def _assets(client: FlaskClient, path: str) -> list[str]:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return _ASSET.findall(answer.get_data(as_text=True))


def _libraries(urls: list[str]) -> set[str]:
    return {match.group(1) for url in urls if (match := _VENDOR.match(url))}


def test_each_page_loads_only_the_libraries_it_uses(app: Flask) -> None:
    api, auth = seed_people(app)
    key, task_id = case_at_handle(api, auth)
    instance_id = db.session.execute(
        select(ProcessInstance.id).where(ProcessInstance.business_key == key)
    ).scalar_one()
    app.test_client_class = PageClient
    pages = {
        None: {"/login": set(), "/api/v1/docs": {"swagger-ui-dist"}},
        # the phone app's offline queue (IndexedDB) runs on every page of it
        "worker": {"/m/": {"idb-keyval"}, f"/m/tasks/{task_id}": {"leaflet", "idb-keyval"}},
        "resident": {"/r/": set(), "/r/report": {"leaflet"}},
        "supervisor": {
            "/supervise/cases": set(),
            f"/supervise/cases/{key}": {"bpmn-js"},
            "/supervise/dashboard": {"leaflet", "echarts"},
        },
        "designer": {
            "/design/processes": set(),
            "/design/processes/case_handling/edit": {"bpmn-js", "@bpmn-io/properties-panel"},
            "/design/forms/triage.schema.json": {"@json-editor/json-editor"},
        },
        "dispatcher": {"/dispatch/": set()},  # an empty queue: no report, so no map
        "admin": {"/operate/instances": set(), f"/operate/instances/{instance_id}": {"bpmn-js"}},
    }
    for username, expected in pages.items():
        client = app.test_client()
        if username is not None:
            sign_in(client, username)
        for path, libraries in expected.items():
            urls = _assets(client, path)
            assert _libraries(urls) == libraries, path
            if path != "/api/v1/docs":  # flask-smorest writes the Swagger UI page itself
                # files (static and npm); the phone app's manifest is a route, like its service worker
                files = [url for url in urls if not url.endswith(".webmanifest")]
                unfingerprinted = [url for url in files if "?v=" not in url]
                assert unfingerprinted == [], path
