"""Factories for what tests build again and again: apps on both databases, cases walked through the real
API, and the staffed territory of tests/cases/territory.py. They go through the services and the API as
users would (no rows written by hand), so a factory-made case has its instance, tasks and audit trail.
The one exception is ``historic_case``: KPI tests need a history with exact past times no walk produces."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.cases.models import Case
from app.extensions import db
from tests.cases.territory import COMMUNITY, DISTRICT, EAST_GRID, STREET, assign, build_territory
from tests.helpers import Auth, complete, report, walk_to

BACKENDS = ["sqlite", "postgresql"]


# -- apps ----------------------------------------------------------------------------------------------


@contextmanager
def pushed(app: Flask) -> Iterator[Flask]:
    """``app`` with its context pushed; on leaving, the session removed and the connection pool closed."""
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=BACKENDS)
def app_on_both_backends(make_app: Any, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The conftest app on SQLite and on PostgreSQL (ids ``[sqlite]``, ``[postgresql]``). A module takes
    it as its ``app`` with ``app = app_on_both_backends``."""
    with pushed(make_app(request.param)) as app:
        yield app


# -- cases ---------------------------------------------------------------------------------------------

STEPS = ["dispatch", "handle", "photo_proof", "review", "closed"]


def create_case(
    client: FlaskClient,
    auth: Auth,
    step: str | None = None,
    *,
    hours: int = 24,
    handler: str = "worker",
    who: str = "resident",
    **fields: Any,
) -> str:
    """A case reported by ``who`` through the API (``tests.helpers.report``'s exposed-garbage case unless
    ``fields`` say otherwise) and its key. With ``step``, walked on by the dispatcher and ``handler`` (a
    limit of ``hours`` working hours) to that open task, or to ``closed``: approved at review."""
    if step is not None and step not in STEPS:
        raise ValueError(f"step {step!r} is none of {STEPS}")
    key: str = report(client, auth, who, **fields)["key"]
    if step is None:
        return key
    walk_to(client, auth, key, "review" if step == "closed" else step, hours=hours, handler=handler)
    if step == "closed":
        complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    return key


# -- people on the territory ---------------------------------------------------------------------------

# username → (role, the level they coordinate)
COORDINATORS = {
    "community": ("community_staff", COMMUNITY),
    "street": ("street_coordinator", STREET),
    "district": ("district_coordinator", DISTRICT),
}
# where the conftest users work on the territory unless a test says otherwise
PLACEMENTS = {
    "worker": EAST_GRID,
    "worker2": EAST_GRID,
    "dispatcher": DISTRICT,
    "supervisor": DISTRICT,
}


def staff_territory(
    create_user: Callable[..., Any],
    coordinators: tuple[str, ...] = ("community", "street", "district"),
    handlers: Mapping[str, str] | None = None,
    placements: Mapping[str, str] | None = None,
) -> list[str]:
    """``build_territory()`` with the named ``coordinators`` (users named after their level) and
    department ``handlers`` (username → unit code, each unit made on first use) created, and everybody
    assigned where they work: the conftest users by ``placements`` (default ``PLACEMENTS``), the
    coordinators at their level (after the grid workers, before the others: the order the suites always
    used). Returns the usernames it created, for signing them in."""
    build_territory()
    for username in coordinators:
        create_user(COORDINATORS[username][0], username)
    for username, unit in (handlers or {}).items():
        create_user("department_handler", username, unit_code=unit)
    where = dict(placements or PLACEMENTS)
    workers = [(username, grid) for username, grid in where.items() if username.startswith("worker")]
    others = [(username, grid) for username, grid in where.items() if not username.startswith("worker")]
    for username, grid in [*workers, *((c, COORDINATORS[c][1]) for c in coordinators), *others]:
        assign(username, grid)
    return [*coordinators, *(handlers or {})]


# -- historic rows -------------------------------------------------------------------------------------


def historic_case(**columns: Any) -> Case:
    """A case row as a finished history leaves it (given every column, times included), added to the
    session: the hand-computed KPI fixtures need exact past times that no walk through the services would
    give. Everything else opens cases through ``app.cases.lifecycle`` (the API, the services)."""
    case = Case(**columns)
    db.session.add(case)
    return case
