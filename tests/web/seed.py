"""Seeding the foundation's page tests: people on a small territory, the diagrams and the catalogue, and a
case walked through the API to a grid worker's task. Works on any app (the test client's or the live one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from tests.cases.territory import EAST_GRID, WEST_GRID, assign, build_territory
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue, open_task, report, walk_to


def deploy_case_handling(app: Flask) -> None:
    """Only the shipped case handling diagram (not the others: page tests that show its cases)."""
    from app.config import PROJECT_ROOT
    from app.workflow import deploy

    path = PROJECT_ROOT / "bpmn" / "case_handling.bpmn"
    deploy.deploy_file(path.name, path.read_bytes(), app.extensions["gridcase.deploy_rules"]())


PEOPLE = (
    ("resident", "resident"),
    ("resident2", "resident"),
    ("worker", "grid_worker"),
    ("worker_west", "grid_worker"),
    ("dispatcher", "dispatcher"),
    ("supervisor", "supervisor"),
    ("designer", "designer"),
    ("admin", "admin"),
)


def seed_people(app: Flask) -> tuple[FlaskClient, Callable[[str], dict[str, str]]]:
    """Territory, catalogue, diagrams and PEOPLE (``worker`` on the east grid, ``worker_west`` on the west
    one, the dispatcher and supervisor on the district); returns an API client and its ``auth(username)``.
    Call inside ``app.app_context()``."""
    from app.auth.services import create_user
    from app.workflow import deploy

    for username, role in PEOPLE:
        create_user(username, PASSWORD, role)
    db.session.commit()
    build_territory()
    assign("worker", EAST_GRID)
    assign("worker_west", WEST_GRID)
    assign("dispatcher", "510124")
    assign("supervisor", "510124")
    deploy.deploy_folder(
        app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
    )
    db.session.commit()
    ensure_catalogue()
    client = app.test_client()
    tokens: dict[str, str] = {}

    def auth(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.get_json()
            tokens[username] = response.get_json()["token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return client, auth


def case_at_handle(
    client: FlaskClient, auth: Callable[[str], dict[str, str]], **fields: Any
) -> tuple[str, int]:
    """A resident's report in the east grid, accepted and dispatched to ``worker``: (key, handle task id)."""
    created = report(client, auth, **fields)
    walk_to(client, auth, created["key"], "handle", hours=8)
    return created["key"], open_task(created["key"], "handle").id


def seed_designer(app: Flask, tmp_path: Path) -> Path:
    """A designer (``designer1``), case_handling v1, and a copy of the forms folder for this test (the form
    editor's saves write files); the copy's path."""
    import shutil

    from app.auth.roles import ALL_ROLES
    from app.auth.services import create_user
    from app.config import PROJECT_ROOT
    from app.workflow import deploy
    from app.workflow.forms import FormRegistry

    forms_folder = tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "forms", forms_folder)
    registry = FormRegistry(forms_folder)
    app.extensions["gridcase.forms"] = registry
    app.extensions["gridcase.deploy_rules"] = lambda: deploy.default_rules(registry.exists, set(ALL_ROLES))
    with app.app_context():
        create_user("designer1", PASSWORD, "designer")
        deploy_case_handling(app)
        db.session.commit()
    return forms_folder
