"""A small territory (tests/cases/territory.py: an east and a west grid) with places to inspect, grid workers
on each grid, and the inspection process deployed; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import or_, select

from app.clock import now
from app.extensions import db
from app.inspections.models import CampaignItem, Place
from app.inspections.places import create_place
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.cases.territory import (
    DISTRICT,
    EAST_GRID,
    EAST_OPEN_POINT,
    EAST_POINT,
    WEST_GRID,
    WEST_POINT,
    add_unit,
)
from tests.factories import app_on_both_backends, staff_territory

CHECKLIST = [
    {"key": "fire_extinguisher", "title": "灭火器在有效期内"},
    {"key": "gas_alarm", "title": "燃气报警器正常"},
]
# code: (name, type, (lat, lon)); east: R1 (in the compound), R2; west: S1, G1
PLACES = {
    "R1": ("川味小馆", "restaurant", EAST_POINT),
    "R2": ("老王面馆", "restaurant", EAST_OPEN_POINT),
    "S1": ("便民小超市", "shop", WEST_POINT),
    "G1": ("张家燃气用户", "gas_user", (30.751, 103.921)),
}


app = app_on_both_backends


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any, auth: Any) -> None:
    """worker: the east grid; worker2: the west grid; the water unit serves the district; community staff and
    supervisor assigned; the places registered; everybody signed in."""
    placements = {"worker": EAST_GRID, "worker2": WEST_GRID, "supervisor": DISTRICT, "dispatcher": DISTRICT}
    staffed = staff_territory(create_user, ("community",), {"gas1": "gas"}, placements)
    add_unit("water", "water", DISTRICT)
    admin = users["admin"]
    for code, (name, place_type, (lat, lon)) in PLACES.items():
        create_place(
            admin,
            {
                "code": code,
                "name": name,
                "place_type": place_type,
                "lat": lat,
                "lon": lon,
                "address": f"{name}门店",
                "responsible_person": "负责人",
            },
        )
    db.session.commit()
    for username in [*users, *staffed]:
        auth(username)


def launch_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "燃气安全专项检查",
        "checklist": CHECKLIST,
        "grid_codes": [EAST_GRID],
        "place_types": ["restaurant"],
        "deadline": (now() + timedelta(days=7)).isoformat(),
        "rectify_days": 3,
        **overrides,
    }
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def launch(client: FlaskClient, auth: Callable[[str], dict[str, str]]) -> Callable[..., dict[str, Any]]:
    def run(who: str = "handler", expect: int = 201, **overrides: Any) -> dict[str, Any]:
        response = client.post(
            "/api/v1/inspections/campaigns", json=launch_body(**overrides), headers=auth(who)
        )
        assert response.status_code == expect, response.get_json()
        db.session.expire_all()
        return response.get_json()  # type: ignore[no-any-return]

    return run


def item_of(campaign_id: int, place_code: str) -> CampaignItem:
    db.session.expire_all()
    return db.session.execute(
        select(CampaignItem)
        .join(Place, Place.id == CampaignItem.place_id)
        .where(CampaignItem.campaign_id == campaign_id, Place.code == place_code)
    ).scalar_one()


def open_tasks(instance_id: int, element_id: str | None = None) -> list[HumanTask]:
    """The open tasks of the campaign's instance and of its places' (each place is a child instance)."""
    db.session.expire_all()
    places = select(ProcessInstance.id).where(ProcessInstance.parent_id == instance_id)
    query = select(HumanTask).where(
        or_(HumanTask.instance_id == instance_id, HumanTask.instance_id.in_(places)),
        HumanTask.status.in_(TaskStatus.OPEN),
    )
    if element_id is not None:
        query = query.where(HumanTask.element_id == element_id)
    return list(db.session.execute(query.order_by(HumanTask.id)).scalars())


def results(*failed: str, note: str = "已过期") -> dict[str, Any]:
    return {
        item["key"]: ({"result": "fail", "note": note} if item["key"] in failed else {"result": "pass"})
        for item in CHECKLIST
    }
