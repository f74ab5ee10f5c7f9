"""Grid polygons for the page maps (no tile server: the maps draw our own grids on a plain background)."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy import select

from app.extensions import db
from app.grids.codes import LEVELS
from app.grids.models import Grid
from app.web.blueprint import bp

MAX_FEATURES = 2000


def grid_feature(grid: Grid) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": grid.geometry,
        "properties": {"code": grid.code, "name": grid.name, "level": grid.level},
    }


def grid_feature_of(code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    grid = db.session.execute(select(Grid).where(Grid.code == code)).scalar_one_or_none()
    return grid_feature(grid) if grid is not None else None


@bp.route("/geo/grids.json")
@login_required
def grids_geojson() -> ResponseReturnValue:
    """The grids of one level (``?level=grid`` by default) as a GeoJSON FeatureCollection: public
    geography (names and outlines), no people."""
    level = request.args.get("level", "grid")
    if level not in LEVELS:
        abort(400, description=f"level must be one of {', '.join(LEVELS)}")
    grids = db.session.execute(
        select(Grid).where(Grid.level == level).order_by(Grid.code).limit(MAX_FEATURES)
    )
    response = jsonify({"type": "FeatureCollection", "features": [grid_feature(g) for g in grids.scalars()]})
    response.cache_control.private = True
    response.cache_control.max_age = 300
    return response
