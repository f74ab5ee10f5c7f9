"""The studio's process list in headless Chromium shows a process started by a timer (#16 item 9): the
daily patrol, planned and fired once by scheduler rounds (the seed; the injected clock, no sleeping), with
its next start in Beijing time; the designer follows its link to the versions page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.auth.services import create_user
from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy, scheduler
from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer

FIRST_MORNING = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 Beijing time


def test_the_designer_sees_when_the_daily_patrol_starts_next(
    live_server: LiveServer, page_as: Callable[..., Any], screenshot: Callable[[Any, str], Any]
) -> None:
    app = live_server.app
    with app.app_context():
        create_user("designer1", PASSWORD, "designer")
        rules = app.extensions["gridcase.deploy_rules"]()
        for name in ("case_handling.bpmn", "daily_patrol.bpmn"):
            deploy.deploy_file(name, (PROJECT_ROOT / "bpmn" / name).read_bytes(), rules)
        db.session.commit()
        scheduler.tick()
        app.extensions["gridcase.clock"].set(FIRST_MORNING)
        scheduler.tick()
        db.session.remove()

    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes")
    row = page.locator('[data-timer-start="daily_patrol"]')
    assert row.locator('[data-field="next-start"]').inner_text() == "2026/12/8 08:00"
    assert "每天 08:00(北京时间)" in row.inner_text()
    assert row.locator('[data-field="started"]').inner_text() == "1"
    screenshot(page, "designer-timer-starts")
    row.get_by_role("link", name="每日网格巡查").click()
    page.wait_for_url(f"{live_server.url}/design/processes/daily_patrol")
    assert "每日网格巡查" in page.locator("h1").inner_text()
