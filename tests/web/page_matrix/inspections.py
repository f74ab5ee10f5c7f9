"""The inspection pages (/inspections/): the campaign list, launch page and its map data, a campaign page and
its map data (one campaign in the east grid by the water unit, one in the west grid by the gas unit), the
place list and a place page in each grid. Readers of the place registry may enter (residents, designers and
mediators get 403); a campaign or place outside one's territory (or, for a department handler, outside their
unit's campaigns and grids) answers 404."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.auth.models import User
from app.clock import now
from app.extensions import db
from app.inspections.campaigns import launch
from app.inspections.places import create_place
from tests.cases.territory import EAST_GRID, EAST_POINT, WEST_GRID, WEST_POINT, add_unit
from tests.web.page_matrix import EVERYONE, Page, World, with_roles

EAST_PLACE, WEST_PLACE = "川味小馆", "西街便民超市"
EAST_CAMPAIGN, WEST_CAMPAIGN = "东区餐饮燃气检查", "西区商铺消防检查"
READERS = EVERYONE - with_roles("resident", "designer", "mediator")
LAUNCHERS = with_roles("department_handler", "supervisor", "admin")
WEST_ONLY = {"worker_west", "leader_west"}
EAST_ONLY = {"worker", "handler"}  # the handler's water unit serves the east grid


def user_named(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _place(code: str, name: str, place_type: str, point: tuple[float, float]) -> int:
    place = create_place(
        user_named("admin"),
        {
            "code": code,
            "name": name,
            "place_type": place_type,
            "lat": point[0],
            "lon": point[1],
            "address": f"{name}门店",
            "responsible_person": "何老板",
        },
    )
    return place.id


def _campaign(title: str, unit: str, grid: str, place_type: str) -> int:
    campaign = launch(
        user_named("supervisor"),
        {
            "title": title,
            "unit_code": unit,
            "checklist": ["灭火器在有效期内"],
            "grid_codes": [grid],
            "place_types": [place_type],
            "deadline": now() + timedelta(days=7),
        },
    )
    return campaign.id


def seed(world: World) -> None:
    add_unit("gas", "gas", WEST_GRID, name="燃气公司")
    world.refs["east_place"] = _place("R1", EAST_PLACE, "restaurant", EAST_POINT)
    world.refs["west_place"] = _place("S1", WEST_PLACE, "shop", WEST_POINT)
    world.refs["east_campaign"] = _campaign(EAST_CAMPAIGN, "water", EAST_GRID, "restaurant")
    world.refs["west_campaign"] = _campaign(WEST_CAMPAIGN, "gas", WEST_GRID, "shop")
    db.session.commit()


def pages(world: World) -> list[Page]:
    east, west = world.refs["east_campaign"], world.refs["west_campaign"]
    east_place, west_place = world.refs["east_place"], world.refs["west_place"]
    return [
        Page(
            "/inspections/",
            allowed=READERS,
            shows={
                "supervisor": [EAST_CAMPAIGN, WEST_CAMPAIGN],
                "community": [EAST_CAMPAIGN, WEST_CAMPAIGN],
                "worker": [EAST_CAMPAIGN],
                "handler": [EAST_CAMPAIGN],
                "worker_west": [WEST_CAMPAIGN],
                "leader_west": [WEST_CAMPAIGN],
            },
            hides={
                "worker": [WEST_CAMPAIGN],
                "handler": [WEST_CAMPAIGN],
                "worker_west": [EAST_CAMPAIGN],
                "leader_west": [EAST_CAMPAIGN],
            },
        ),
        Page(
            "/inspections/places",
            allowed=READERS,
            shows={
                "dispatcher": [EAST_PLACE, WEST_PLACE],
                "worker": [EAST_PLACE],
                "handler": [EAST_PLACE],
                "leader_west": [WEST_PLACE],
            },
            hides={"worker": [WEST_PLACE], "handler": [WEST_PLACE], "leader_west": [EAST_PLACE]},
        ),
        Page("/inspections/campaigns/new", allowed=LAUNCHERS),
        Page("/inspections/campaigns/new/map.json", allowed=LAUNCHERS),
        Page(
            f"/inspections/campaigns/{east}",
            allowed=READERS - WEST_ONLY,
            refused={**dict.fromkeys(WEST_ONLY, 404), "*": 403},
            shows={"worker": [EAST_PLACE]},
        ),
        Page(
            f"/inspections/campaigns/{east}/map.json",
            allowed=READERS - WEST_ONLY,
            refused={**dict.fromkeys(WEST_ONLY, 404), "*": 403},
        ),
        Page(
            f"/inspections/campaigns/{west}",
            allowed=READERS - EAST_ONLY,
            refused={**dict.fromkeys(EAST_ONLY, 404), "*": 403},
            shows={"leader_west": [WEST_PLACE]},
        ),
        Page(
            f"/inspections/places/{east_place}",
            allowed=READERS - WEST_ONLY,
            refused={**dict.fromkeys(WEST_ONLY, 404), "*": 403},
        ),
        Page(
            f"/inspections/places/{west_place}",
            allowed=READERS - EAST_ONLY,
            refused={**dict.fromkeys(EAST_ONLY, 404), "*": 403},
        ),
    ]
