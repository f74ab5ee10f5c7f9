"""People on grids: assigning users to grids (API and CLI), which role goes to which level, and who may see a
grid's members."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.grids.demo import demo_territory
from app.grids.services import import_geojson
from tests.helpers import fingerprint

DISTRICT = "510124"
STREET = "510124001"
COMMUNITY = "510124001001"
GRID = "510124001001003"
COMPOUND = "510124001001003001"
OTHER_GRID = "510124001002007"


@pytest.fixture
def territory(app: Any, users: dict[str, Any], create_user: Any, auth: Any) -> None:
    territory = demo_territory()
    # Buildings are not needed here; leaving them out makes the import three times faster.
    territory["features"] = [f for f in territory["features"] if f["properties"]["level"] != "building"]
    import_geojson(territory)
    db.session.commit()
    for role in ("community_staff", "street_coordinator", "district_coordinator", "grid_leader"):
        create_user(role, role)
    for username in (*users, "community_staff"):
        auth(username)


pytestmark = pytest.mark.usefixtures("territory")


def _put(client: Any, auth: Any, username: str, grids: list[str], who: str = "admin") -> Any:
    return client.put(f"/api/v1/users/{username}/grids", json={"grids": grids}, headers=auth(who))


def test_admin_assigns_and_replaces(client, auth):
    response = _put(client, auth, "worker", [GRID, COMPOUND])
    assert response.status_code == 200, response.get_json()
    assert [g["code"] for g in response.get_json()["grids"]] == [GRID, COMPOUND]
    response = _put(client, auth, "worker", [OTHER_GRID])
    assert [g["code"] for g in response.get_json()["grids"]] == [OTHER_GRID]
    body = client.get("/api/v1/users/worker/grids", headers=auth("admin")).get_json()
    assert body == {
        "username": "worker",
        "role": "grid_worker",
        "grids": [{"code": OTHER_GRID, "name": "第7网格", "level": "grid"}],
    }
    # Everyone reads their own grids; only admins read other people's.
    assert client.get("/api/v1/users/worker/grids", headers=auth("worker")).status_code == 200
    assert client.get("/api/v1/users/worker/grids", headers=auth("worker2")).status_code == 403
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "user.grids_set").order_by(AuditEvent.id)
    ).scalars()
    assert [(e.entity_id, e.before, e.after, e.actor_label) for e in events] == [
        ("worker", {"grids": []}, {"grids": [GRID, COMPOUND]}, "admin"),
        ("worker", {"grids": [GRID, COMPOUND]}, {"grids": [OTHER_GRID]}, "admin"),
    ]
    assert _put(client, auth, "worker", []).get_json()["grids"] == []


@pytest.mark.parametrize(
    ("username", "grids"),
    [
        ("worker", [GRID]),
        ("worker", [COMPOUND]),
        ("grid_leader", [GRID, OTHER_GRID]),
        ("community_staff", [COMMUNITY]),
        ("street_coordinator", [STREET]),
        ("district_coordinator", [DISTRICT]),
        ("supervisor", [STREET]),
        ("dispatcher", [DISTRICT]),
    ],
)
def test_each_role_goes_to_its_levels(client, auth, username, grids):
    assert _put(client, auth, username, grids).status_code == 200


@pytest.mark.parametrize(
    ("username", "grids", "status", "needle"),
    [
        ("worker", [COMMUNITY], 422, "510124001001 is a community; a grid_worker may be assigned to a grid"),
        ("grid_leader", [STREET], 422, "is a street"),
        ("community_staff", [GRID], 422, "a community_staff may be assigned to a community (社区) only"),
        ("street_coordinator", [COMMUNITY], 422, "a street_coordinator may be assigned to a street"),
        ("district_coordinator", [GRID], 422, "district (区县) or street (街道)"),
        ("dispatcher", [COMPOUND], 422, "is a compound"),
        ("resident", [GRID], 422, "resident is a resident; grids are for"),
        ("handler", [DISTRICT], 422, "department_handler"),
        ("worker", [GRID, "510124001001099"], 422, "no grid with code 510124001001099"),
        ("worker", ["51012400100"], 422, "has 11 digits"),
        ("nobody", [GRID], 404, None),
    ],
)
def test_bad_assignments_change_nothing(client, auth, username, grids, status, needle):
    _put(client, auth, "worker", [OTHER_GRID])
    before = fingerprint()
    response = _put(client, auth, username, grids)
    assert response.status_code == status, response.get_json()
    if needle is not None:
        assert needle in response.get_json()["details"]["grids"]
    assert fingerprint() == before


def test_only_admins_assign(client, auth):
    before = fingerprint()
    for who in ("dispatcher", "supervisor", "worker", "community_staff"):
        assert _put(client, auth, "worker", [GRID], who=who).status_code == 403
    assert fingerprint() == before


def test_grid_members_for_those_who_see_the_grid(client, auth):
    _put(client, auth, "worker", [GRID])
    _put(client, auth, "worker2", [COMPOUND])
    _put(client, auth, "community_staff", [COMMUNITY])

    def members(who: str, code: str, query: str = "") -> Any:
        return client.get(f"/api/v1/grids/{code}/members{query}", headers=auth(who))

    body = members("admin", GRID).get_json()
    assert [(m["username"], m["role"], m["grid_code"]) for m in body] == [("worker", "grid_worker", GRID)]
    body = members("community_staff", GRID, "?subtree=true").get_json()
    assert [(m["username"], m["grid_code"]) for m in body] == [("worker", GRID), ("worker2", COMPOUND)]
    assert [m["username"] for m in members("community_staff", COMMUNITY).get_json()] == ["community_staff"]
    assert members("worker", GRID).status_code == 200
    assert members("worker", COMPOUND).status_code == 200
    # Outside one's own subtree: refused; above it too.
    assert members("worker", OTHER_GRID).status_code == 403
    assert members("worker", COMMUNITY).status_code == 403
    assert members("worker2", GRID).status_code == 403
    assert members("dispatcher", GRID).status_code == 403  # not assigned anywhere
    assert members("admin", "510124001001099").status_code == 404


def test_cli_assign_grid(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "assign-grid", "worker", GRID])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "assign-grid", "worker", COMPOUND])
    assert result.exit_code == 0, result.output
    assert f"worker (grid_worker): {GRID} 第3网格, {COMPOUND}" in result.stdout
    result = runner.invoke(args=["users", "assign-grid", "--replace", "worker", OTHER_GRID])
    assert result.stdout.strip() == f"worker (grid_worker): {OTHER_GRID} 第7网格"

    before = fingerprint()
    result = runner.invoke(args=["users", "assign-grid", "worker", STREET])
    assert result.exit_code == 2 and "510124001 is a street" in result.stderr
    result = runner.invoke(args=["users", "assign-grid", "nobody", GRID])
    assert result.exit_code == 2 and "no user 'nobody'" in result.stderr
    assert fingerprint() == before
