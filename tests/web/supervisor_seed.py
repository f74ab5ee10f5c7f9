"""Seeding the live server for the supervisor and dashboard browser tests: the small territory of
tests/cases/territory.py, the case handling process, the people, and cases walked through the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.cases.models import Case
from app.clock import as_utc
from app.extensions import db
from app.workflow import scheduler
from app.workflow.models import ProcessInstance
from tests.cases.territory import DISTRICT, EAST_GRID, assign, build_territory
from tests.conftest import PASSWORD
from tests.web.seed import deploy_case_handling

PEOPLE = [
    ("resident", "resident", None),
    ("worker", "grid_worker", EAST_GRID),
    ("worker2", "grid_worker", EAST_GRID),
    ("dispatcher", "dispatcher", DISTRICT),
    ("supervisor", "supervisor", DISTRICT),
    ("community", "community_staff", None),
]


def seed_people(app: Flask) -> tuple[FlaskClient, Callable[[str], dict[str, str]]]:
    """Territory, catalogue, case_handling and the people; returns an API client and ``auth(username)``."""
    from app.auth.services import create_user
    from tests.cases.territory import COMMUNITY
    from tests.helpers import ensure_catalogue

    build_territory()
    ensure_catalogue()
    deploy_case_handling(app)
    for username, role, grid in PEOPLE:
        create_user(username, PASSWORD, role)
        db.session.commit()
        if grid:
            assign(username, grid)
    assign("community", COMMUNITY)
    client = app.test_client()
    tokens: dict[str, str] = {}

    def auth(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.get_json()
            tokens[username] = response.get_json()["token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return client, auth


def make_overdue(app: Flask, client: FlaskClient, auth: Any, key: str) -> None:
    """Walk ``key`` to handling with a 2-hour limit and fire its timers until it is overdue."""
    from tests.helpers import walk_to

    clock = app.extensions["gridcase.clock"]
    walk_to(client, auth, key, "handle", hours=2)
    while db.session.execute(select(Case.overdue_at).where(Case.key == key)).scalar_one() is None:
        due = db.session.execute(
            select(ProcessInstance.next_timer_at)
            .join(Case, Case.id == ProcessInstance.case_id)
            .where(Case.key == key)
        ).scalar_one()
        assert due is not None
        clock.set(as_utc(due))
        assert scheduler.tick() == 1
        db.session.expire_all()


def make_red(key: str) -> None:
    """Raise a case to red in the database: a red report starts the emergency process instead, and these
    pages only need a case to show in red."""
    db.session.execute(update(Case).where(Case.key == key).values(severity="red"))
    db.session.commit()
