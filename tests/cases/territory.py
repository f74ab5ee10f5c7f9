"""A small territory for dispatch tests: one district, street and community, two comprehensive grids side
by side (west, east), a compound in the east grid; plus grid members and units, written as rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.clock import now
from app.extensions import db
from app.grids.models import Grid, GridMember
from app.grids.services import import_geojson
from app.units.models import Unit, UnitGrid
from tests.grids.shapes import DISTRICT_BOX, EAST_BOX, WEST_BOX, box_feature, collection

DISTRICT = "510124"
STREET = "510124001"
COMMUNITY = "510124001001"
WEST_GRID = "510124001001001"
EAST_GRID = "510124001001002"
EAST_COMPOUND = "510124001001002001"
COMPOUND_BOX = (103.96, 30.75, 103.98, 30.77)
# (lat, lon) points
EAST_POINT = (30.7589, 103.9718)  # tests.helpers.report()'s default location: inside the east compound
EAST_OPEN_POINT = (30.79, 103.99)  # the east grid, outside its compound
WEST_POINT = (30.75, 103.92)
OUTSIDE_POINT = (31.50, 104.50)  # outside every grid


def build_territory() -> None:
    import_geojson(
        collection(
            box_feature(DISTRICT, "郫都区", DISTRICT_BOX),
            box_feature(STREET, "郫筒街道", DISTRICT_BOX),
            box_feature(COMMUNITY, "望丛社区", DISTRICT_BOX),
            box_feature(WEST_GRID, "第1网格", WEST_BOX),
            box_feature(EAST_GRID, "第2网格", EAST_BOX),
            box_feature(EAST_COMPOUND, "锦绣花园", COMPOUND_BOX),
        )
    )
    db.session.commit()


def _grid(code: str) -> Grid:
    return db.session.execute(select(Grid).where(Grid.code == code)).scalar_one()


def assign(username: str, grid_code: str) -> None:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one()
    db.session.add(GridMember(user_id=user.id, grid_id=_grid(grid_code).id, created_at=now()))
    db.session.commit()


def add_unit(code: str, kind: str, *grid_codes: str, name: str | None = None, active: bool = True) -> Any:
    """A unit serving ``grid_codes`` (the fixture users' unit ``water`` exists already: it gets the grids)."""
    unit = db.session.execute(select(Unit).where(Unit.code == code)).scalar_one_or_none()
    if unit is None:
        unit = Unit(code=code, name=name or code, kind=kind, active=active, created_at=now())
        db.session.add(unit)
        db.session.flush()
    assert unit.kind == kind
    for grid_code in grid_codes:
        db.session.add(UnitGrid(unit_id=unit.id, grid_id=_grid(grid_code).id))
    db.session.commit()
    return unit
