"""The browser fixtures themselves: signing in, the layout, the language switch, the external-host guard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError


def test_sign_in_and_switch_language(live_server, page_as, users_live):
    page = page_as("resident1", viewport={"width": 360, "height": 740})
    page.goto(f"{live_server.url}/login")
    assert page.locator("h1").inner_text() == "登录"
    page.click("text=English")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Sign in"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert all(url.startswith(live_server.url) for url in page.requests_seen)


def test_the_guard_refuses_external_hosts(live_server, browser):
    from tests.web.conftest import PageGuard

    guard = PageGuard(origin=live_server.url)
    context = browser.new_context()
    guard.watch(context)
    page = context.new_page()
    outside = ["http://example.invalid/", "https://192.0.2.1/x.js"]  # a name, and an address (TEST-NET-1)
    for url in outside:
        # refused by the browser's proxy on a closed port: nothing leaves the machine
        with pytest.raises(PlaywrightError, match="ERR_PROXY_CONNECTION_FAILED"):
            page.goto(url)
    context.new_page().goto(f"{live_server.url}/login")
    context.close()
    assert guard.external == outside
    assert f"{live_server.url}/login" in guard.requests
