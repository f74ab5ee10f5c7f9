"""``flask grids import | export | locate``, run through Flask's CLI runner."""

from __future__ import annotations

import json
import shutil

from shapely.geometry import shape

from app import create_app
from app.clock import FrozenClock
from app.extensions import db
from app.grids.demo import demo_territory
from tests.conftest import START, _settings
from tests.grids.shapes import WEST_BOX, box_feature, collection, district, grid_count


def _write(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_export_round_trip(app, tmp_path, sqlite_template):
    territory = demo_territory()
    source = _write(tmp_path / "pidu.geojson", territory)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["grids", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert f"imported {len(territory['features'])} grids (1 district, 1 street, 2 community, 16 grid" in (
        result.stdout
    )
    exported = tmp_path / "exported.geojson"
    result = runner.invoke(args=["grids", "export", "-o", str(exported)])
    assert result.exit_code == 0, result.output

    # Into a second, empty database, and out again: the same file.
    other_db = tmp_path / "other.sqlite3"
    shutil.copy(sqlite_template, other_db)
    other = create_app(_settings(f"sqlite:///{other_db}", tmp_path), clock=FrozenClock(START))
    with other.app_context():
        other_runner = other.test_cli_runner()
        result = other_runner.invoke(args=["grids", "import", str(exported)])
        assert result.exit_code == 0, result.output
        again = other_runner.invoke(args=["grids", "export"])
        assert again.exit_code == 0
        db.session.remove()
        db.engine.dispose()
    assert json.loads(again.stdout) == json.loads(exported.read_text(encoding="utf-8"))

    # And back into the first: nothing new.
    result = runner.invoke(args=["grids", "import", str(exported)])
    assert result.exit_code == 0
    assert f"imported 0 grids (none new), {len(territory['features'])} unchanged" in result.stdout


def test_export_a_subtree_to_stdout(app):
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["grids", "export"]).stdout.strip()
        == '{"type": "FeatureCollection", "features": []}'
    )
    from app.grids.services import import_geojson

    import_geojson(demo_territory())
    db.session.commit()
    result = runner.invoke(args=["grids", "export", "--root", "510124001001001"])
    codes = [f["properties"]["code"] for f in json.loads(result.stdout)["features"]]
    assert codes[0] == "510124001001001" and all(c.startswith("510124001001001") for c in codes)
    result = runner.invoke(args=["grids", "export", "--root", "510124009"])
    assert result.exit_code == 2 and "no grid with code 510124009" in result.stderr


def test_a_rejected_import_prints_each_feature_and_exits_2(app, tmp_path):
    bad = collection(
        district(),
        box_feature("510124001", "郫筒街道", WEST_BOX),
        box_feature("510124001", "又一个", WEST_BOX),
        box_feature("5101240011", "十位码", WEST_BOX),
    )
    result = app.test_cli_runner().invoke(
        args=["grids", "import", str(_write(tmp_path / "bad.geojson", bad))]
    )
    assert result.exit_code == 2
    assert "rejected feature #2 510124001 [duplicate_code]: code 510124001 appears twice" in result.stderr
    assert "rejected feature #3 5101240011 [bad_code]: code '5101240011' has 10 digits" in result.stderr
    assert "2 of 4 features rejected; nothing was imported" in result.stderr
    assert grid_count() == 0


def test_import_of_a_file_that_is_not_json(app, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_bytes(b"\xff\xfe not json")
    result = app.test_cli_runner().invoke(args=["grids", "import", str(path)])
    assert result.exit_code == 2 and "not a GeoJSON file" in result.stderr


def test_locate(app):
    from app.grids.services import import_geojson

    territory = demo_territory()
    import_geojson(territory)
    db.session.commit()
    building = next(f for f in territory["features"] if f["properties"]["level"] == "building")
    point = shape(building["geometry"]).representative_point()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["grids", "locate", str(point.y), str(point.x)])
    code = building["properties"]["code"]
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{code} {building['properties']['name']} (building)",
        "path: " + " > ".join(code[:n] for n in range(6, 22, 3)),
    ]
    result = runner.invoke(args=["grids", "locate", "30.5", "103.5"])
    assert result.exit_code == 1 and "outside every grid" in result.stderr
