"""Fixtures of the dispute mediation tests: a territory of two communities, the people who work in it, the
mediators and the volunteer pool, and ``dispute_mediation.bpmn`` deployed. Every service-backed test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app.config import PROJECT_ROOT, MediationSettings
from app.extensions import db
from app.grids.members import get_user, set_user_grids
from app.mediation.models import MediationVolunteer
from tests.helpers import ensure_catalogue
from tests.mediation.territory import COMMUNITY_A, PEOPLE, build_territory


@pytest.fixture
def mediation_settings() -> MediationSettings:
    """The defaults; a test gives others with ``@pytest.mark.parametrize("mediation_settings", [...])``."""
    return MediationSettings()


@pytest.fixture(params=["sqlite", "postgresql"])
def app(
    make_app: Any, request: pytest.FixtureRequest, mediation_settings: MediationSettings
) -> Iterator[Flask]:
    app = make_app(request.param, mediation=mediation_settings)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def people(app: Flask, create_user: Any, auth: Any) -> dict[str, Any]:
    """Everybody of ``PEOPLE``, assigned where they work (mediators through the role-to-level rule), the
    volunteers in the pool, all signed in (tokens made now do not move the fingerprints)."""
    build_territory()
    ensure_catalogue()
    made = {}
    for username, (role, _) in PEOPLE.items():
        made[username] = create_user(
            role, username, unit_code="water" if role == "department_handler" else None
        )
    for username, (_, grid) in PEOPLE.items():
        if grid is not None:
            set_user_grids(get_user(username), [grid])
    for username, community in (("vol1", None), ("vol2", COMMUNITY_A)):
        db.session.add(
            MediationVolunteer(
                user_id=made[username].id,
                community_code=community,
                active=True,
                created_at=made[username].created_at,
            )
        )
    db.session.commit()
    for username in PEOPLE:
        auth(username)
    return made


@pytest.fixture
def deployed_mediation(app: Flask) -> None:
    """Only this process: the others' diagrams are not this package's business."""
    from app.workflow import deploy

    path = PROJECT_ROOT / "bpmn" / "dispute_mediation.bpmn"
    deploy.deploy_file(path.name, path.read_bytes(), app.extensions["gridcase.deploy_rules"]())
    db.session.commit()
