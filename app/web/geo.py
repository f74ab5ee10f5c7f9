"""The page maps' data: our territory as the default map layer, and where a picked point lies.

No tile server is needed: ``/geo/layer/<z>/<x>/<y>.json`` gives the grid outlines, compounds (小区) and
buildings (楼栋) with their names for one XYZ tile; a tile server (``MAP_TILE_URL``) only adds a picture
underneath (``map_settings`` hands the pages its template and coordinate system).

Whose territory: the layer shows what a person works in, like the cases they see (``app/grids/scope.py``):
grid-scoped staff their assigned subtrees, a department handler the grids their unit serves, an admin
everything. Residents report anywhere, so they get the whole territory (names and outlines, no people).
``?case=KEY`` adds the grid of a case the user may see (a case dispatched outside one's own grids still
shows its compounds); a case they may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app import runtime
from app.auth.models import User
from app.auth.roles import Role
from app.cases import services as cases
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.grids import services as grids
from app.grids.codes import LEVEL_LENGTHS, LEVELS
from app.grids.index import current_index, tree_version
from app.grids.layer import Tile, tile_features
from app.grids.models import Grid
from app.grids.scope import in_subtrees, scope_of, subtree_roots
from app.units.models import Unit, UnitGrid
from app.web.blueprint import bp

MAX_FEATURES = 2000
LAYER_MAX_AGE = 300  # seconds; the tree version in the ETag answers "changed?" after that


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


def map_settings() -> dict[str, Any]:
    """What a page map needs to draw its base layer (the template fills the map's data-* attributes)."""
    maps = runtime.settings().maps
    return {
        "tile_url": maps.tile_url or "",
        "tile_attribution": maps.tile_attribution,
        "tile_crs": maps.tile_crs,
        "tile_subdomains": maps.tile_subdomains,
        "tile_max_zoom": maps.tile_max_zoom,
    }


def territory_bounds() -> list[float] | None:
    """[west, south, east, north] of the signed-in user's territory down to the comprehensive grids (where a
    picking map opens), or None when they have none."""
    if not current_user.is_authenticated:
        return None
    roots = territory_roots(current_user._get_current_object())
    if roots == ():
        return None
    query = select(
        func.min(Grid.min_lon), func.min(Grid.min_lat), func.max(Grid.max_lon), func.max(Grid.max_lat)
    ).where(func.length(Grid.code) <= LEVEL_LENGTHS["grid"])
    if roots is not None:
        query = query.where(in_subtrees(Grid.code, roots))
    box = db.session.execute(query).one()
    return None if box[0] is None else [float(value) for value in box]


@bp.app_context_processor
def _map_context() -> dict[str, Any]:
    return {"map_settings": map_settings, "territory_bounds": territory_bounds}


@bp.route("/geo/grids.json")
@login_required
def grids_geojson() -> ResponseReturnValue:
    """The grids of one level (``?level=grid`` by default) as a GeoJSON FeatureCollection: public
    geography (names and outlines), no people."""
    level = request.args.get("level", "grid")
    if level not in LEVELS:
        abort(400, description=f"level must be one of {', '.join(LEVELS)}")
    grids_ = db.session.execute(
        select(Grid).where(Grid.level == level).order_by(Grid.code).limit(MAX_FEATURES)
    )
    response = jsonify({"type": "FeatureCollection", "features": [grid_feature(g) for g in grids_.scalars()]})
    response.cache_control.private = True
    response.cache_control.max_age = 300
    return response


# -- the territory layer --------------------------------------------------------------------------------


def territory_roots(user: User) -> tuple[str, ...] | None:
    """The subtrees of the territory ``user`` sees on the maps; None: all of it."""
    if user.role in (Role.ADMIN, Role.RESIDENT):
        return None
    if user.role == Role.DEPARTMENT_HANDLER:
        if not user.unit_code:
            return ()
        served = db.session.execute(
            select(Grid.code)
            .join(UnitGrid, UnitGrid.grid_id == Grid.id)
            .join(Unit, Unit.id == UnitGrid.unit_id)
            .where(Unit.code == user.unit_code)
        ).scalars()
        return subtree_roots(list(served))
    scope = scope_of(user)  # grid-scoped roles: the subtrees of their assigned grids
    return None if scope.everything else scope.grid_codes


def _with_case_grid(user: User, roots: tuple[str, ...] | None, key: str | None) -> tuple[str, ...] | None:
    if roots is None or not key:
        return roots
    case = cases.get_case(user, key)  # NotFound for a case the user may not see
    if not case.grid_code:
        return roots
    # The comprehensive grid around the case (a case may be located in a compound or building).
    return subtree_roots([*roots, case.grid_code[: LEVEL_LENGTHS["grid"]]])


@bp.route("/geo/layer/<int:z>/<int:x>/<int:y>.json")
@login_required
def territory_layer(z: int, x: int, y: int) -> ResponseReturnValue:
    """One XYZ tile of the territory as GeoJSON: grid outlines, compounds and buildings with names."""
    tile = Tile(z, x, y)
    if not tile.valid():
        raise NotFound(f"no layer tile {z}/{x}/{y}", {"z": "8..18, x and y inside the zoom's tile range"})
    user: User = current_user._get_current_object()
    roots = _with_case_grid(user, territory_roots(user), request.args.get("case"))
    etag = _layer_etag(tile, roots)
    if etag in request.if_none_match:
        response = current_app.response_class(status=304)
    else:
        features, truncated = tile_features(tile, roots) if roots != () else ([], False)
        body: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        if truncated:
            body["truncated"] = True
        response = jsonify(body)
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.max_age = LAYER_MAX_AGE
    return response


def _layer_etag(tile: Tile, roots: tuple[str, ...] | None) -> str:
    """Changes when the tree changes (every import bumps its version) or the user's territory does."""
    scope = "*" if roots is None else ",".join(roots)
    raw = f"{tree_version()}|{tile.z}/{tile.x}/{tile.y}|{scope}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


# -- where a picked point lies ----------------------------------------------------------------------------


@bp.route("/geo/place.json")
@login_required
def place_of_point() -> ResponseReturnValue:
    """The grid, compound and building at ``?lat=&lon=`` (WGS-84) with their names, for the report form's
    "已定位：第1网格 · 锦绣花园"; 404 outside every grid. Any signed-in user, like ``/api/v1/grids/locate``:
    names of places, nothing about cases or people."""
    try:
        lat, lon = float(request.args["lat"]), float(request.args["lon"])
    except (KeyError, ValueError) as exc:
        raise InvalidInput("lat and lon must be numbers", {"lat": "number", "lon": "number"}) from exc
    found = grids.locate(lat, lon)
    if found is None:
        raise NotFound(grids.OUTSIDE_EVERY_GRID, {"lat": lat, "lon": lon})
    index = current_index()
    place: dict[str, Any] = {"code": found.code}
    for code in found.path:
        shape = index.get(code)
        if shape is not None:
            place[shape.level] = {"code": shape.code, "name": shape.name}
    return jsonify(place)
