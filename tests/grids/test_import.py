"""Importing GeoJSON: the demo territory goes in whole; any rejected feature keeps everything out."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.grids import index as grid_index
from app.grids.demo import demo_territory
from app.grids.models import Grid
from app.grids.services import GridImportRejected, export_geojson, import_geojson, subtree_codes
from tests.grids.shapes import (
    EAST_BOX,
    WEST_BOX,
    box_feature,
    collection,
    district,
    feature,
    grid_count,
    import_events,
    polygon,
    ring,
)

DEMO_COUNTS = {"district": 1, "street": 1, "community": 2, "grid": 16}


def test_demo_territory_is_reproducible_and_shaped_as_promised():
    territory = demo_territory()
    assert territory == demo_territory(seed=7)
    assert territory != demo_territory(seed=8)
    levels = Counter(f["properties"]["level"] for f in territory["features"])
    assert {level: levels[level] for level in DEMO_COUNTS} == DEMO_COUNTS
    assert 16 * 2 <= levels["compound"] <= 16 * 3
    assert levels["compound"] * 3 <= levels["building"] <= levels["compound"] * 6
    names = {f["properties"]["code"]: f["properties"]["name"] for f in territory["features"]}
    assert names["510124"] == "郫都区" and names["510124001"] == "郫筒街道"
    assert names["510124001001"] == "望丛社区" and names["510124001001003"] == "第3网格"
    for f in territory["features"]:
        for lon, lat in f["geometry"]["coordinates"][0]:
            assert 103.93 <= lon <= 104.00 and 30.75 <= lat <= 30.80


def test_demo_territory_imports_whole(app, users):
    territory = demo_territory()
    report = import_geojson(territory, actor=users["admin"])
    db.session.commit()

    levels = Counter(f["properties"]["level"] for f in territory["features"])
    assert report.created == len(territory["features"]) == grid_count()
    assert report.created_by_level == dict(levels)
    assert report.unchanged == 0 and report.rejected == [] and report.version == 1
    stored = Counter(db.session.execute(select(Grid.level)).scalars())
    assert stored == levels

    # Parents are linked, bounding boxes stored.
    grid = db.session.execute(select(Grid).where(Grid.code == "510124001001003")).scalar_one()
    assert grid.parent is not None and grid.parent.code == "510124001001"
    assert grid.min_lon < grid.max_lon and grid.min_lat < grid.max_lat

    events = list(
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "grids.imported")).scalars()
    )
    assert len(events) == 1
    assert events[0].actor_label == "admin"
    assert events[0].data == {
        "features": report.features,
        "created": report.created,
        "unchanged": 0,
        "created_by_level": dict(levels),
        "roots": ["510124"],
    }


def test_importing_the_same_file_again_changes_nothing(app):
    territory = demo_territory()
    import_geojson(territory)
    db.session.commit()
    again = import_geojson(territory)
    db.session.commit()
    assert again.created == 0 and again.unchanged == len(territory["features"])
    assert again.version is None and grid_index.tree_version() == 1


def test_children_can_be_added_under_grids_already_stored(app):
    import_geojson(collection(district()))
    db.session.commit()
    report = import_geojson(collection(box_feature("510124001", "郫筒街道", WEST_BOX)))
    db.session.commit()
    assert report.created == 1 and grid_count() == 2
    assert subtree_codes("510124") == ["510124", "510124001"]


def test_touching_siblings_are_fine(app):
    report = import_geojson(
        collection(
            district(),
            box_feature("510124001", "郫筒街道", WEST_BOX),
            box_feature("510124002", "犀浦街道", EAST_BOX),
        )
    )
    assert report.created == 3


def test_export_gives_back_what_was_imported(app):
    territory = demo_territory()
    import_geojson(territory)
    db.session.commit()
    exported = export_geojson()
    assert [f["properties"]["code"] for f in exported["features"]] == sorted(
        (f["properties"]["code"] for f in territory["features"]), key=lambda c: (len(c), c)
    )
    original = {f["properties"]["code"]: f for f in territory["features"]}
    for f in exported["features"]:
        source = original[f["properties"]["code"]]
        assert f["geometry"] == source["geometry"]
        assert f["properties"]["name"] == source["properties"]["name"]
    community = export_geojson("510124001002")
    assert {f["properties"]["code"][:12] for f in community["features"]} == {"510124001002"}
    assert len(community["features"]) == len(subtree_codes("510124001002"))


# -- rejections: one kind each, and always nothing written --------------------------------------------


BOW_TIE = polygon([[103.91, 30.71], [103.94, 30.74], [103.94, 30.71], [103.91, 30.74], [103.91, 30.71]])


def _rejected(app, features):
    """Import, expect a rejection, and prove nothing was written."""
    with pytest.raises(GridImportRejected) as caught:
        import_geojson(collection(*features))
    db.session.rollback()
    assert grid_count() == 0
    assert import_events() == 0
    assert grid_index.tree_version() == 0
    return caught.value


def _only(error, kind):
    rejected = error.details["rejected"]
    assert [r["kind"] for r in rejected] == [kind], rejected
    return rejected[0]


def test_self_intersecting_bow_tie(app):
    error = _rejected(app, [district(), feature("510124001", "郫筒街道", BOW_TIE)])
    rejection = _only(error, "invalid_geometry")
    assert rejection["index"] == 1 and rejection["code"] == "510124001"
    assert "Self-intersection" in rejection["reason"]
    assert error.status == 422
    assert error.message == "1 of 2 features rejected; nothing was imported"


def test_unknown_parent(app):
    error = _rejected(app, [district(), box_feature("510125001", "别的街道", WEST_BOX)])
    rejection = _only(error, "unknown_parent")
    assert rejection["code"] == "510125001"
    assert rejection["reason"] == "parent 510125 is neither in this file nor in the database"


def test_duplicate_code_in_the_file(app):
    error = _rejected(
        app,
        [
            district(),
            box_feature("510124001", "郫筒街道", WEST_BOX),
            box_feature("510124001", "又一个", EAST_BOX),
        ],
    )
    rejection = _only(error, "duplicate_code")
    assert rejection["index"] == 2
    assert rejection["reason"] == "code 510124001 appears twice: also feature #1"


def test_duplicate_code_already_stored_with_different_data(app):
    import_geojson(collection(district(), box_feature("510124001", "郫筒街道", WEST_BOX)))
    db.session.commit()
    with pytest.raises(GridImportRejected) as caught:
        import_geojson(collection(box_feature("510124001", "犀浦街道", EAST_BOX)))
    db.session.rollback()
    rejection = _only(caught.value, "duplicate_code")
    assert "already exists with a different name '郫筒街道' and geometry" in rejection["reason"]
    assert grid_count() == 2
    assert import_events() == 1


def test_overlapping_siblings(app):
    error = _rejected(
        app,
        [
            district(),
            box_feature("510124001", "郫筒街道", WEST_BOX),
            box_feature("510124002", "犀浦街道", (103.94, 30.70, 104.00, 30.80)),
        ],
    )
    rejection = _only(error, "overlap")
    assert rejection["index"] == 2 and rejection["code"] == "510124002"
    assert "overlaps its sibling 510124001 (feature #1) by about" in rejection["reason"]


def test_overlap_with_a_sibling_already_stored(app):
    import_geojson(collection(district(), box_feature("510124001", "郫筒街道", WEST_BOX)))
    db.session.commit()
    with pytest.raises(GridImportRejected) as caught:
        import_geojson(collection(box_feature("510124002", "犀浦街道", (103.94, 30.70, 104.00, 30.80))))
    db.session.rollback()
    assert "overlaps its sibling 510124001 (in the database)" in _only(caught.value, "overlap")["reason"]
    assert grid_count() == 2


def test_child_outside_its_parent(app):
    error = _rejected(app, [district(), box_feature("510124001", "郫筒街道", (103.95, 30.75, 104.05, 30.80))])
    rejection = _only(error, "outside_parent")
    assert rejection["reason"].startswith("not inside its parent 510124: about ")
    assert rejection["reason"].endswith(" m² outside it")


def test_a_child_may_stick_out_by_less_than_the_tolerance(app):
    nudged = (WEST_BOX[0] - 5e-7, WEST_BOX[1], WEST_BOX[2], WEST_BOX[3])
    assert import_geojson(collection(district(), box_feature("510124001", "郫筒街道", nudged))).created == 2


@pytest.mark.parametrize(
    ("code", "level", "fragment"),
    [
        ("5101240011", None, "has 10 digits"),
        ("510124001", "community", "which is a street; a community code has 12 digits"),
    ],
)
def test_wrong_code_length_or_level(app, code, level, fragment):
    extra = {"level": level} if level else {}
    error = _rejected(app, [district(), box_feature(code, "郫筒街道", WEST_BOX, **extra)])
    rejection = _only(error, "bad_code")
    assert rejection["index"] == 1 and fragment in rejection["reason"]


def test_every_rejected_feature_is_listed_and_one_bad_feature_keeps_the_rest_out(app):
    territory = demo_territory()
    features = territory["features"]
    features.append(feature("510124001001001009", "歪楼", BOW_TIE))
    features.append(box_feature("510199001", "无主街道", WEST_BOX))
    features.append({"type": "Feature", "properties": {"code": "510124001003"}, "geometry": None})
    features.append("not a feature")
    error = _rejected(app, features)
    n = len(territory["features"])
    kinds = [(r["index"], r["kind"]) for r in error.details["rejected"]]
    assert kinds == [
        (n - 4, "invalid_geometry"),
        (n - 3, "unknown_parent"),
        (n - 2, "invalid_feature"),  # no name
        (n - 2, "invalid_geometry"),  # no geometry
        (n - 1, "invalid_feature"),
    ]
    assert error.details["rejected_features"] == 4
    assert error.details["features"] == n


def test_not_a_feature_collection(app):
    from app.errors import InvalidInput

    bad: list[Any] = [{"type": "Feature"}, {"type": "FeatureCollection", "features": []}, []]
    for collection_ in bad:
        with pytest.raises(InvalidInput):
            import_geojson(collection_)


def test_polygon_with_a_hole_imports(app):
    donut = polygon(ring(WEST_BOX), ring((103.91, 30.72, 103.94, 30.78))[::-1])
    assert import_geojson(collection(district(), feature("510124001", "郫筒街道", donut))).created == 2


def test_children_of_a_rejected_parent_are_not_blamed_for_it(app):
    error = _rejected(
        app,
        [
            district(),
            box_feature("510124001", "郫筒街道", WEST_BOX, level="community"),  # wrong level
            box_feature("510124001001", "望丛社区", (103.90, 30.70, 103.92, 30.72)),
        ],
    )
    assert _only(error, "bad_code")["code"] == "510124001"
