"""Each place of a campaign is inspected in a child instance of the campaign's (app/workflow/children.py):
two workers completing two inspections of one campaign at the same moment both succeed, the last one
moving the campaign on exactly once; a step killed half-way (while the launch starts the places, or while
the last place tells the campaign) leaves nothing of itself behind. On PostgreSQL (real row locks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.inspections import campaigns
from app.inspections.models import CampaignItem, ItemStatus
from app.inspections.places import create_place
from app.tasks import services as task_services
from app.workflow import instances, operators
from app.workflow.models import EngineIncident, InstanceStatus, ProcessInstance, ProcessJoin
from tests.cases.territory import EAST_GRID, EAST_OPEN_POINT
from tests.factories import pushed
from tests.helpers import fingerprint
from tests.inspections.conftest import item_of, launch_body, open_tasks, results

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


@pytest.fixture
def app(make_app: Any) -> Iterator[Flask]:
    with pushed(make_app("postgresql")) as app:
        yield app


class Crash(BaseException):
    """A worker killed in the middle of a step: like SystemExit, nothing on the way catches it."""


def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _complete(task_id: int, username: str) -> None:
    task_services.complete(_user(username), task_id, {"results": results()})
    db.session.commit()


def _campaign_of_two(launch: Any) -> tuple[dict[str, Any], list[int]]:
    campaign = launch(place_types=["restaurant"], grid_codes=[EAST_GRID])  # R1 and R2, both the worker's
    tasks = open_tasks(campaign["instance_id"], "inspect")
    assert len(tasks) == 2 and {t.instance_id for t in tasks}.isdisjoint({campaign["instance_id"]})
    db.session.commit()
    return campaign, [t.id for t in tasks]


def test_two_inspections_of_one_campaign_completed_at_once_both_succeed(
    app: Flask, territory: None, launch: Any
) -> None:
    campaign, task_ids = _campaign_of_two(launch)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(task_id: int) -> None:
        with app.app_context():
            try:
                user = _user("worker")
                barrier.wait()
                task_services.complete(user, task_id, {"results": results()})
                db.session.commit()
            except BaseException as exc:  # reported by the test below
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(task_id,)) for task_id in task_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    db.session.expire_all()
    assert {item_of(campaign["id"], code).status for code in ("R1", "R2")} == {ItemStatus.PASSED}
    parent = db.session.get(ProcessInstance, campaign["instance_id"])
    assert parent is not None and parent.status == InstanceStatus.COMPLETED  # moved on by the last one
    children = db.session.execute(
        select(ProcessInstance.status).where(ProcessInstance.parent_id == parent.id)
    ).scalars()
    assert sorted(children) == [InstanceStatus.COMPLETED] * 2
    assert db.session.execute(select(func.count()).select_from(ProcessJoin)).scalar_one() == 0
    told = db.session.execute(
        select(func.count()).where(
            AuditEvent.action == "message.correlated", AuditEvent.instance_id == parent.id
        )
    ).scalar_one()
    assert told == 1  # exactly once
    assert (
        db.session.execute(
            select(func.count()).where(AuditEvent.action == "inspection.campaign_completed")
        ).scalar_one()
        == 1
    )


def test_a_launch_killed_while_starting_the_places_leaves_nothing(
    app: Flask, territory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint()
    run = instances._run_engine
    calls: list[int] = []

    def dies_at_the_second_place(instance: ProcessInstance, *args: Any, **kwargs: Any) -> Any:
        if instance.parent_id is not None:
            calls.append(instance.id)
            if len(calls) == 2:
                raise Crash()
        return run(instance, *args, **kwargs)

    monkeypatch.setattr(instances, "_run_engine", dies_at_the_second_place)
    body = launch_body(place_types=["restaurant"], grid_codes=[EAST_GRID])
    body["deadline"] = datetime.fromisoformat(body["deadline"])  # as the API's schema loads it
    with pytest.raises(Crash):
        campaigns.launch(_user("handler"), body)
    db.session.rollback()  # what the request edge does with a step that raised
    assert len(calls) == 2  # it died with one place run to its inspection
    assert fingerprint() == before


def test_the_last_inspection_killed_while_telling_the_campaign_leaves_nothing(
    app: Flask, territory: None, launch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign, (first, last) = _campaign_of_two(launch)
    _complete(first, "worker")
    join = db.session.execute(select(ProcessJoin)).scalar_one()
    assert (join.total, join.pending) == (2, 1)
    before = fingerprint()

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise Crash()

    with monkeypatch.context() as patched:
        patched.setattr(instances, "correlate_message", dies)
        with pytest.raises(Crash):
            task_services.complete(_user("worker"), last, {"results": results()})
        db.session.rollback()
    assert fingerprint() == before  # the place's step, the join's count: none of it kept
    assert db.session.execute(select(ProcessJoin.pending)).scalar_one() == 1

    _complete(last, "worker")  # done again, it goes through
    parent = db.session.get(ProcessInstance, campaign["instance_id"])
    assert parent is not None and parent.status == InstanceStatus.COMPLETED
    assert item_of(campaign["id"], "R2").status == ItemStatus.PASSED


def _launch_counting_statements(launch: Any) -> tuple[dict[str, Any], int]:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        campaign = launch(place_types=["restaurant"], grid_codes=[EAST_GRID])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return campaign, len(statements)


def test_a_launch_writes_its_places_in_bulk(app: Flask, territory: None, launch: Any) -> None:
    """Four times the places, the same statements: each place's instance, state, task and audit go out
    with the others' (one executemany or multi-row INSERT per table), not in round trips of their own."""
    _launch_counting_statements(launch)  # the first reads what is cached after (the deployed specs)
    _, small_statements = _launch_counting_statements(launch)
    admin = _user("admin")
    for n in range(6):
        create_place(
            admin,
            {
                "code": f"R{n + 3}",
                "name": f"餐馆{n + 3}",
                "place_type": "restaurant",
                "lat": EAST_OPEN_POINT[0],
                "lon": EAST_OPEN_POINT[1],
                "address": "门店",
                "responsible_person": "负责人",
            },
        )
    db.session.commit()
    large, large_statements = _launch_counting_statements(launch)
    assert large_statements == small_statements

    tasks = open_tasks(large["instance_id"], "inspect")
    assert len(tasks) == 8 and len({t.instance_id for t in tasks}) == 8
    assert {t.candidate_user for t in tasks} == {"worker"} and {t.assignee_id for t in tasks} == {
        _user("worker").id
    }
    children = list(
        db.session.execute(
            select(ProcessInstance).where(ProcessInstance.parent_id == large["instance_id"])
        ).scalars()
    )
    assert {c.id for c in children} == {t.instance_id for t in tasks}
    assert all(c.status == InstanceStatus.RUNNING and c.state for c in children)
    assert {json.dumps(c.elements, sort_keys=True) for c in children} == {
        json.dumps({"active": ["inspect"], "completed": ["place_start", "select_target"]}, sort_keys=True)
    }
    for action in ("instance.started", "task.created"):
        audited = db.session.execute(
            select(AuditEvent.instance_id).where(
                AuditEvent.action == action, AuditEvent.instance_id.in_([c.id for c in children])
            )
        ).scalars()
        assert sorted(audited) == sorted(c.id for c in children)
    _complete(tasks[0].id, "worker")  # and each place's instance goes on by itself
    passed = db.session.execute(
        select(func.count()).where(
            CampaignItem.campaign_id == large["id"], CampaignItem.status == ItemStatus.PASSED
        )
    ).scalar_one()
    assert passed == 1


def test_a_place_failing_at_the_launch_is_parked_alone_and_the_others_wait_for_their_inspection(
    app: Flask, territory: None, launch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk launch persists a child its first run failed in as a step does: an incident on it, and the
    others written together as usual; the campaign waits for both."""
    select_target = operators._registry["inspection.select_target"]
    failing: list[int] = []

    def fails_for_the_second(call: operators.OperatorCall) -> Any:
        failing.append(call.instance_id)
        if len(failing) == 2:
            raise RuntimeError("场所数据暂不可用 (place data unavailable)")
        return select_target.func(call)

    monkeypatch.setitem(
        operators._registry,
        "inspection.select_target",
        operators.Operator(select_target.name, fails_for_the_second, select_target.description),
    )
    campaign = launch(place_types=["restaurant"], grid_codes=[EAST_GRID])

    first, second = failing
    statuses = dict(
        db.session.execute(
            select(ProcessInstance.id, ProcessInstance.status).where(
                ProcessInstance.parent_id == campaign["instance_id"]
            )
        ).all()
    )
    assert statuses == {first: InstanceStatus.RUNNING, second: InstanceStatus.ERROR}
    [incident] = db.session.execute(
        select(EngineIncident).where(EngineIncident.instance_id == second)
    ).scalars()
    assert incident.element_id == "select_target" and "place data unavailable" in incident.reason
    assert [t.instance_id for t in open_tasks(campaign["instance_id"], "inspect")] == [first]
    join = db.session.execute(select(ProcessJoin)).scalar_one()
    assert (join.total, join.pending) == (2, 2)
