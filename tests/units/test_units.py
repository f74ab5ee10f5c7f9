"""Units (处置单位): who may read and change them, CRUD with audit events, bad input that changes nothing,
and the all-or-nothing import from CSV and JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.grids.demo import demo_territory
from app.grids.services import import_geojson
from app.units.models import Unit
from app.units.services import units_serving
from tests.helpers import fingerprint

STREET = "510124001"
COMMUNITY = "510124001001"
GRID = "510124001001003"
OTHER_GRID = "510124001002007"


@pytest.fixture
def territory(app: Any, users: dict[str, Any], auth: Any) -> None:
    territory = demo_territory()
    # Buildings are not needed here; leaving them out makes the import three times faster.
    territory["features"] = [f for f in territory["features"] if f["properties"]["level"] != "building"]
    import_geojson(territory)
    db.session.commit()
    for username in users:  # tokens first, so signing in does not show up in fingerprints
        auth(username)


def _create(client: Any, auth: Any, expect: int = 201, who: str = "admin", **fields: Any) -> dict[str, Any]:
    body = {"code": "sanitation-pt", "name": "郫筒街道环卫所", "kind": "sanitation", **fields}
    response = client.post("/api/v1/units", json=body, headers=auth(who))
    assert response.status_code == expect, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _actions() -> list[str]:
    return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


pytestmark = pytest.mark.usefixtures("territory")


def test_staff_read_units_residents_do_not(client, auth):
    _create(client, auth, grids=[STREET])
    for who in ("worker", "dispatcher", "handler", "supervisor", "designer", "admin"):
        assert client.get("/api/v1/units", headers=auth(who)).status_code == 200, who
        assert client.get("/api/v1/units/sanitation-pt", headers=auth(who)).status_code == 200, who
    assert client.get("/api/v1/units", headers=auth("resident")).status_code == 403
    assert client.get("/api/v1/units/sanitation-pt", headers=auth("resident")).status_code == 403


@pytest.mark.parametrize("who", ["dispatcher", "supervisor", "worker", "handler", "designer"])
def test_only_admins_change_units(client, auth, who):
    _create(client, auth, grids=[STREET])
    before = fingerprint()
    assert (
        client.post(
            "/api/v1/units", json={"code": "x1", "name": "x", "kind": "fire"}, headers=auth(who)
        ).status_code
        == 403
    )
    assert (
        client.patch("/api/v1/units/sanitation-pt", json={"name": "y"}, headers=auth(who)).status_code == 403
    )
    assert client.delete("/api/v1/units/sanitation-pt", headers=auth(who)).status_code == 403
    assert (
        client.put("/api/v1/units/sanitation-pt/grids", json={"grids": []}, headers=auth(who)).status_code
        == 403
    )
    assert fingerprint() == before


def test_create_read_update_deactivate(client, auth, create_user):
    created = _create(client, auth, phone="028-87654321", grids=[STREET])
    assert created["grid_codes"] == [STREET] and created["kind_label"] == "环卫" and created["active"]
    assert created["members"] == []
    create_user("department_handler", "sani1", unit_code="sanitation-pt")

    detail = client.get("/api/v1/units/sanitation-pt", headers=auth("dispatcher")).get_json()
    assert detail["grids"] == [{"code": STREET, "name": "郫筒街道", "level": "street"}]
    assert [(m["username"], m["role"]) for m in detail["members"]] == [("sani1", "department_handler")]

    response = client.patch("/api/v1/units/sanitation-pt", json={"name": "郫筒环卫所"}, headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["name"] == "郫筒环卫所"
    response = client.put(
        "/api/v1/units/sanitation-pt/grids", json={"grids": [GRID, OTHER_GRID]}, headers=auth("admin")
    )
    assert response.status_code == 200 and response.get_json()["grid_codes"] == [GRID, OTHER_GRID]
    response = client.delete("/api/v1/units/sanitation-pt", headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["active"] is False
    listed = client.get("/api/v1/units?active=false", headers=auth("admin")).get_json()
    assert [u["code"] for u in listed["items"]] == ["sanitation-pt"]
    response = client.patch("/api/v1/units/sanitation-pt", json={"active": True}, headers=auth("admin"))
    assert response.get_json()["active"] is True

    events = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "unit", AuditEvent.entity_id == "sanitation-pt")
        .order_by(AuditEvent.id)
    ).scalars()
    assert [(e.action, e.actor_label) for e in events] == [
        ("unit.created", "admin"),
        ("unit.updated", "admin"),
        ("unit.grids_set", "admin"),
        ("unit.deactivated", "admin"),
        ("unit.updated", "admin"),
    ]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "field", "needle"),
    [
        ("post", "/api/v1/units", {"grids": ["510124009"]}, 422, "grids", "510124009"),
        ("post", "/api/v1/units", {"kind": "bakery"}, 422, "kind", "Must be one of"),
        ("post", "/api/v1/units", {"code": "Water Co"}, 422, "code", "unit code"),
        ("post", "/api/v1/units", {"code": "water"}, 409, "code", "taken"),
        ("post", "/api/v1/units", {"name": ""}, 422, "name", "Length"),
        (
            "put",
            "/api/v1/units/water/grids",
            {"grids": [GRID, "510124001001099"]},
            422,
            "grids",
            "510124001001099",
        ),
        ("put", "/api/v1/units/water/grids", {"grids": ["123"]}, 422, "grids", "grid code"),
        ("put", "/api/v1/units/nope/grids", {"grids": []}, 404, None, None),
        ("patch", "/api/v1/units/water", {"kind": "bakery"}, 422, "kind", "Must be one of"),
        ("patch", "/api/v1/units/water", {"code": "other"}, 422, "code", "Unknown field"),
    ],
)
def test_bad_input_changes_nothing(client, auth, method, url, body, status, field, needle):
    # "water" exists already: the users fixture made it for its department handler.
    before = fingerprint()
    payload = (
        {"code": "sanitation-pt", "name": "环卫所", "kind": "sanitation", **body}
        if method == "post"
        else body
    )
    response = getattr(client, method)(url, json=payload, headers=auth("admin"))
    assert response.status_code == status, response.get_json()
    if field is not None:
        details = response.get_json()["details"]
        assert needle in json.dumps(details[field], ensure_ascii=False), details
    assert fingerprint() == before


def test_filters_and_pagination(client, auth):
    client.put("/api/v1/units/water/grids", json={"grids": ["510124"]}, headers=auth("admin"))
    _create(client, auth, code="sanitation-pt", name="郫筒街道环卫所", kind="sanitation", grids=[STREET])
    _create(client, auth, code="property-jx", name="锦绣物业", kind="property", grids=[GRID])
    _create(client, auth, code="property-dy", name="德源物业", kind="property", grids=[OTHER_GRID])

    def codes(query: str) -> list[str]:
        response = client.get(f"/api/v1/units?{query}", headers=auth("dispatcher"))
        assert response.status_code == 200, response.get_json()
        return [u["code"] for u in response.get_json()["items"]]

    assert codes("") == ["property-dy", "property-jx", "sanitation-pt", "water"]
    assert codes("kind=property") == ["property-dy", "property-jx"]
    # Serving a grid: linked to it or to a grid above it.
    assert codes(f"grid={GRID}") == ["property-jx", "sanitation-pt", "water"]
    assert codes(f"grid={GRID}001") == ["property-jx", "sanitation-pt", "water"]
    assert codes(f"grid={COMMUNITY}") == ["sanitation-pt", "water"]
    assert codes("q=物业") == ["property-dy", "property-jx"]
    page = client.get("/api/v1/units?page=2&page_size=3", headers=auth("dispatcher")).get_json()
    assert page["total"] == 4 and page["pages"] == 2 and [u["code"] for u in page["items"]] == ["water"]
    response = client.get("/api/v1/units?kind=bakery", headers=auth("dispatcher"))
    assert response.status_code == 422 and "kind" in response.get_json()["details"]
    # The deepest link first: the compound's property company before the district's water company.
    assert [u.code for u in units_serving(f"{GRID}001")] == ["property-jx", "sanitation-pt", "water"]
    assert [u.code for u in units_serving(GRID, kind="water")] == ["water"]


def test_a_users_unit_code_must_name_a_unit(client, auth):
    body = {"username": "gas1", "password": "gas-password", "role": "department_handler", "unit_code": "gas"}
    before = fingerprint()
    response = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert response.status_code == 422
    assert response.get_json()["details"] == {"unit_code": "no unit with code 'gas'"}
    assert fingerprint() == before

    _create(client, auth, code="gas", name="郫都燃气公司", kind="gas", grids=["510124"])
    response = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert response.status_code == 201, response.get_json()
    members = client.get("/api/v1/units/gas", headers=auth("admin")).get_json()["members"]
    assert [m["username"] for m in members] == ["gas1"]


# -- import ---------------------------------------------------------------------------------------

GOOD_CSV = f"""code,name,kind,phone,grids
water,郫都区自来水公司,water,028-87881234,510124
sanitation-pt,郫筒街道环卫所,sanitation,,{STREET}
property-jx,锦绣物业,property,028-1,{GRID}001;{GRID}002
"""


def _import(app: Any, tmp_path: Any, name: str, text: str) -> Any:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["units", "import", str(path)])


def test_csv_import_then_reimport_is_unchanged(app, tmp_path):
    result = _import(app, tmp_path, "units.csv", GOOD_CSV)
    assert result.exit_code == 0, result.output
    # "water" exists already (the users fixture): it is updated.
    assert "imported 3 units: 2 created, 1 updated, 0 unchanged" in result.stdout
    property_jx = db.session.execute(select(Unit).where(Unit.code == "property-jx")).scalar_one()
    assert [g.code for g in property_jx.grids] == [f"{GRID}001", f"{GRID}002"]
    assert property_jx.phone == "028-1"

    result = _import(app, tmp_path, "units.csv", GOOD_CSV.replace("锦绣物业", "锦绣物业服务公司"))
    assert result.exit_code == 0, result.output
    assert "3 units: 0 created, 1 updated, 2 unchanged" in result.stdout
    assert "units.imported" in _actions()

    listed = app.test_cli_runner().invoke(args=["units", "list", "--kind", "property"])
    assert listed.exit_code == 0 and "property-jx" in listed.stdout and "water" not in listed.stdout


def test_csv_import_is_all_or_nothing(app, tmp_path):
    bad = GOOD_CSV + "fire,,fire,,510124\nwater,重复,water,,510124\npolice,派出所,police,,510124001099\n"
    before = fingerprint()
    result = _import(app, tmp_path, "bad.csv", bad)
    assert result.exit_code == 2
    assert "3 of 6 units rejected; nothing was imported" in result.stderr
    assert "rejected row 5 fire [name]" in result.stderr
    assert "rejected row 6 water [code]: appears twice: also row 2" in result.stderr
    assert "rejected row 7 police [grids]: no grid with code 510124001099" in result.stderr
    assert fingerprint() == before


def test_json_import(app, tmp_path):
    units = [
        {"code": "fire", "name": "郫都区消防救援大队", "kind": "fire", "grids": ["510124"]},
        {"code": "police", "name": "郫筒派出所", "kind": "police", "grids": STREET},
    ]
    result = _import(app, tmp_path, "units.json", json.dumps({"units": units}, ensure_ascii=False))
    assert result.exit_code == 0, result.output
    assert {u.code for u in db.session.execute(select(Unit)).scalars()} == {"fire", "police", "water"}

    before = fingerprint()
    units.append({"code": "gas", "name": "燃气", "kind": "gas", "grids": [123]})
    result = _import(app, tmp_path, "units.json", json.dumps(units))
    assert result.exit_code == 2 and "rejected row 2 gas [grids]" in result.stderr
    assert fingerprint() == before
