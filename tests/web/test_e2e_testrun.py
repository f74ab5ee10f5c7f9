"""试运行 in headless Chromium: a designer starts a test run of case handling v1 from the versions page
(bad test data refused beside the field first), completes the dispatcher's tasks on the run's page with the
task form renderer of ``/m/``, moves the run's simulated clock (a bad duration refused; a short move fires
nothing; a day fires the warning and the overdue timers), watches the token path, and deletes the run.
The database then holds no case and no real task of it. docs/screenshots/designer-testrun.png is the
``designer-testrun`` screenshot of this test (the run's page mid-run)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.cases.models import Case
from app.extensions import db
from app.workflow.models import InstanceStatus, ProcessInstance
from app.workflow.test_run_models import TestRun
from tests.cases.territory import EAST_GRID, EAST_POINT, assign, build_territory
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue
from tests.web.conftest import LiveServer
from tests.web.seed import seed_designer

TEST_DATA = (
    '{"title": "试运行：垃圾满溢", "category_code": "E0102", "severity": "yellow", '
    f'"grid_code": "{EAST_GRID}", "lat": {EAST_POINT[0]}, "lon": {EAST_POINT[1]}}}'
)


def _seed(live_server: LiveServer, tmp_path: Path) -> None:
    """designer1 and case_handling v1 (seed_designer), the territory and its grid worker, the catalogue."""
    seed_designer(live_server.app, tmp_path)
    with live_server.app.app_context():
        create_user("worker", PASSWORD, "grid_worker")
        db.session.commit()
        build_territory()
        assign("worker", EAST_GRID)
        ensure_catalogue()
        db.session.commit()


def _active(page: Any) -> list[str]:
    page.wait_for_selector('#case-diagram[data-state="ready"]')
    return sorted(page.get_attribute("#case-diagram", "data-active").split())


def _complete(page: Any) -> None:
    with page.expect_navigation(url=re.compile(r"/design/test-runs/\d+$")):
        page.click("#complete-test-task")


def _advance(page: Any, duration: str) -> None:
    page.fill("#clock-duration", duration)
    with page.expect_navigation():
        page.click("#advance-clock")


def test_a_designer_runs_case_handling_with_a_simulated_clock(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    _seed(live_server, tmp_path)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes/case_handling")
    with page.expect_navigation():
        page.click('tr[data-version="1"] a[data-action="test-run"]')

    # test data: a JSON object, its problems beside the field; nothing starts until it is right
    page.fill("#test-variables", '{"severity": "red",')
    page.click("#start-test-run")
    page.wait_for_selector("#test-variables-error:not([hidden])")
    assert "不是合法的 JSON" in page.inner_text("#test-variables-error")
    screenshot(page, "designer-testrun-start")
    with live_server.app.app_context():
        assert db.session.execute(select(func.count()).select_from(TestRun)).scalar_one() == 0
    page.fill("#test-variables", TEST_DATA)
    with page.expect_navigation(url=re.compile(r"/design/test-runs/\d+$")):
        page.click("#start-test-run")
    run_id = int(page.url.rsplit("/", 1)[1])
    assert _active(page) == ["triage", "withdrawn"]
    assert page.get_attribute("#test-run-status", "data-status") == "running"

    # the dispatcher's tasks, completed here by the designer with the /m/ form renderer
    page.check('#json-form input[name="root[triage_decision]"][value="accept"]')
    _complete(page)
    assert _active(page) == ["dispatch"]
    assert "推荐处置人" in page.inner_text("#test-run-log") or "case.propose_handler" in page.inner_text(
        "#test-run-log"
    )
    page.locator('#json-form [data-field="handler_user"] select').select_option('"worker"')
    page.locator('#json-form [name="root[time_limit_hours]"]').fill("4")
    _complete(page)
    assert {"handle", "timer_warn", "timer_overdue"} <= set(_active(page))  # the timers wait on the handling
    assert page.locator('[data-variable="time_limit"]').count() == 1

    # the simulated clock: a bad duration is refused beside the field; an hour fires nothing; a day fires both
    _advance(page, "soon")
    assert "请填写时长" in page.inner_text("#clock-error")
    _advance(page, "PT1H")
    assert "触发了 0 个定时器" in page.inner_text(".flash")
    assert {"handle", "timer_warn", "timer_overdue"} <= set(_active(page))
    _advance(page, "1 天")
    assert "触发了 2 个定时器" in page.inner_text(".flash")
    active = set(_active(page))
    assert {"coordinate_community", "handle"} <= active and "timer_warn" not in active
    completed = page.get_attribute("#case-diagram", "data-completed").split()
    assert {"timer_warn", "warn_due", "timer_overdue", "mark_overdue", "dispatch"} <= set(completed)
    assert page.locator('.djs-element.gc-completed[data-element-id="dispatch"]').count() == 1
    assert page.locator('.djs-element.gc-active[data-element-id="handle"]').count() == 1
    assert page.locator("#ready-tasks li").count() == 2
    screenshot(page, "designer-testrun")

    with live_server.app.app_context():
        run = db.session.get(TestRun, run_id)
        assert run is not None
        instance = db.session.get(ProcessInstance, run.instance_id)
        assert instance is not None and instance.is_test and instance.case_id is None
        fired = db.session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.instance_id == instance.id, AuditEvent.action == "timer.fired")
        ).scalar_one()
        assert fired == 2
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 0

    # the designer's list, and deleting the run (its instance is terminated)
    page.click("nav.subnav a[href='/design/test-runs']")
    page.wait_for_selector(f'tr[data-test-run="{run_id}"]')
    screenshot(page, "designer-testruns")
    with page.expect_navigation():
        page.click(f'tr[data-test-run="{run_id}"] [data-action="delete-test-run"]')
    assert page.locator(f'tr[data-test-run="{run_id}"]').count() == 0
    assert page.locator("#test-runs-empty").count() == 1
    with live_server.app.app_context():
        instance = db.session.get(ProcessInstance, run.instance_id)
        assert instance is not None and instance.status == InstanceStatus.TERMINATED
