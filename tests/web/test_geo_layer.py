"""The maps' territory layer (/geo/layer/<z>/<x>/<y>.json) and the picked place (/geo/place.json): levels by
zoom, whose territory each role gets, the tile's area only, small and cached responses."""

from __future__ import annotations

import json
import math
import re

import pytest

from app.auth.services import create_user
from app.extensions import db
from app.grids import layer
from app.grids.demo import DEMO_BOUNDS, demo_territory
from app.grids.services import import_geojson
from tests.cases.territory import EAST_COMPOUND, EAST_GRID, EAST_POINT, OUTSIDE_POINT, WEST_GRID, add_unit
from tests.conftest import PASSWORD
from tests.grids.shapes import box_feature, collection
from tests.helpers import report
from tests.web.pages import sign_in
from tests.web.seed import seed_people

BUILDING_1, BUILDING_2 = f"{EAST_COMPOUND}001", f"{EAST_COMPOUND}002"
BUILDINGS = {
    BUILDING_1: ("1栋", (103.970, 30.757, 103.973, 30.760)),  # holds EAST_POINT
    BUILDING_2: ("2栋", (103.976, 30.757, 103.978, 30.760)),  # east of EAST_POINT's zoom-14 tile
}
NEAR = {EAST_GRID: "grid", EAST_COMPOUND: "compound", BUILDING_1: "building"}


def add_buildings() -> None:
    import_geojson(collection(*(box_feature(code, name, box) for code, (name, box) in BUILDINGS.items())))
    db.session.commit()


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    rad = math.radians(lat)
    y = (1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def layer_url(lat: float, lon: float, z: int, query: str = "") -> str:
    return "/geo/layer/{}/{}/{}.json".format(*tile_of(lat, lon, z)) + query


def codes(response) -> dict[str, str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return {f["properties"]["code"]: f["properties"]["level"] for f in response.get_json()["features"]}


@pytest.fixture
def seeded(app):
    api, auth = seed_people(app)
    add_buildings()
    return {"api": api, "auth": auth}


def test_levels_grow_with_the_zoom_and_only_the_tile_area_is_sent(client, seeded):
    sign_in(client, "resident")
    lat, lon = EAST_POINT
    assert set(codes(client.get(layer_url(lat, lon, 10))).values()) == {"grid"}  # far: outlines only
    middle = codes(client.get(layer_url(lat, lon, 12)))
    assert middle[EAST_COMPOUND] == "compound" and set(middle.values()) == {"grid", "compound"}
    assert codes(client.get(layer_url(lat, lon, 14))) == NEAR
    z, x, y = tile_of(lat, lon, 14)
    assert codes(client.get(f"/geo/layer/{z}/{x + 1}/{y}.json")) == {
        EAST_GRID: "grid", EAST_COMPOUND: "compound", BUILDING_2: "building"
    }
    # a tile of the same zoom elsewhere holds nothing of ours
    assert codes(client.get(layer_url(*OUTSIDE_POINT, 14))) == {}
    # names and outlines, rounded to 6 decimals (about 0.1 m)
    body = client.get(layer_url(lat, lon, 14)).get_data(as_text=True)
    assert "锦绣花园" in json.loads(body)["features"][1]["properties"]["name"]
    assert not re.search(r"\d\.\d{7,}", body)


def test_each_role_gets_the_territory_it_works_in(client, seeded):
    lat, lon = EAST_POINT
    whole = layer_url(lat, lon, 10)
    sign_in(client, "worker")  # the east grid
    assert codes(client.get(whole)) == {EAST_GRID: "grid"}
    sign_in(client, "worker_west")
    assert codes(client.get(whole)) == {WEST_GRID: "grid"}
    assert codes(client.get(layer_url(lat, lon, 14))) == {}
    sign_in(client, "dispatcher")  # the district
    assert codes(client.get(whole)) == {WEST_GRID: "grid", EAST_GRID: "grid"}
    sign_in(client, "designer")  # no territory
    assert codes(client.get(whole)) == {}

    add_unit("water", "water", WEST_GRID, name="自来水公司")  # a handler of the unit: the grids it serves
    create_user("water1", PASSWORD, "department_handler", None, "water")
    db.session.commit()
    sign_in(client, "water1")
    assert codes(client.get(whole)) == {WEST_GRID: "grid"}


def test_a_visible_case_adds_its_grid_and_another_answers_404(client, seeded):
    lat, lon = EAST_POINT
    mine = report(seeded["api"], seeded["auth"], who="worker_west")["key"]  # reported in the east grid
    others = report(seeded["api"], seeded["auth"], who="resident")["key"]
    sign_in(client, "worker_west")
    with_case = codes(client.get(layer_url(lat, lon, 14, f"?case={mine}")))
    assert with_case == NEAR
    headers = {"Accept": "application/json"}
    assert client.get(layer_url(lat, lon, 14, f"?case={others}"), headers=headers).status_code == 404
    assert client.get(layer_url(lat, lon, 14, "?case=GC-2026-999999"), headers=headers).status_code == 404


def test_bad_tiles_answer_404_and_anonymous_signs_in(client, seeded):
    assert client.get(layer_url(*EAST_POINT, 14)).status_code == 302  # to the sign-in page
    sign_in(client, "resident")
    for path in ("/geo/layer/5/25/12.json", "/geo/layer/19/0/0.json", "/geo/layer/10/1024/0.json"):
        assert client.get(path, headers={"Accept": "application/json"}).status_code == 404, path


def test_a_crowded_tile_is_cut_outlines_first(client, seeded, monkeypatch):
    monkeypatch.setattr(layer, "MAX_FEATURES", 2)
    sign_in(client, "resident")
    body = client.get(layer_url(*EAST_POINT, 14)).get_json()
    assert body["truncated"] is True
    assert [f["properties"]["level"] for f in body["features"]] == ["grid", "compound"]


def test_tiles_are_cached_until_the_tree_changes(client, seeded):
    sign_in(client, "resident")
    url = layer_url(*EAST_POINT, 14)
    first = client.get(url)
    assert first.headers["Cache-Control"] == "private, max-age=300" and first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    import_geojson(collection(box_feature(f"{EAST_COMPOUND}003", "3栋", (103.962, 30.752, 103.964, 30.754))))
    db.session.commit()
    changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and f"{EAST_COMPOUND}003" in codes(changed)


def test_the_demo_district_stays_small_per_tile(client, app):
    """What a phone downloads for the demo territory: every tile of the zoom a page asks at map zoom 16
    (buildings included) and the whole district at the far zoom."""
    import_geojson(demo_territory())
    create_user("resident", PASSWORD, "resident")
    db.session.commit()
    sign_in(client, "resident")
    west, south, east, north = DEMO_BOUNDS
    _, x0, y0 = tile_of(north, west, 14)
    _, x1, y1 = tile_of(south, east, 14)
    sizes = [
        len(client.get(f"/geo/layer/14/{x}/{y}.json").get_data())
        for x in range(x0, x1 + 1)
        for y in range(y0, y1 + 1)
    ]
    far = client.get(layer_url(30.775, 103.965, 10))
    assert len(codes(far)) == 16  # the sixteen comprehensive grids
    assert len(far.get_data()) < 8_000
    assert max(sizes) < 16_000, sizes  # uncompressed; a phone's view needs 1-4 of these


def test_place_names_the_grid_compound_and_building(client, seeded):
    sign_in(client, "resident")
    lat, lon = EAST_POINT
    place = client.get(f"/geo/place.json?lat={lat}&lon={lon}").get_json()
    assert place["code"] == f"{EAST_COMPOUND}001"
    assert {level: place[level]["name"] for level in ("community", "grid", "compound", "building")} == {
        "community": "望丛社区",
        "grid": "第2网格",
        "compound": "锦绣花园",
        "building": "1栋",
    }
    headers = {"Accept": "application/json"}
    outside = client.get("/geo/place.json?lat={}&lon={}".format(*OUTSIDE_POINT), headers=headers)
    assert outside.status_code == 404 and outside.get_json()["error"] == "not_found"
    assert client.get("/geo/place.json?lat=north&lon=1", headers=headers).status_code == 422
