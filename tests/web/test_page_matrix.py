"""Every page × every kind of user: who gets 200, 403 or 404, what each list shows and hides, and that
anonymous visitors are sent to sign in. The pages and the expectations live in tests/web/page_matrix/
(one file per area); this test seeds one world per area and reports every disagreement at once."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import tests.web.page_matrix as matrix
from app.extensions import db
from tests.cases.territory import EAST_GRID, add_unit, assign, build_territory
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue
from tests.probes import deploy_bpmn_folder
from tests.web.page_matrix import PEOPLE, Page, World
from tests.web.pages import PageClient, sign_in

AREAS = sorted(name for _, name, is_package in pkgutil.iter_modules(matrix.__path__) if not is_package)


@pytest.fixture
def app(make_app: Any) -> Iterator[Flask]:
    app = make_app("sqlite")
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _seed_world(app: Flask) -> World:
    from app.auth.services import create_user
    from app.units.services import ensure_units

    build_territory()
    ensure_catalogue()
    deploy_bpmn_folder()
    ensure_units([{"code": "water", "name": "自来水公司", "kind": "water"}])
    db.session.commit()
    add_unit("water", "water", EAST_GRID)
    for username, role, grid, unit in PEOPLE:
        create_user(username, PASSWORD, role, None, unit)
        db.session.commit()
        if grid:
            assign(username, grid)
    client = app.test_client()
    tokens: dict[str, str] = {}

    def auth(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.get_json()
            tokens[username] = response.get_json()["token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return World(app=app, client=client, auth=auth)


def _disagreements(page: Page, username: str | None, client: FlaskClient) -> list[str]:
    response = client.get(page.path)
    who = username or "anonymous"
    if username is None:
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.startswith("/login"):
            return [f"{page.path} as {who}: {response.status_code} {location!r}, expected a 302 to /login"]
        return []
    expected = page.expected_status(username)
    if response.status_code != expected:
        return [f"{page.path} as {who}: {response.status_code}, expected {expected}"]
    if expected != 200:
        return []
    body = response.get_data(as_text=True)
    problems = [
        f"{page.path} as {who}: does not show {text!r}"
        for text in page.shows.get(username, ())
        if text not in body
    ]
    problems += [
        f"{page.path} as {who}: shows {text!r}" for text in page.hides.get(username, ()) if text in body
    ]
    return problems


@pytest.mark.parametrize("area", AREAS)
def test_each_person_opens_exactly_the_pages_they_may(app: Flask, area: str) -> None:
    module = importlib.import_module(f"tests.web.page_matrix.{area}")
    world = _seed_world(app)
    module.seed(world)
    db.session.commit()
    pages: list[Page] = module.pages(world)
    assert pages, f"the area {area} lists no pages"
    clients: dict[str | None, FlaskClient] = {None: app.test_client()}
    for username, *_ in PEOPLE:
        clients[username] = app.test_client()
        sign_in(clients[username], username)
    problems = [
        problem
        for page in pages
        for username, client in clients.items()
        for problem in _disagreements(page, username, client)
    ]
    assert not problems, "\n".join(problems)
