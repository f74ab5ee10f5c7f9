"""``flask seed-demo``: the demo district, its people and units, and historic cases played through the real
services: counts by role and kind, everyone on a grid, cases in several final states with a consistent
audit trail, idempotent, reproducible by seed."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases.models import Case, CaseStatus
from app.clock import FrozenClock, as_utc, now
from app.extensions import db
from app.grids.models import Grid, GridMember
from app.models import ALL_MODELS
from app.units.models import UNIT_KINDS, Unit
from tests.conftest import START, _settings

CASES = 60
REPRODUCED_CASES = 10  # three seeded districts: enough cases for seeds to differ, few enough to stay quick


def _seed(app: Flask, *args: str, cases: int = CASES) -> Any:
    result = app.test_cli_runner().invoke(args=["seed-demo", "--cases", str(cases), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _counts() -> dict[str, int]:
    return {
        m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar_one()
        for m in ALL_MODELS
    }


def _cases() -> list[tuple[str, str, str, str | None]]:
    rows = db.session.execute(select(Case.key, Case.title, Case.status, Case.category_code).order_by(Case.id))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_people_units_and_grids(app):
    seeded = _seed(app, cases=0)  # the people do not need cases
    roles = Counter(db.session.execute(select(User.role)).scalars())
    assert roles["grid_worker"] == 20
    assert roles["grid_leader"] == 4
    assert roles["community_staff"] == 2
    assert roles["street_coordinator"] == roles["district_coordinator"] == 1
    assert roles["dispatcher"] == roles["supervisor"] == roles["admin"] == roles["designer"] == 1
    assert roles["department_handler"] >= len(UNIT_KINDS)
    assert roles["resident"] >= 1

    kinds = Counter(db.session.execute(select(Unit.kind)).scalars())
    assert set(kinds) == set(UNIT_KINDS), "a unit of every kind"
    assert kinds["property"] == 4
    units = {u.code: u for u in db.session.execute(select(Unit)).scalars()}
    assert [g.code for g in units["sanitation"].grids] == ["510124001"]
    assert [g.code for g in units["water"].grids] == ["510124"]
    assert all(g.level == "compound" for g in units["property-jincheng"].grids)
    # Every unit has members: department handlers naming it.
    handler_units = set(
        db.session.execute(select(User.unit_code).where(User.role == "department_handler")).scalars()
    )
    assert handler_units == set(units)

    levels = Counter(db.session.execute(select(Grid.level)).scalars())
    assert levels["street"] == 1 and levels["community"] == 2 and levels["grid"] == 16
    assert levels["compound"] >= 32 and levels["building"] >= 96

    assignments: dict[str, list[tuple[str, str]]] = {}
    rows = db.session.execute(
        select(User.username, User.role, Grid.code, Grid.level)
        .join(GridMember, GridMember.user_id == User.id)
        .join(Grid, Grid.id == GridMember.grid_id)
    )
    for username, _role, code, level in rows:
        assignments.setdefault(username, []).append((code, level))
    workers = db.session.execute(select(User.username).where(User.role == "grid_worker")).scalars().all()
    for worker in workers:
        assert [level for _, level in assignments[worker]] == ["grid"], worker
    grids_with_workers = {assignments[w][0][0] for w in workers}
    assert len(grids_with_workers) == 16, "every comprehensive grid has a worker"
    assert assignments["worker1"] == [("510124001001001", "grid")]
    for username in ("dispatcher", "supervisor", "district1"):
        assert assignments[username] == [("510124", "district")]
    assert assignments["street1"] == [("510124001", "street")]
    assert sorted(assignments["community1"] + assignments["community2"]) == [
        ("510124001001", "community"),
        ("510124001002", "community"),
    ]
    assert "worker20" in seeded.stdout and "gridcase-demo" in seeded.stdout
    # Inspection places in the compounds, each located in a grid of the district, of every type.
    from app.inspections.models import PLACE_TYPES, Place

    places = list(db.session.execute(select(Place)).scalars())
    assert len(places) >= 50 and "new inspection places" in seeded.stdout
    assert {p.place_type for p in places} == set(PLACE_TYPES)
    assert all(p.grid_code.startswith("510124") and len(p.grid_code) >= 15 for p in places)


def test_historic_cases(app):
    _seed(app)
    cases = list(db.session.execute(select(Case).order_by(Case.id)).scalars())
    assert len(cases) == CASES
    statuses = Counter(c.status for c in cases)
    assert statuses[CaseStatus.CLOSED] >= CASES // 3
    finals = {s for s in statuses if s in CaseStatus.FINAL}
    assert len(finals) >= 3, statuses
    assert any(s not in CaseStatus.FINAL for s in statuses), "some cases are still open"
    assert sum(c.rework_count for c in cases) >= 1
    assert any(c.overdue_at is not None for c in cases)
    assert len({c.category_code for c in cases}) >= 8
    assert len({c.source_channel for c in cases}) >= 4
    # The history lies in the last three months, and each case's trail runs forward in time.
    end = as_utc(START)
    assert all(end - timedelta(days=91) < as_utc(c.created_at) < end for c in cases)
    events = db.session.execute(
        select(AuditEvent.case_id, AuditEvent.action, AuditEvent.occurred_at)
        .where(AuditEvent.case_id.is_not(None))
        .order_by(AuditEvent.id)
    ).all()
    by_case: dict[int, list[Any]] = {}
    for case_id, action, occurred_at in events:
        by_case.setdefault(case_id, []).append((action, as_utc(occurred_at)))
    for case in cases:
        trail = by_case[case.id]
        assert trail[0] == ("case.reported", as_utc(case.created_at))
        times = [t for _, t in trail]
        assert times == sorted(times), case.key
        assert times[-1] <= end
        if case.status == CaseStatus.CLOSED:
            assert any(a == "case.status_changed" for a, _ in trail)
            assert as_utc(case.closed_at) <= end
    # The clock is the app's own again.
    assert app.extensions["gridcase.clock"].now() == START == now()


def test_second_run_adds_nothing(app):
    _seed(app, cases=15)
    before = _counts()
    result = _seed(app, cases=15)
    assert "historic cases already there" in result.stdout
    after = _counts()
    assert after == before


def _fresh_app(tmp_path: Path, template: Path, name: str) -> Flask:
    path = tmp_path / f"{name}.sqlite3"
    shutil.copy(template, path)
    folder = tmp_path / name
    folder.mkdir()
    app = create_app(_settings(f"sqlite:///{path}", folder), clock=FrozenClock(START))
    app.config["TESTING"] = True
    return app


def _run_in_fresh_app(tmp_path: Path, template: Path, name: str, *args: str) -> list[Any]:
    app = _fresh_app(tmp_path, template, name)
    with app.app_context():
        _seed(app, *args, cases=REPRODUCED_CASES)
        cases = _cases()
        workers = sorted(
            db.session.execute(
                select(User.username, User.display_name).where(User.role == "grid_worker")
            ).all()
        )
        db.session.remove()
        db.engine.dispose()
    return [cases, workers]


def test_reproducible_by_seed(tmp_path, sqlite_template):
    first = _run_in_fresh_app(tmp_path, sqlite_template, "first", "--seed", "11")
    second = _run_in_fresh_app(tmp_path, sqlite_template, "second", "--seed", "11")
    other = _run_in_fresh_app(tmp_path, sqlite_template, "other", "--seed", "12")
    assert first == second
    assert [c[1] for c in first[0]] != [c[1] for c in other[0]]
    assert first[1] != other[1]  # other names
