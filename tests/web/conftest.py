"""Fixtures of the web tests: a live server over a seeded database, headless Chromium, signed-in pages.

- ``live_server``: the real app served by werkzeug in a thread (``.url``, ``.app``); seed it inside
  ``with live_server.app.app_context():`` and commit, the helpers of tests/helpers.py work there too.
- ``browser``: one headless Chromium per session (Debian's /usr/bin/chromium; never downloaded).
- ``page_as(username, password=PASSWORD, viewport=None)``: a signed-in Page. Every request it makes is
  recorded (``page.requests_seen``); a request to any host other than the live server fails the test (the
  "no external host" check), and cannot leave the machine: the browser's only way out is a proxy at a port
  nothing listens on. Uncaught page errors and CSP violations fail the test too.
- ``screenshot(page, name)``: saves test-output/screenshots/<name>.png and returns the path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.config import PROJECT_ROOT
from app.extensions import db
from tests.conftest import PASSWORD, AppFactory

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
PHONE = {"width": 360, "height": 740}
# How often a live server's loop looks for a shutdown: werkzeug's default 0.5 s made every browser test's
# teardown wait 0.25 s on average for nothing.
SHUTDOWN_POLL_SECONDS = 0.05
# The browser's proxy for every host but the live servers' 127.0.0.1: port 1, where no server listens, so a
# request to another host fails in the browser instead of leaving the machine.
NOWHERE = "http://127.0.0.1:1"


@dataclass
class LiveServer:
    app: Flask
    url: str
    server: BaseWSGIServer = field(repr=False)


@pytest.fixture
def live_server(make_app: AppFactory) -> Iterator[LiveServer]:
    yield from serve(make_app("sqlite"))


def serve(app: Flask) -> Iterator[LiveServer]:
    """``app`` served by werkzeug in a thread until the generator is closed (a fixture's body)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="live-server", daemon=True
    )
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}", server=server)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (Debian package chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox"],
            headless=True,
            proxy={"server": NOWHERE, "bypass": "127.0.0.1"},
        )
        yield chromium
        chromium.close()


@dataclass
class PageGuard:
    """What one test's pages did: every request, the refused external ones, script errors, CSP reports."""

    origin: str
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, context: Any) -> None:
        # Watched, not routed: routing a context turns its HTTP cache off, so every page of a test loaded
        # every script and style again (and each request made a round trip through this process).
        context.on("request", self.saw)

    def saw(self, request: Any) -> None:
        url = request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme not in ("data", "blob") and f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.external.append(url)

    def console(self, message: Any) -> None:
        # Chromium reports CSP violations as console errors: a refused inline style or script is a bug.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"CSP: {message.text}")


@pytest.fixture
def page_as(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    guard = PageGuard(origin=live_server.url)
    contexts: list[Any] = []

    def sign_in(username: str, password: str = PASSWORD, viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 860},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            geolocation={"latitude": 30.7589, "longitude": 103.9718},
            permissions=["geolocation"],
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        guard.watch(context)
        page = context.new_page()
        page.on("pageerror", lambda error: guard.errors.append(f"page error: {error}"))
        page.on("console", guard.console)
        page.requests_seen = guard.requests
        page.goto(f"{live_server.url}/login")
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "/login" not in page.url, f"{username} could not sign in"
        return page

    yield sign_in
    for context in contexts:
        context.close()
    assert not guard.external, f"pages requested external hosts: {guard.external}"
    assert not guard.errors, f"errors in the pages: {guard.errors}"


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def save(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def users_live(live_server: LiveServer) -> dict[str, Any]:
    """A resident, a grid worker and an admin in the live server's database (password PASSWORD)."""
    from app.auth.services import create_user

    with live_server.app.app_context():
        made = {
            name: create_user(name, PASSWORD, role)
            for name, role in (("resident1", "resident"), ("worker1", "grid_worker"), ("admin1", "admin"))
        }
        db.session.commit()
        return {name: user.id for name, user in made.items()}
