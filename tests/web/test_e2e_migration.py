"""The designer moves running instances to a fixed version from the migration page (headless Chromium):
the dry run lists each instance with its reason, the button migrates the ones that can move, the flash
says how many, and the undo button brings them back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.auth.services import create_user
from app.extensions import db
from app.workflow import deploy, instances
from app.workflow.models import ProcessDefinition, ProcessInstance
from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer
from tests.workflow.migration_diagrams import routed_probe


def _seed(live_server: LiveServer) -> list[int]:
    """A designer, the routed probe v1 with two instances waiting at ``fill``, and a fixed v2."""
    app = live_server.app
    rules = app.extensions["gridcase.deploy_rules"]()
    with app.app_context():
        designer = create_user("designer1", PASSWORD, "designer")
        deploy.deploy_file("routed.bpmn", routed_probe('review_decision == "escalate"'), rules)
        db.session.commit()
        ids = []
        for n in range(2):
            started = instances.start_instance(
                "routed", business_key=f"探针-{n}", variables={}, actor=designer
            )
            db.session.commit()
            ids.append(started.instance.id)
        deploy.deploy_file("routed.bpmn", routed_probe('review_decision == "approve"'), rules)
        db.session.commit()
        return ids


def _versions(live_server: LiveServer, ids: list[int]) -> list[int]:
    with live_server.app.app_context():
        rows = db.session.execute(
            select(ProcessDefinition.version)
            .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
            .where(ProcessInstance.id.in_(ids))
            .order_by(ProcessInstance.id)
        ).scalars()
        result = list(rows)
        db.session.remove()
        return result


def test_designer_migrates_instances_from_the_page_and_undoes_it(
    live_server: LiveServer, page_as: Callable[..., Any], screenshot: Callable[[Any, str], Path]
) -> None:
    ids = _seed(live_server)
    page = page_as("designer1")
    page.goto(f"{live_server.url}/design/processes/routed")
    with page.expect_navigation():
        page.click('tr[data-version="2"] a[data-action="migrate-here"]')
    assert page.locator("#migration-table tbody tr").count() == 2
    assert page.locator('#migration-table tr[data-code="movable"]').count() == 2
    assert "可以迁移到 v2" in page.inner_text("#migration-table")
    assert "运行中" in page.inner_text("#migration-table")
    assert "可迁移：2" in page.inner_text("#migration-summary")
    screenshot(page, "designer_migration_dry_run")

    with page.expect_navigation():
        page.click("#migrate-form button")
    assert "已将 2 个实例迁移到 v2" in page.inner_text(".flash")
    assert _versions(live_server, ids) == [2, 2]
    assert page.locator("#migration-empty").count() == 1  # nothing left on another version
    screenshot(page, "designer_migration_done")

    with page.expect_navigation():
        page.click("#undo-batch button")
    assert "已撤销 2 个迁移" in page.inner_text(".flash")
    assert _versions(live_server, ids) == [1, 1]
    assert page.locator('#migration-table tr[data-code="movable"]').count() == 2
