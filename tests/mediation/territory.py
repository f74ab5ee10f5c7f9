"""The territory of the mediation tests: two communities of one street, their grids, and who works where."""

from __future__ import annotations

from app.extensions import db
from app.grids.services import import_geojson
from tests.grids.shapes import DISTRICT_BOX, WEST_BOX, box_feature, collection

DISTRICT = "510124"
STREET = "510124001"
COMMUNITY_A = "510124001001"  # the east half: 望丛社区
COMMUNITY_B = "510124001002"  # the west half: 鹃城社区
GRID_A1 = "510124001001001"
GRID_A2 = "510124001001002"
COMPOUND_A1 = "510124001001001001"
GRID_B1 = "510124001002001"
POINT_A1 = (30.72, 103.97)  # (lat, lon) inside GRID_A1, outside its compound

PEOPLE: dict[str, tuple[str, str | None]] = {
    # username: (role, grid assigned)
    "resident": ("resident", None),
    "worker": ("grid_worker", GRID_A1),  # the first party's grid
    "leader": ("grid_leader", GRID_A1),
    "worker_a2": ("grid_worker", GRID_A2),  # the second party's grid
    "worker_b": ("grid_worker", GRID_B1),  # another community
    "community": ("community_staff", COMMUNITY_A),
    "community_b": ("community_staff", COMMUNITY_B),
    "street": ("street_coordinator", STREET),
    "dispatcher": ("dispatcher", DISTRICT),
    "supervisor": ("supervisor", DISTRICT),
    "med1": ("mediator", COMMUNITY_A),
    "med2": ("mediator", COMMUNITY_A),
    "vol1": ("mediator", None),  # volunteer for any community
    "vol2": ("mediator", None),  # volunteer for community A only
    "med_b": ("mediator", COMMUNITY_B),
    "handler": ("department_handler", None),
    "designer": ("designer", None),
    "admin": ("admin", None),
}


def build_territory() -> None:
    import_geojson(
        collection(
            box_feature(DISTRICT, "郫都区", DISTRICT_BOX),
            box_feature(STREET, "郫筒街道", DISTRICT_BOX),
            box_feature(COMMUNITY_A, "望丛社区", (103.95, 30.70, 104.00, 30.80)),
            box_feature(COMMUNITY_B, "鹃城社区", WEST_BOX),
            box_feature(GRID_A1, "望丛第1网格", (103.95, 30.70, 104.00, 30.75)),
            box_feature(GRID_A2, "望丛第2网格", (103.95, 30.75, 104.00, 30.80)),
            box_feature(COMPOUND_A1, "杜鹃雅居", (103.98, 30.70, 104.00, 30.72)),
            box_feature(GRID_B1, "鹃城第1网格", WEST_BOX),
        )
    )
    db.session.commit()
