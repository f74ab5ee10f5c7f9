"""The place registry: create through the API (grid located), import CSV/JSON all or nothing (API and
command line), and read within your territory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.inspections.models import Place
from tests.cases.territory import EAST_COMPOUND, EAST_GRID, OUTSIDE_POINT, WEST_GRID
from tests.helpers import fingerprint

Auth = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")

NEW = {
    "code": "C1",
    "name": "望丛学校周边文具店",
    "place_type": "学校周边",
    "lat": 30.79,
    "lon": 103.99,
    "address": "望丛路 1 号",
    "responsible_person": "李四",
    "responsible_phone": "13800000000",
}


def test_create_locates_the_grid(client: FlaskClient, auth: Auth) -> None:
    response = client.post("/api/v1/inspections/places", json=NEW, headers=auth("supervisor"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["grid_code"], body["place_type"], body["place_type_label"]) == (
        EAST_GRID,
        "school_surroundings",
        "学校周边",
    )
    assert not body["blacklisted"]


def test_bad_places_change_nothing(client: FlaskClient, auth: Auth) -> None:
    lat, lon = OUTSIDE_POINT
    for who, body, status, field in [
        ("supervisor", {**NEW, "lat": lat, "lon": lon}, 422, "lat"),
        ("supervisor", {**NEW, "code": "R1"}, 422, "code"),
        ("supervisor", {**NEW, "place_type": "casino"}, 422, "place_type"),
        ("supervisor", {**NEW, "lat": 91}, 422, "lat"),
        ("supervisor", {k: v for k, v in NEW.items() if k != "address"}, 422, "address"),
        ("worker", NEW, 403, "role"),
    ]:
        before = fingerprint()
        response = client.post("/api/v1/inspections/places", json=body, headers=auth(who))
        assert response.status_code == status, response.get_json()
        assert field in response.get_json()["details"], response.get_json()
        assert fingerprint() == before


def test_places_are_read_within_the_territory(client: FlaskClient, auth: Auth) -> None:
    def codes(who: str, query: str = "") -> list[str]:
        response = client.get(f"/api/v1/inspections/places{query}", headers=auth(who))
        assert response.status_code == 200, response.get_json()
        return [p["code"] for p in response.get_json()["items"]]

    assert codes("worker") == ["R1", "R2"]
    assert codes("worker2") == ["G1", "S1"]
    assert codes("supervisor") == ["G1", "R1", "R2", "S1"]
    assert codes("supervisor", f"?grid={EAST_COMPOUND}") == ["R1"]
    assert codes("supervisor", "?place_type=shop") == ["S1"]
    assert codes("handler") == ["G1", "R1", "R2", "S1"]  # the water unit serves the district
    assert codes("gas1") == []
    assert client.get("/api/v1/inspections/places", headers=auth("resident")).status_code == 403


def test_api_import_is_all_or_nothing(client: FlaskClient, auth: Auth) -> None:
    rows = [
        {**NEW, "code": "N1"},
        {**NEW, "code": "N2", "lat": OUTSIDE_POINT[0], "lon": OUTSIDE_POINT[1]},
        {**NEW, "code": "N1"},
        {**NEW, "code": "N3", "place_type": "bar"},
    ]
    before = fingerprint()
    response = client.post(
        "/api/v1/inspections/places/import",
        data=json.dumps(rows),
        content_type="application/json",
        headers=auth("admin"),
    )
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert details["rejected_rows"] == 3
    assert {(r["row"], r["field"]) for r in details["rejected"]} == {
        (1, "lat"),
        (2, "code"),
        (3, "place_type"),
    }
    assert fingerprint() == before
    good = client.post(
        "/api/v1/inspections/places/import",
        data=json.dumps({"places": [{**NEW, "code": "N1"}, {**NEW, "code": "R1", "name": "川味小馆(新)"}]}),
        content_type="application/json",
        headers=auth("admin"),
    )
    assert good.status_code == 200, good.get_json()
    assert (good.get_json()["created"], good.get_json()["updated"]) == (1, 1)
    assert db.session.execute(select(Place.name).where(Place.code == "R1")).scalar_one() == "川味小馆(新)"


def test_cli_import_with_progress(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "places.csv"
    path.write_text(
        "code,name,place_type,lat,lon,address,responsible_person,responsible_phone\n"
        "W1,西区出租屋,出租屋,30.75,103.92,西街 3 号,王五,\n"
        "W2,西区工地,construction_site,30.752,103.922,西街 9 号,赵六,13900000000\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["inspections", "import-places", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 places: 2 created, 0 updated, 0 unchanged" in result.output
    again = runner.invoke(args=["inspections", "import-places", str(path)])
    assert "0 created, 0 updated, 2 unchanged" in again.output
    grids = dict(
        db.session.execute(select(Place.code, Place.grid_code).where(Place.code.in_(["W1", "W2"]))).all()
    )
    assert grids == {"W1": WEST_GRID, "W2": WEST_GRID}

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**NEW, "code": "X1"}, {"code": "X2"}]), encoding="utf-8")
    before = fingerprint()
    rejected = runner.invoke(args=["inspections", "import-places", str(bad)])
    assert rejected.exit_code == 2
    assert "rejected row 1 X2 [name]: required" in rejected.output
    assert fingerprint() == before
    listed = runner.invoke(args=["inspections", "places", "--type", "rental"])
    assert "W1" in listed.output
