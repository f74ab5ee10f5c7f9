"""The mediation pages: the dispute list, a dispute page (an east one assigned to the mediator, a west one
still at intake) and the filing form. The parties of the east dispute live in the east grid: its grid staff,
the mediator and supervisors see their names, everyone else who sees the dispute sees them masked."""

from __future__ import annotations

from app.extensions import db
from tests.cases.territory import EAST_GRID, WEST_GRID
from tests.helpers import complete
from tests.web.page_matrix import Page, World, with_roles

EAST_NAME, EAST_PHONE, EAST_MASKED = "张三丰", "13812345678", "张**"
WEST_NAME = "王五娃"
# The API's rules (app/mediation/services.py): who lists disputes, who files them.
LISTERS = with_roles(
    "resident",
    "grid_worker",
    "grid_leader",
    "community_staff",
    "dispatcher",
    "supervisor",
    "admin",
    "mediator",
    "street_coordinator",
    "district_coordinator",
)
FILERS = LISTERS - with_roles("mediator", "street_coordinator", "district_coordinator")


def _file(world: World, who: str, grid: str, name: str) -> str:
    body = {
        "dispute_type": "noise",
        "description": "楼上夜间噪音扰民,多次协商未果",
        "grid_code": grid,
        "parties": [
            {"name": name, "phone": EAST_PHONE, "address": "锦绣花园3栋1201", "role": "applicant"},
            {"name": "李四", "role": "respondent"},
        ],
    }
    response = world.client.post("/api/v1/disputes", json=body, headers=world.auth(who))
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["key"])


def seed(world: World) -> None:
    east = _file(world, "resident", EAST_GRID, EAST_NAME)
    complete(
        world.client,
        world.auth,
        "community",
        east,
        "intake",
        {
            "grade": "simple",
            "dispute_type": "noise",
            "mediator_user": "mediator",
            "override_reason": "熟悉该小区情况",
        },
    )
    west = _file(world, "resident2", WEST_GRID, WEST_NAME)
    db.session.commit()
    world.refs.update(east=east, west=west)


def pages(world: World) -> list[Page]:
    east, west = world.refs["east"], world.refs["west"]
    east_viewers = {"worker", "community", "dispatcher", "mediator", "supervisor", "admin", "resident"}
    west_viewers = {
        "worker_west",
        "leader_west",
        "community",
        "dispatcher",
        "supervisor",
        "admin",
        "resident2",
    }
    return [
        Page(
            "/mediation/",
            allowed=LISTERS,
            shows={
                "worker": [east, EAST_NAME],
                "mediator": [east, EAST_NAME],
                "supervisor": [east, west, EAST_NAME, WEST_NAME],
                "community": [east, west, EAST_MASKED],
                "dispatcher": [east, west, EAST_MASKED],
                "worker_west": [west, WEST_NAME],
                "resident": [east],
                "resident2": [west],
            },
            hides={
                "worker": [west, WEST_NAME],
                "mediator": [west],  # a mediator sees their own mediations
                "community": [EAST_NAME, WEST_NAME],
                "dispatcher": [EAST_NAME, WEST_NAME],
                "admin": [EAST_NAME, WEST_NAME],
                "worker_west": [east, EAST_NAME],
                "leader_west": [east, EAST_NAME],
                "resident": [west, EAST_NAME],  # the filer sees their dispute masked
                "resident2": [east],
            },
        ),
        Page(
            f"/mediation/{east}",
            allowed=east_viewers,
            refused={"handler": 403, "designer": 403, "*": 404},
            shows={
                "worker": [EAST_NAME, EAST_PHONE],
                "mediator": [EAST_NAME, EAST_PHONE],
                "supervisor": [EAST_NAME, EAST_PHONE],
                "community": [EAST_MASKED, "138****5678"],
            },
            hides={
                name: [EAST_NAME, EAST_PHONE] for name in ("community", "dispatcher", "admin", "resident")
            },
        ),
        Page(
            f"/mediation/{west}",
            allowed=west_viewers,
            refused={"handler": 403, "designer": 403, "*": 404},
            shows={"worker_west": [WEST_NAME], "leader_west": [WEST_NAME]},
            hides={"community": [WEST_NAME], "resident2": [WEST_NAME]},
        ),
        Page("/mediation/new", allowed=FILERS),
    ]
