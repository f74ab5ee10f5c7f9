"""``flask seed-city`` at a small scale: the territory and people in proportion, the bulk history with the
rows a walked case leaves (instance, tasks, photo, audit trail), the live cases run by the engine, the pages
and APIs working on it, and a refusal on a database that is not empty."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases.models import Attachment, Case
from app.city.territory import counts_for
from app.clock import FrozenClock
from app.extensions import db
from app.grids.models import Grid
from app.workflow import instances
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.conftest import PASSWORD, START, _settings, _truncate_postgres
from tests.web.pages import sign_in

SCALE = 0.01
HISTORIC = 3830  # 383,000 × 0.01
LIVE = 12


def _seed(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["seed-city", "--password", PASSWORD, *args])


@pytest.fixture(scope="module")
def seeded(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One seeded district for the module (seeding takes ~20 s); the tests only read it, or add tokens."""
    app = create_app(_settings(postgres_schema, tmp_path_factory.mktemp("city")), clock=FrozenClock(START))
    app.config["TESTING"] = True
    _truncate_postgres(app)
    with app.app_context():
        result = _seed(app, "--scale", str(SCALE), "--live", str(LIVE))
        assert result.exit_code == 0, (result.output, result.exception)
        db.session.remove()
    yield app, result.output
    _truncate_postgres(app)  # the next module's PostgreSQL tests start from empty tables


@pytest.fixture
def city(seeded: Any) -> Any:
    app, output = seeded
    with app.app_context():
        yield app, output
        db.session.remove()


def _count(model: Any, *where: Any) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_territory_people_and_history_in_proportion(city):
    _, output = city
    levels = Counter(db.session.execute(select(Grid.level)).scalars())
    expected = counts_for(SCALE)
    assert levels == {
        "district": 1,
        "street": expected.street,
        "community": expected.community,
        "grid": expected.grid,
        "compound": expected.compound,
        "building": expected.building,
    }
    roles = Counter(db.session.execute(select(User.role)).scalars())
    assert roles["grid_worker"] == round(1126 * SCALE)
    assert roles["department_handler"] > 0 and roles["resident"] > 0 and roles["supervisor"] >= 1
    assert _count(Case) == HISTORIC + LIVE
    assert f"{HISTORIC:,} historic cases" in output

    statuses = Counter(db.session.execute(select(Case.status).where(Case.id <= HISTORIC)).scalars())
    assert set(statuses) <= {"closed", "rejected", "duplicate", "withdrawn"}
    assert statuses["closed"] > 0.7 * HISTORIC  # mostly closed, as a working district
    assert min(statuses["rejected"], statuses["duplicate"], statuses["withdrawn"]) > 0


def test_a_historic_case_has_what_a_walked_case_leaves(city):
    case = db.session.execute(
        select(Case).where(Case.status == "closed", Case.rework_count == 1).limit(1)
    ).scalar_one()
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.case_id == case.id)
    ).scalar_one()
    assert instance.status == InstanceStatus.COMPLETED and instance.business_key == case.key
    tasks = db.session.execute(
        select(HumanTask.element_id, HumanTask.status)
        .where(HumanTask.case_id == case.id)
        .order_by(HumanTask.id)
    ).all()
    assert [t.element_id for t in tasks] == [
        "triage", "dispatch", "handle", "photo_proof", "review", "handle", "photo_proof", "review",
    ]  # fmt: skip
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
    assert _count(Attachment, Attachment.case_id == case.id) == 2  # one after photo per proof
    actions = list(
        db.session.execute(
            select(AuditEvent.action).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)
        ).scalars()
    )
    assert actions[:2] == ["case.reported", "instance.started"]
    assert actions[-1] == "instance.completed"
    assert actions.count("case.rework") == 1 and actions.count("task.completed") == 8
    # No engine state is kept for the bulk history; the diagram is drawn from the tasks.
    state = instances.instance_state(instance)
    assert state["active_element_ids"] == []
    assert set(state["completed_element_ids"]) == {"triage", "dispatch", "handle", "photo_proof", "review"}
    # Every historic proof points at a stored photo with its thumbnail.
    assert _count(Attachment, Attachment.case_id <= HISTORIC, Attachment.thumbnail_path.is_(None)) == 0


def test_live_cases_run_in_the_engine_and_keys_continue(city):
    live = db.session.execute(select(Case).where(Case.id > HISTORIC).order_by(Case.id)).scalars().all()
    assert len(live) == LIVE
    open_tasks = _count(HumanTask, HumanTask.case_id > HISTORIC, HumanTask.status.in_(TaskStatus.OPEN))
    assert open_tasks > 0, "inboxes hold work"
    running = (
        db.session.execute(
            select(ProcessInstance).where(
                ProcessInstance.case_id > HISTORIC, ProcessInstance.status == InstanceStatus.RUNNING
            )
        )
        .scalars()
        .all()
    )
    assert running and all(instance.state for instance in running)  # a real engine state
    keys = [c.key for c in db.session.execute(select(Case).order_by(Case.id)).scalars()]
    assert len(set(keys)) == len(keys)
    by_year: dict[str, list[int]] = {}
    for key in keys:
        _, year, number = key.split("-")
        by_year.setdefault(year, []).append(int(number))
    for numbers in by_year.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), "the live keys follow the historic ones"


def test_pages_and_kpis_work_on_the_seeded_district(city):
    app, _ = city
    historic = db.session.execute(select(Case.key).where(Case.status == "closed").limit(1)).scalar_one()
    client = app.test_client()
    sign_in(client, "supervisor")
    assert client.get(f"/supervise/cases/{historic}").status_code == 200
    diagram = client.get(f"/supervise/cases/{historic}/diagram.json").get_json()
    assert "review" in diagram["completed"]
    data = client.get("/supervise/dashboard/data.json", headers={"Accept": "application/json"}).get_json()
    assert data["kpis"] is not None

    api = app.test_client()
    token = api.post("/api/v1/tokens", json={"username": "supervisor", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    period = {"group_by": "community", "from": "2026-06-01", "to": "2026-11-01"}
    kpis = api.get("/api/v1/kpis", query_string=period, headers=headers)
    assert kpis.status_code == 200
    rows = kpis.get_json()["rows"]
    assert sum(row["closed"] for row in rows) > 1000


def test_refuses_a_database_that_is_not_empty(city):
    app, _ = city
    before = _count(Case)
    result = _seed(app, "--scale", str(SCALE))
    assert result.exit_code == 2
    assert "seed-city builds a district in an empty database" in result.output
    assert f"{before:,} cases" in result.output
    assert _count(Case) == before


def test_sqlite_takes_the_same_history_without_copy(make_app):
    app = make_app("sqlite")
    with app.app_context():
        result = _seed(app, "--scale", "0.001", "--live", "0")
        assert result.exit_code == 0, (result.output, result.exception)
        assert _count(Case) == 383
        assert _count(HumanTask) > 383 and _count(AuditEvent) > 383 * 5
        db.session.remove()
