"""Draft, publish, roll back in headless Chromium: the designer saves a change in the modeler (a draft: the
running case and the next ones stay on version 1), publishes it from the versions page after a confirmation
naming what changes, then rolls back; the publications and the audit trail are in the database."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.workflow import publication
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue, report
from tests.web.conftest import LiveServer
from tests.web.seed import seed_designer


def _state(live_server: LiveServer) -> tuple[int | None, dict[int, str], list[tuple[str, str, Any, Any]]]:
    """(published version, {version: status}, [(action, actor, before, after)] of the publication events)."""
    from app.workflow.models import ProcessDefinition

    with live_server.app.app_context():
        published = publication.current("case_handling")
        statuses = publication.statuses("case_handling")
        versions = dict(
            db.session.execute(
                select(ProcessDefinition.id, ProcessDefinition.version).where(
                    ProcessDefinition.key == "case_handling"
                )
            ).all()
        )
        events = [
            (e.action, e.actor_label, e.before, e.after)
            for e in db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["process.published", "process.rolled_back"]))
                .where(AuditEvent.actor_label == "designer1")
                .order_by(AuditEvent.id)
            ).scalars()
        ]
        result = (
            published.version if published else None,
            {versions[i]: s for i, s in statuses.items()},
            events,
        )
        db.session.rollback()
        return result


def _one_running_case(live_server: LiveServer) -> None:
    """A resident's report: a case running on version 1 while the designer works."""
    from app.auth.services import create_user

    app = live_server.app
    with app.app_context():
        create_user("resident1", PASSWORD, "resident")
        db.session.commit()
        ensure_catalogue()
        client = app.test_client()
        token = client.post("/api/v1/tokens", json={"username": "resident1", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
        report(client, lambda _who: headers)
        db.session.remove()


def test_designer_saves_a_draft_publishes_it_and_rolls_back(
    live_server: LiveServer,
    page_as: Callable[..., Any],
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    seed_designer(live_server.app, tmp_path)
    _one_running_case(live_server)
    page = page_as("designer1")

    # The modeler saves the change as a draft: version 1 stays the published one.
    page.goto(f"{live_server.url}/design/processes/case_handling/edit")
    page.wait_for_selector('#modeler[data-ready="true"]')
    assert page.inner_text("#deploy-button") == "保存为草稿"
    page.evaluate(
        """() => {
            const modeler = window.gridcaseModeler;
            const triage = modeler.get('elementRegistry').get('triage');
            modeler.get('modeling').updateLabel(triage, '受理审核');
        }"""
    )
    page.click("#deploy-button")
    page.wait_for_selector("#deployed-version-link")
    assert "草稿" in page.inner_text("#modeler-status")
    assert _state(live_server) == (1, {1: "published", 2: "draft"}, [])

    # The process list shows the published version and the newer draft.
    page.goto(f"{live_server.url}/design/processes")
    row = page.locator('tr[data-process-key="case_handling"]')
    assert row.locator('[data-field="published-version"]').inner_text().startswith("v1")
    assert "第 2 版" in row.locator('[data-field="newer-draft"]').inner_text()
    screenshot(page, "designer-publish-list")

    # The versions page: 草稿 with 发布; the confirmation names what changes.
    row.locator("a").first.click()
    page.wait_for_selector("#version-table")
    assert page.locator('tr[data-version="2"] [data-field="status"]').inner_text() == "草稿"
    assert page.locator('tr[data-version="1"] [data-field="status"]').inner_text() == "已发布"
    assert page.locator("#rollback-button").count() == 0  # nothing was published before version 1
    page.click('tr[data-version="2"] [data-action="publish"]')
    dialog = page.locator("#publish-dialog-2")
    dialog.wait_for(state="visible")
    assert "新实例将使用第 2 版; 运行中的 1 个实例保持原版本" in dialog.inner_text()
    screenshot(page, "designer-publish")  # docs/screenshots/designer-publish.png is this one
    with page.expect_navigation():
        dialog.locator('[data-action="confirm-publish"]').click()
    assert "第 2 版已发布" in page.inner_text("body")
    assert page.locator('tr[data-version="2"] [data-field="status"]').inner_text() == "已发布"
    assert page.locator('tr[data-version="1"] [data-field="status"]').inner_text() == "历史"
    assert page.inner_text("#published-version").startswith("新实例使用第 2 版")
    assert _state(live_server) == (
        2,
        {1: "history", 2: "published"},
        [
            (
                "process.published",
                "designer1",
                {"key": "case_handling", "version": 1},
                {"key": "case_handling", "version": 2},
            )
        ],
    )

    # Roll back to version 1, after its confirmation.
    assert page.inner_text("#rollback-button") == "回滚到第 1 版"
    page.click("#rollback-button")
    page.locator("#rollback-dialog").wait_for(state="visible")
    assert re.search(r"新实例将重新使用第 1 版", page.inner_text("#rollback-dialog"))
    with page.expect_navigation():
        page.click("#rollback-confirm")
    assert "已从第 2 版回滚到第 1 版" in page.inner_text("body")
    assert page.locator('tr[data-version="1"] [data-field="status"]').inner_text() == "已发布"
    assert page.locator('tr[data-version="2"] [data-field="status"]').inner_text() == "历史"
    published, statuses, events = _state(live_server)
    assert (published, statuses) == (1, {1: "published", 2: "history"})
    assert events[-1] == (
        "process.rolled_back",
        "designer1",
        {"key": "case_handling", "version": 2},
        {"key": "case_handling", "version": 1},
    )
