"""Small hand-made territories for the grid tests: boxes near Chengdu, in GeoJSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.grids.models import Grid

# A district box, and a street filling its western half.
DISTRICT_BOX = (103.90, 30.70, 104.00, 30.80)
WEST_BOX = (103.90, 30.70, 103.95, 30.80)
EAST_BOX = (103.95, 30.70, 104.00, 30.80)


def ring(box: tuple[float, float, float, float]) -> list[list[float]]:
    west, south, east, north = box
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def feature(code: Any, name: str, geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": name, **properties}, "geometry": geometry}


def box_feature(
    code: str, name: str, box: tuple[float, float, float, float], **properties: Any
) -> dict[str, Any]:
    return feature(code, name, polygon(ring(box)), **properties)


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def district() -> dict[str, Any]:
    return box_feature("510124", "郫都区", DISTRICT_BOX)


def grid_count() -> int:
    return db.session.execute(select(func.count()).select_from(Grid)).scalar_one()


def import_events() -> int:
    return db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "grids.imported")
    ).scalar_one()
