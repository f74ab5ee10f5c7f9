"""Locating a point: the deepest grid wins, borders are decided by code, holes are outside, the cache
follows imports."""

from __future__ import annotations

import random

import pytest
from shapely.geometry import shape

from app.extensions import db
from app.grids import index as grid_index
from app.grids.codes import level_of
from app.grids.demo import demo_territory
from app.grids.index import GridIndex, GridShape, linear_locate
from app.grids.services import import_geojson, locate
from tests.grids.shapes import WEST_BOX, box_feature, collection, district, feature, polygon, ring

GRID_1, GRID_2 = "510124001001001", "510124001001002"  # side by side in the first row of 望丛社区


def _shapes(territory):
    return [
        GridShape(code, f["properties"]["name"], level_of(code), shape(f["geometry"]))
        for f in territory["features"]
        if (code := f["properties"]["code"])
    ]


def _code(lat: float, lon: float) -> str | None:
    found = locate(lat, lon)
    return found.code if found is not None else None


def _by_code(territory):
    return {f["properties"]["code"]: f for f in territory["features"]}


@pytest.fixture(scope="module")
def demo():
    territory = demo_territory()
    shapes = _shapes(territory)
    return territory, shapes, GridIndex(shapes)


def test_inside_a_building(demo):
    territory, shapes, index = demo
    building = next(f for f in territory["features"] if f["properties"]["level"] == "building")
    point = shape(building["geometry"]).representative_point()
    assert index.locate(point.y, point.x) == building["properties"]["code"]
    assert linear_locate(shapes, point.y, point.x) == building["properties"]["code"]


def test_inside_a_compound_but_in_no_building(demo):
    territory, shapes, index = demo
    compound = next(f for f in territory["features"] if f["properties"]["level"] == "compound")
    (west, south), *_ = compound["geometry"]["coordinates"][0]
    lat, lon = south + 1e-5, west + 1e-5  # buildings keep a margin inside the compound's corner
    assert index.locate(lat, lon) == compound["properties"]["code"]
    assert linear_locate(shapes, lat, lon) == compound["properties"]["code"]


def test_on_the_border_between_two_sibling_grids(demo):
    territory, shapes, _ = demo
    grids = _by_code(territory)
    east_of_1 = max(lon for lon, _ in grids[GRID_1]["geometry"]["coordinates"][0])
    west_of_2 = min(lon for lon, _ in grids[GRID_2]["geometry"]["coordinates"][0])
    assert east_of_1 == west_of_2
    lat = max(lat for _, lat in grids[GRID_1]["geometry"]["coordinates"][0]) - 1e-5  # above the compounds
    # The smallest code wins, whatever order the grids were indexed in.
    for ordering in (shapes, shapes[::-1], random.Random(3).sample(shapes, len(shapes))):
        assert GridIndex(ordering).locate(lat, east_of_1) == GRID_1
        assert linear_locate(ordering, lat, east_of_1) == GRID_1
    assert GridIndex(shapes).locate(lat, east_of_1 + 1e-6) == GRID_2


def test_outside_everything(demo):
    _, shapes, index = demo
    assert index.locate(30.5, 103.5) is None
    assert index.locate(0, 0) is None
    assert linear_locate(shapes, 30.5, 103.5) is None
    assert GridIndex([]).locate(30.77, 103.95) is None


HOLE = (103.91, 30.72, 103.94, 30.78)


def _donut_territory(hole_in_district: bool):
    donut = polygon(
        ring(WEST_BOX if not hole_in_district else (103.90, 30.70, 104.00, 30.80)), ring(HOLE)[::-1]
    )
    if hole_in_district:
        return collection(feature("510124", "郫都区", donut))
    return collection(district(), feature("510124001", "郫筒街道", donut))


def test_a_point_in_a_hole_is_not_in_the_polygon():
    lat, lon = 30.75, 103.925  # in the hole
    shapes = _shapes(_donut_territory(hole_in_district=False))
    assert GridIndex(shapes).locate(lat, lon) == "510124"  # the parent, not the street with the hole
    assert linear_locate(shapes, lat, lon) == "510124"
    assert GridIndex(shapes).locate(30.71, 103.905) == "510124001"  # in the ring itself
    assert GridIndex(shapes).locate(HOLE[1], 103.925) == "510124001"  # on the hole's edge: a border

    shapes = _shapes(_donut_territory(hole_in_district=True))
    assert GridIndex(shapes).locate(lat, lon) is None
    assert linear_locate(shapes, lat, lon) is None


def test_a_point_in_a_hole_through_the_service(app):
    import_geojson(_donut_territory(hole_in_district=False))
    db.session.commit()
    assert _code(30.75, 103.925) == "510124"
    assert _code(30.71, 103.905) == "510124001"


def test_index_agrees_with_the_linear_scan_on_random_points(demo):
    _, shapes, index = demo
    rng = random.Random(11)
    for _ in range(500):
        lat, lon = rng.uniform(30.74, 30.81), rng.uniform(103.92, 104.01)
        assert index.locate(lat, lon) == linear_locate(shapes, lat, lon)


def test_the_index_leaves_the_callers_geometries_unprepared(demo):
    import shapely

    _, shapes, _ = demo
    assert not any(shapely.is_prepared(s.geometry) for s in shapes)


# -- through the database and the per-app cache -----------------------------------------------------------


def test_locate_through_the_service(app):
    territory = demo_territory()
    import_geojson(territory)
    db.session.commit()
    building = next(f for f in territory["features"] if f["properties"]["level"] == "building")
    point = shape(building["geometry"]).representative_point()
    found = locate(point.y, point.x)
    code = building["properties"]["code"]
    assert found is not None
    assert (found.code, found.name, found.level) == (code, building["properties"]["name"], "building")
    assert found.path == [code[:n] for n in (6, 9, 12, 15, 18, 21)]
    assert locate(30.5, 103.5) is None


def test_the_index_is_cached_and_rebuilt_after_an_import(app):
    import_geojson(collection(district()))
    db.session.commit()
    first = grid_index.current_index()
    assert grid_index.current_index() is first  # not rebuilt per call
    assert _code(30.75, 103.92) == "510124"

    import_geojson(collection(box_feature("510124001", "郫筒街道", WEST_BOX)))
    db.session.commit()
    assert grid_index.tree_version() == 2
    assert grid_index.current_index() is not first
    assert _code(30.75, 103.92) == "510124001"
    assert grid_index.current_index() is grid_index.current_index()


def test_an_import_rolled_back_never_reaches_the_cache(app):
    import_geojson(collection(district()))
    db.session.commit()
    cached = grid_index.current_index()

    import_geojson(collection(box_feature("510124001", "郫筒街道", WEST_BOX)))
    assert _code(30.75, 103.92) == "510124001"  # this transaction sees its own import ...
    db.session.rollback()
    assert grid_index.current_index() is cached  # ... and the cache never held it
    assert _code(30.75, 103.92) == "510124"

    # The next committed import takes version 2 and is seen, not mistaken for the rolled-back one.
    import_geojson(collection(box_feature("510124002", "犀浦街道", (103.95, 30.70, 104.00, 30.80))))
    db.session.commit()
    assert _code(30.75, 103.97) == "510124002"
    assert _code(30.75, 103.92) == "510124"


@pytest.mark.postgres
def test_import_and_locate_on_postgresql(make_app):
    app = make_app("postgresql")
    with app.app_context():
        territory = demo_territory()
        report = import_geojson(territory)
        db.session.commit()
        assert report.created == len(territory["features"])
        building = next(f for f in territory["features"] if f["properties"]["level"] == "building")
        point = shape(building["geometry"]).representative_point()
        assert _code(point.y, point.x) == building["properties"]["code"]
        assert locate(30.5, 103.5) is None
        again = import_geojson(territory)
        db.session.commit()
        assert again.created == 0 and again.unchanged == len(territory["features"])
        db.session.remove()
        db.engine.dispose()


def test_warm_builds_the_index_before_the_first_request(app):
    import_geojson(collection(district()))
    db.session.commit()
    assert app.extensions.get("gridcase.grid_index") is None  # nothing located yet

    grid_index.warm(app)
    warmed = app.extensions["gridcase.grid_index"].index
    assert warmed is not None and len(warmed) == 1
    assert grid_index.current_index() is warmed  # the first locate finds it built
    assert _code(30.75, 103.92) == "510124"


def test_warm_without_a_database_postpones_the_index_to_the_first_locate(app, monkeypatch, caplog):
    import_geojson(collection(district()))
    db.session.commit()

    def unreachable() -> GridIndex:
        raise OSError("connection refused")

    monkeypatch.setattr(grid_index, "build_index", unreachable)
    grid_index.warm(app)  # a worker starting while the database is away still starts
    assert "grid index not built at start-up" in caplog.text
    assert app.extensions["gridcase.grid_index"].index is None
    monkeypatch.undo()
    assert _code(30.75, 103.92) == "510124"  # built by the first locate instead
