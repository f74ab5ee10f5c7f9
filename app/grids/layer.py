"""The territory as map layer tiles: the grids, compounds and buildings of one XYZ tile, small enough for
a phone.

The pages ask for the few tiles that cover what they show (``/geo/layer/<z>/<x>/<y>.json``), so a request
never returns more than its area holds, and each tile is cached by URL. The levels grow with the zoom (grid
outlines from far away, compounds closer, buildings closest); outlines are simplified to about a pixel of
the tile and rounded to 6 decimals (~0.1 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping, shape
from sqlalchemy import func, select

from app.extensions import db
from app.grids.models import Grid
from app.grids.scope import in_subtrees

MIN_ZOOM = 8
MAX_ZOOM = 18
COMPOUND_ZOOM = 11  # tiles from this zoom on carry compounds (a page at map zoom 13 asks zoom-11 tiles) ...
BUILDING_ZOOM = 14  # ... and from this one buildings
MAX_FEATURES = 1500
_DIGITS = 6
_PIXELS_PER_TILE = 1024  # simplification tolerance: a quarter of a screen pixel of a 256 px tile


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def valid(self) -> bool:
        return MIN_ZOOM <= self.z <= MAX_ZOOM and 0 <= self.x < 2**self.z and 0 <= self.y < 2**self.z

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees: the usual Web Mercator tile scheme."""
        n = 2**self.z

        def lat(y: int) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))

        return self.x / n * 360 - 180, lat(self.y + 1), (self.x + 1) / n * 360 - 180, lat(self.y)

    def levels(self) -> tuple[str, ...]:
        if self.z >= BUILDING_ZOOM:
            return ("grid", "compound", "building")
        if self.z >= COMPOUND_ZOOM:
            return ("grid", "compound")
        return ("grid",)


def tile_features(tile: Tile, roots: tuple[str, ...] | None) -> tuple[list[dict[str, Any]], bool]:
    """The features of ``tile`` (grids first, then compounds, then buildings) within the subtrees of
    ``roots`` (None: the whole territory), and whether MAX_FEATURES cut the list short."""
    west, south, east, north = tile.bounds()
    query = select(Grid.code, Grid.name, Grid.level, Grid.geometry).where(
        Grid.level.in_(tile.levels()),
        Grid.min_lon <= east,
        Grid.max_lon >= west,
        Grid.min_lat <= north,
        Grid.max_lat >= south,
    )
    if roots is not None:
        query = query.where(in_subtrees(Grid.code, roots))
    # The code's length is the depth: outlines before what they contain, so a cut drops buildings first.
    query = query.order_by(func.length(Grid.code), Grid.code).limit(MAX_FEATURES + 1)
    rows = db.session.execute(query).all()
    tolerance = (east - west) / _PIXELS_PER_TILE
    features = [
        {
            "type": "Feature",
            "geometry": _small(row.geometry, tolerance),
            "properties": {"code": row.code, "name": row.name, "level": row.level},
        }
        for row in rows[:MAX_FEATURES]
    ]
    return features, len(rows) > MAX_FEATURES


def _small(geometry: dict[str, Any], tolerance: float) -> dict[str, Any]:
    simplified = shape(geometry).simplify(tolerance, preserve_topology=True)
    return _rounded(mapping(simplified))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DIGITS)
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value
