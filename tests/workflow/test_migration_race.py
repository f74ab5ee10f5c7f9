"""A migration and a person's step on the same instance at the same moment: the instance lock orders them.

Either the step goes first and the migration moves the state it left, or the migration goes first and the
step runs on the new version; never a lost step, a step on a stale state, or two versions at once. Each
thread has its own app context (own session and connection), as separate server workers would.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db
from app.workflow import deploy, instances
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance, TaskStatus
from tests.helpers import open_task, report, walk_to
from tests.test_concurrency import RaceSetup, race_app  # noqa: F401  (the fixture)
from tests.workflow.migration_diagrams import case_handling_compatible

ROUNDS = 3


def _prepare(setup: RaceSetup) -> tuple[str, int, int]:
    """A case waiting at handle on v1, v2 deployed: (case key, instance id, handle task id)."""
    with setup.app.app_context():
        client = setup.app.test_client()
        key = report(client, setup.headers)["key"]
        walk_to(client, setup.headers, key, "handle")
        task = open_task(key, "handle")
        result = (key, task.instance_id, task.id)
        db.session.remove()
    return result


def _together(setup: RaceSetup, *calls: tuple[str, str, dict[str, Any]]) -> list[tuple[int, Any]]:
    """POST each (who, url, body) from its own thread, released together; the answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list[tuple[int, Any] | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def post(index: int, who: str, url: str, body: dict[str, Any]) -> None:
        try:
            client = setup.app.test_client()
            with setup.app.app_context():
                barrier.wait(timeout=30)
                response = client.post(url, json=body, headers=setup.headers(who))
                answers[index] = (response.status_code, response.get_json())
                db.session.remove()
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(n, *call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [], errors
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def test_a_step_and_a_migration_at_once_both_happen_in_some_order(race_app: RaceSetup) -> None:  # noqa: F811
    cases = [_prepare(race_app) for _ in range(ROUNDS)]  # on v1: new cases start on the newest version
    with race_app.app.app_context():
        race_app.tokens["admin"] = _admin_token(race_app)
        rules = race_app.app.extensions["gridcase.deploy_rules"]()
        deploy.deploy_file("case_handling.bpmn", case_handling_compatible(), rules)
        db.session.commit()
        db.session.remove()
    for key, instance_id, task_id in cases:
        step, moved = _together(
            race_app,
            (
                "worker",
                f"/api/v1/tasks/{task_id}/complete",
                {"data": {"handle_result": "resolved", "handle_description": "已清理"}},
            ),
            ("admin", f"/api/v1/process-instances/{instance_id}/migrate", {"target_version": 2}),
        )
        assert step[0] == 200, step
        assert moved[0] == 200, moved
        with race_app.app.app_context():
            row = db.session.get(ProcessInstance, instance_id)
            assert db.session.get(ProcessDefinition, row.definition_id).version == 2
            assert db.session.get(HumanTask, task_id).status == TaskStatus.COMPLETED
            open_rows = (
                db.session.execute(
                    select(HumanTask.element_id).where(
                        HumanTask.instance_id == instance_id, HumanTask.status.in_(TaskStatus.OPEN)
                    )
                )
                .scalars()
                .all()
            )
            assert open_rows == ["photo_proof"]
            migrated = db.session.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "instance.migrated", AuditEvent.instance_id == instance_id)
            ).scalar_one()
            assert migrated == 1
            # the stored state is the v2 workflow after the step, whichever went first
            engine = instances.restored_engine(row.definition_id, row.state)
            assert [t.element_id for t in engine.ready_user_tasks()] == ["photo_proof"]
            assert db.session.execute(select(Case.status).where(Case.key == key)).scalar_one() == "feedback"
            db.session.remove()


def _admin_token(setup: RaceSetup) -> str:
    from app.auth.services import create_user
    from tests.conftest import PASSWORD

    create_user("admin", PASSWORD, "admin")
    db.session.commit()
    response = setup.app.test_client().post(
        "/api/v1/tokens", json={"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 201
    return str(response.get_json()["token"])
