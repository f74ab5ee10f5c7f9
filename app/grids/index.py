"""Which grid is a point in? An STRtree over every grid polygon, kept per app until the tree changes.

A point belongs to the deepest grid whose polygon covers it (its border included, a hole excluded). On a
border shared by siblings several grids cover the point equally deep; the smallest code wins, so the answer
never depends on the order rows came from the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from flask import Flask, current_app
from shapely import STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from app.counters import current_value, increment
from app.extensions import db
from app.grids.codes import depth
from app.grids.models import Grid


@dataclass(frozen=True)
class GridShape:
    code: str
    name: str
    level: str
    geometry: BaseGeometry


def shapes_from_rows(rows: Iterable[Any]) -> list[GridShape]:
    """Rows (or objects) with code, name, level and a GeoJSON ``geometry`` dict."""
    return [GridShape(r.code, r.name, r.level, shape(r.geometry)) for r in rows]


def _deepest(candidates: Iterable[GridShape]) -> str | None:
    best = min(candidates, key=lambda s: (-depth(s.level), s.code), default=None)
    return best.code if best is not None else None


class GridIndex:
    """Point lookups over a fixed set of grids. Immutable once built; safe to share between threads."""

    def __init__(self, shapes: Sequence[GridShape]) -> None:
        self._shapes = list(shapes)
        self._by_code = {s.code: s for s in self._shapes}
        # Own copies: preparing attaches GEOS state to the geometry objects, and the caller's stay untouched.
        geometries = np.array([s.geometry for s in self._shapes], dtype=object)
        self._geometries = shapely.from_wkb(shapely.to_wkb(geometries)) if len(geometries) else geometries
        shapely.prepare(self._geometries)
        self._tree = STRtree(self._geometries)
        self._rank = [(-depth(s.level), s.code) for s in self._shapes]

    def __len__(self) -> int:
        return len(self._shapes)

    def get(self, code: str) -> GridShape | None:
        return self._by_code.get(code)

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the deepest grid covering (lat, lon), or None outside every grid."""
        # The tree narrows thousands of polygons to the few whose bounding box holds the point ...
        candidates = self._tree.query(shapely.Point(lon, lat))
        if len(candidates) == 0:
            return None
        # ... and the prepared polygons answer point-in-polygon for those few.
        hits = candidates[shapely.intersects_xy(self._geometries[candidates], lon, lat)]
        if len(hits) == 0:
            return None
        best = min(hits.tolist(), key=self._rank.__getitem__)
        return self._shapes[best].code


def linear_locate(shapes: Sequence[GridShape], lat: float, lon: float) -> str | None:
    """The same answer as ``GridIndex.locate``, by testing every polygon: the baseline and the oracle."""
    point = shapely.Point(lon, lat)
    return _deepest(s for s in shapes if s.geometry.covers(point))


# -- the per-app cache ------------------------------------------------------------------------------------

VERSION_KEY = "grid-tree"  # row of key_counter: bumped by every import that changes the tree
_CACHE = "gridcase.grid_index"
_CHANGED = "gridcase.grid_tree_changed"
_IMPORT_LOCK = 0x67726964  # "grid": PostgreSQL advisory lock that serializes imports
logger = logging.getLogger(__name__)


@dataclass
class _IndexCache:
    version: int | None = None
    index: GridIndex | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def tree_version() -> int:
    """The committed version of the grid tree (0 before any import). Every process reads the same one."""
    return current_value(VERSION_KEY)


def bump_tree_version() -> int:
    """Count one more change of the tree, in the caller's transaction; caches rebuild once it commits."""
    version = increment(VERSION_KEY)
    db.session.info[_CHANGED] = True
    return version


def lock_tree() -> None:
    """Serialize imports: each validates against the tree as the previous one left it. SQLite needs nothing
    here, because every transaction there begins IMMEDIATE (one writer at a time)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK})


def build_index() -> GridIndex:
    rows = db.session.execute(select(Grid.code, Grid.name, Grid.level, Grid.geometry)).all()
    return GridIndex(shapes_from_rows(rows))


def current_index() -> GridIndex:
    """This app's index, rebuilt only when the tree version has moved (one small query per call)."""
    if db.session.info.get(_CHANGED):
        # This transaction changed the tree and may still roll back: answer from it, but cache nothing.
        return build_index()
    cache: _IndexCache = current_app.extensions.setdefault(_CACHE, _IndexCache())
    version = tree_version()  # read before the rows, so the rows are never older than the version
    with cache.lock:
        if cache.index is None or cache.version != version:
            cache.index, cache.version = build_index(), version
        return cache.index


def warm(app: Flask) -> None:
    """Build ``app``'s index now, before its first request needs it: a web worker started under load (after
    a crash, or one more added) would otherwise make its first report wait for it (a city's 7,500 grid
    polygons: 0.3 s of CPU, about a second on a busy machine). A failure here only postpones the building
    to that first request, which then reports it."""
    try:
        with app.app_context():
            current_index()
            db.session.remove()
    except Exception:  # the database may not be up yet: the first locate builds it, or fails visibly
        logger.warning("grid index not built at start-up", exc_info=True)


def _forget_change(session: Session, *_: Any) -> None:
    session.info.pop(_CHANGED, None)


event.listen(Session, "after_commit", _forget_change)
event.listen(Session, "after_rollback", _forget_change)
