"""The grid API: any signed-in user reads and locates; only admins import."""

from __future__ import annotations

import io
import json

import pytest
from shapely.geometry import shape

from app.grids.demo import demo_territory
from tests.grids.shapes import WEST_BOX, box_feature, collection, district, grid_count, import_events

ENDPOINTS = [
    ("GET", "/api/v1/grids"),
    ("GET", "/api/v1/grids/510124"),
    ("GET", "/api/v1/grids/locate?lat=30.77&lon=103.95"),
    ("POST", "/api/v1/grids/import"),
]


@pytest.fixture
def territory(client, auth, users):
    territory = demo_territory()
    response = client.post("/api/v1/grids/import", json=territory, headers=auth("admin"))
    assert response.status_code == 201, response.get_json()
    return territory


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_grid_endpoint_needs_a_token(client, users, method, url):
    response = client.open(url, method=method)
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_authenticated"


def test_import_as_admin_json_body(client, auth, users):
    territory = demo_territory()
    response = client.post("/api/v1/grids/import", json=territory, headers=auth("admin"))
    assert response.status_code == 201
    report = response.get_json()
    assert report["created"] == len(territory["features"]) == grid_count()
    assert report["created_by_level"]["grid"] == 16
    assert report["rejected"] == [] and report["version"] == 1


def test_import_as_admin_multipart_file(client, auth, users):
    body = json.dumps(collection(district()), ensure_ascii=False).encode("utf-8-sig")  # with a BOM
    response = client.post(
        "/api/v1/grids/import",
        data={"file": (io.BytesIO(body), "pidu.geojson")},
        headers=auth("admin"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["created"] == 1


@pytest.mark.parametrize("who", ["resident", "worker", "dispatcher", "supervisor", "designer"])
def test_only_admins_import(client, auth, users, who):
    response = client.post("/api/v1/grids/import", json=demo_territory(), headers=auth(who))
    assert response.status_code == 403
    assert grid_count() == 0


def test_a_rejected_import_is_422_with_the_list_and_writes_nothing(client, auth, users):
    bad = collection(
        district(), box_feature("510124001", "郫筒街道", WEST_BOX), box_feature("510199001", "x", WEST_BOX)
    )
    response = client.post("/api/v1/grids/import", json=bad, headers=auth("admin"))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_input"
    assert body["message"] == "1 of 3 features rejected; nothing was imported"
    assert body["details"]["rejected"] == [
        {
            "index": 2,
            "code": "510199001",
            "kind": "unknown_parent",
            "reason": "parent 510199 is neither in this file nor in the database",
        }
    ]
    assert grid_count() == 0 and import_events() == 0


def test_import_refuses_what_is_not_geojson(client, auth, users):
    headers = auth("admin")
    response = client.post("/api/v1/grids/import", data="x", headers=headers, content_type="text/plain")
    assert response.status_code == 415
    response = client.post(
        "/api/v1/grids/import", data="{nope", headers=headers, content_type="application/geo+json"
    )
    assert response.status_code == 422 and "not UTF-8 JSON" in response.get_json()["details"]["file"]
    response = client.post(
        "/api/v1/grids/import", data={}, headers=headers, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and response.get_json()["message"] == "no file uploaded"
    response = client.post("/api/v1/grids/import", json={"type": "Feature"}, headers=headers)
    assert response.status_code == 422 and response.get_json()["message"] == "not a FeatureCollection"


def test_list_children_and_levels(client, auth, territory):
    headers = auth("resident")
    response = client.get("/api/v1/grids?parent=510124001001&page_size=5", headers=headers)
    assert response.status_code == 200
    page = response.get_json()
    assert page["total"] == 8 and page["pages"] == 2 and len(page["items"]) == 5
    assert [g["code"] for g in page["items"]] == [f"510124001001{n:03d}" for n in range(1, 6)]
    first = page["items"][0]
    assert first["name"] == "第1网格" and first["level"] == "grid" and first["parent_code"] == "510124001001"
    assert "geometry" not in first and len(first["bbox"]) == 4

    response = client.get("/api/v1/grids?level=community", headers=headers)
    assert [g["name"] for g in response.get_json()["items"]] == ["望丛社区", "鹃城社区"]
    assert client.get("/api/v1/grids?level=town", headers=headers).status_code == 422
    assert client.get("/api/v1/grids?parent=12", headers=headers).status_code == 422
    assert client.get("/api/v1/grids?parent=510199", headers=headers).status_code == 404


def test_one_grid_with_geometry(client, auth, territory):
    response = client.get("/api/v1/grids/510124001002003", headers=auth("worker"))
    assert response.status_code == 200
    grid = response.get_json()
    source = next(f for f in territory["features"] if f["properties"]["code"] == "510124001002003")
    assert grid["geometry"] == source["geometry"]
    assert grid["path"] == ["510124", "510124001", "510124001002", "510124001002003"]
    assert client.get("/api/v1/grids/510124009", headers=auth("worker")).status_code == 404
    assert client.get("/api/v1/grids/abc", headers=auth("worker")).status_code == 422


def test_locate(client, auth, territory):
    building = next(f for f in territory["features"] if f["properties"]["level"] == "building")
    point = shape(building["geometry"]).representative_point()
    response = client.get(f"/api/v1/grids/locate?lat={point.y}&lon={point.x}", headers=auth("resident"))
    assert response.status_code == 200
    code = building["properties"]["code"]
    assert response.get_json() == {
        "code": code,
        "name": building["properties"]["name"],
        "level": "building",
        "path": [code[:n] for n in range(6, 22, 3)],
    }


def test_locate_outside_every_grid_is_404(client, auth, territory):
    response = client.get("/api/v1/grids/locate?lat=30.5&lon=103.5", headers=auth("resident"))
    assert response.status_code == 404
    body = response.get_json()
    assert body["message"] == "outside every grid"
    assert body["details"] == {"lat": 30.5, "lon": 103.5}


def test_locate_validates_the_point(client, auth, users):
    headers = auth("resident")
    assert client.get("/api/v1/grids/locate?lat=91&lon=103.5", headers=headers).status_code == 422
    assert client.get("/api/v1/grids/locate?lat=30.5", headers=headers).status_code == 422
