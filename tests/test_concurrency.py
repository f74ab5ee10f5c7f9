"""Concurrent completion: many people press "complete" on the same task at the same moment. Exactly one wins.

Each thread has its own test client and its own app context (so its own database session and connection),
as separate server workers would; a barrier releases them together.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.cases.models import Case
from app.extensions import db
from app.workflow import deploy
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.conftest import PASSWORD
from tests.helpers import open_task, report, walk_to

THREADS = 20


@dataclass
class RaceSetup:
    app: Flask
    tokens: dict[str, str]

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def race_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Iterator[RaceSetup]:
    """An app with users and the deployed process, and no app context left pushed: threads bring theirs."""
    app = make_app(request.param)
    tokens: dict[str, str] = {}
    with app.app_context():
        deploy.deploy_folder(
            app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
        )
        roles = {
            "resident": "resident",
            "worker": "grid_worker",
            "dispatcher": "dispatcher",
            "supervisor": "supervisor",
        }
        for username, role in roles.items():
            create_user(username, PASSWORD, role)
        db.session.commit()
        client = app.test_client()
        for username in ("resident", "worker", "dispatcher", "supervisor"):
            response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201
            tokens[username] = response.get_json()["token"]
        db.session.remove()
    yield RaceSetup(app, tokens)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _prepare(setup: RaceSetup, step: str) -> tuple[str, int]:
    """Report a case and walk it to the open ``step`` task, all committed. Returns (case key, task id)."""
    with setup.app.app_context():
        client = setup.app.test_client()

        def auth(username: str) -> dict[str, str]:
            return setup.headers(username)

        key = report(client, auth)["key"]
        if step != "triage":
            walk_to(client, auth, key, step)
        task_id = open_task(key, step).id
        db.session.commit()
        db.session.remove()
    return key, task_id


def _race(setup: RaceSetup, task_id: int, who: str, data: dict[str, Any]) -> list[tuple[int, Any]]:
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def press_complete() -> None:
        try:
            client = setup.app.test_client()
            with setup.app.app_context():
                barrier.wait(timeout=30)
                response = client.post(
                    f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=setup.headers(who)
                )
                with lock:
                    results.append((response.status_code, response.get_json()))
                db.session.remove()
        except BaseException as exc:  # collected and re-raised in the test thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=press_complete, name=f"complete-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a completing thread hung"
    assert errors == [], errors
    assert len(results) == THREADS
    return results


def _check_one_winner(results: list[tuple[int, Any]]) -> None:
    codes = Counter(code for code, _ in results)
    unexpected = [(code, body) for code, body in results if code not in (200, 409)]
    assert codes == {200: 1, 409: THREADS - 1}, unexpected
    for code, body in results:
        if code == 409:
            assert body["error"] == "conflict"
            assert body["details"]["status"] in (TaskStatus.COMPLETED, TaskStatus.CLAIMED)


def _audit_count(action: str, **where: Any) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return db.session.execute(query).scalar_one()


def test_concurrent_review_closes_the_case_once(race_app: RaceSetup) -> None:
    key, task_id = _prepare(race_app, "review")
    results = _race(race_app, task_id, "supervisor", {"review_decision": "approve"})
    _check_one_winner(results)
    [winner] = [body for code, body in results if code == 200]
    assert winner["case_status"] == "closed"
    assert winner["instance_status"] == "completed"

    with race_app.app.app_context():
        case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
        assert case.status == "closed"
        assert case.closed_at is not None
        task = db.session.get(HumanTask, task_id)
        assert task.status == TaskStatus.COMPLETED
        assert task.submitted_data["review_decision"] == "approve"
        assert _audit_count("task.completed", entity_id=str(task_id)) == 1
        instance = db.session.execute(
            select(ProcessInstance).where(ProcessInstance.case_id == case.id)
        ).scalar_one()
        assert instance.status == "completed"
        assert _audit_count("instance.completed", instance_id=instance.id) == 1
        changes = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.case_id == case.id, AuditEvent.action == "case.status_changed"
            )
        ).scalars()
        closings = [e for e in changes if e.after == {"status": "closed"}]
        assert len(closings) == 1
        assert (
            db.session.execute(
                select(func.count())
                .select_from(HumanTask)
                .where(HumanTask.case_id == case.id, HumanTask.status.in_(TaskStatus.OPEN))
            ).scalar_one()
            == 0
        )
        db.session.remove()


def test_concurrent_triage_dispatches_once(race_app: RaceSetup) -> None:
    key, task_id = _prepare(race_app, "triage")
    results = _race(race_app, task_id, "dispatcher", {"triage_decision": "accept"})
    _check_one_winner(results)
    [winner] = [body for code, body in results if code == 200]
    assert winner["case_status"] == "dispatching"
    assert [t["element_id"] for t in winner["next_tasks"]] == ["dispatch"]

    with race_app.app.app_context():
        case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
        assert case.status == "dispatching"
        assert _audit_count("task.completed", entity_id=str(task_id)) == 1
        dispatch_tasks = (
            db.session.execute(
                select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.element_id == "dispatch")
            )
            .scalars()
            .all()
        )
        assert len(dispatch_tasks) == 1
        assert dispatch_tasks[0].status == TaskStatus.READY
        assert _audit_count("task.created", case_id=case.id) == 2  # triage, then one dispatch
        triage = db.session.get(HumanTask, task_id)
        assert triage.status == TaskStatus.COMPLETED
        assert triage.completed_by_id == triage.assignee_id
        db.session.remove()
