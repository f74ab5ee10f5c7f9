"""The command centre: the emergency list, the plan library, launching a plan, and one live board per
emergency with its polling endpoint. An emergency in the east grid and one in the west grid; a plan whose
responder is the water unit (the matrix's only unit)."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.emergency.plans import create_plan
from app.emergency.services import launch_plan
from app.extensions import db
from tests.cases.territory import EAST_POINT, WEST_GRID, WEST_POINT, add_unit
from tests.web.page_matrix import Page, World, with_roles

EAST_TITLE, WEST_TITLE = "东区燃气泄漏", "西区积水倒灌"
PLAN_NAME = "供水管爆裂"
# the supervision pages' roles (app/web/command/access.py)
COMMANDING = with_roles(
    "supervisor",
    "dispatcher",
    "community_staff",
    "street_coordinator",
    "district_coordinator",
    "grid_leader",
    "admin",
)
LAUNCHING = with_roles("supervisor", "dispatcher", "admin")  # app.emergency.services.LAUNCHERS


def seed(world: World) -> None:
    add_unit("water", "water", WEST_GRID)
    dispatcher = db.session.execute(select(User).where(User.username == "dispatcher")).scalar_one()
    create_plan(
        None,
        {
            "code": "water_main_burst",
            "name": PLAN_NAME,
            "name_en": "Water main burst",
            "responders": [{"unit_code": "water", "limit": "15m", "label": "关阀抢修"}],
            "checklist": ["关闭上游阀门"],
        },
    )
    keys = {}
    for side, title, (lat, lon) in (("east", EAST_TITLE, EAST_POINT), ("west", WEST_TITLE, WEST_POINT)):
        fields = {"plan_code": "water_main_burst", "title": title, "lat": lat, "lon": lon}
        keys[side] = launch_plan(dispatcher, fields).case.key
    db.session.commit()
    world.refs.update(keys)


def pages(world: World) -> list[Page]:
    east, west = world.refs["east"], world.refs["west"]
    lists = {
        "shows": {
            "supervisor": [EAST_TITLE, WEST_TITLE],
            "community": [EAST_TITLE, WEST_TITLE],
            "leader_west": [WEST_TITLE],
        },
        "hides": {"leader_west": [EAST_TITLE, east]},
    }
    east_only = {"allowed": COMMANDING - {"leader_west"}, "refused": {"leader_west": 404, "*": 403}}
    return [
        Page("/command/", allowed=COMMANDING, **lists),
        Page("/command/?show=all", allowed=COMMANDING, **lists),
        Page(
            "/command/plans",
            allowed=COMMANDING,
            shows={"supervisor": [PLAN_NAME], "leader_west": [PLAN_NAME]},
        ),
        Page("/command/plans/water_main_burst/launch", allowed=LAUNCHING),
        Page(
            "/command/plans/no_such_plan/launch",
            allowed=(),
            refused={u: 404 for u in COMMANDING} | {"*": 403},
        ),
        Page(f"/command/emergencies/{east}", **east_only),
        Page(f"/command/emergencies/{east}/live", **east_only),
        Page(f"/command/emergencies/{west}", allowed=COMMANDING, shows={"leader_west": [WEST_TITLE]}),
        Page(f"/command/emergencies/{west}/live", allowed=COMMANDING),
    ]
