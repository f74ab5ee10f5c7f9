"""Steps the browser tests share on the task pages (Playwright pages signed in by ``page_as``)."""

from __future__ import annotations

import re
from typing import Any


def open_and_claim(page: Any, url: str) -> None:
    """Open a task page, claim the task if it is still open to claim, and wait for its form."""
    page.goto(url)
    claim = page.locator("button", has_text="认领")
    if claim.count():
        with page.expect_navigation():
            claim.click()
    page.locator("#json-form .form-field:visible").first.wait_for()


def complete_task(page: Any, base: str) -> None:
    """Press 办结 and wait for the page it leads to: the inbox, or straight to the next task of the same
    case this person holds (处置 → 处置反馈, one visit)."""
    with page.expect_navigation(url=re.compile(rf"^{re.escape(base)}/m/(tasks/\d+)?$")):
        page.click("#complete-button")
