"""Grid tree operations: import a GeoJSON FeatureCollection (all or nothing), export, locate, walk."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import shapely
from shapely import STRtree
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import Select, select

from app.audit.services import Actor, record
from app.clock import now
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.grids import index as grid_index
from app.grids.codes import LENGTH_LEVELS, LEVELS, check_code, code_problem, parent_code, path_codes
from app.grids.models import Grid
from app.imports import ImportRejected, ImportReport, RowRejection

# Float noise where siblings share a border, not an overlap: ~0.1 m² at Chengdu's latitude.
OVERLAP_AREA_EPSILON = 1e-11  # square degrees
# Digitizing noise a child may stick out of its parent by: ~0.1 m.
CONTAINMENT_TOLERANCE = 1e-6  # degrees
MAX_NAME_LENGTH = 120
OUTSIDE_EVERY_GRID = "outside every grid"
_IN_CHUNK = 500  # codes per IN (...) query: well under every database's parameter limit

Progress = Callable[[int], None]
T = TypeVar("T")


# -- reports ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection(RowRejection):
    """A rejected feature: ``row`` is its position in the file's "features" (from 0), ``field`` the kind of
    problem (invalid_feature | bad_code | invalid_geometry | duplicate_code | unknown_parent | ...). The
    report names them ``index`` and ``kind``."""

    @property
    def index(self) -> int:
        return self.row

    @property
    def kind(self) -> str:
        return self.field

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.row, "code": self.code, "kind": self.field, "reason": self.reason}


@dataclass
class GridImportReport(ImportReport):
    """``rows`` counts the features."""

    created_by_level: dict[str, int] = field(default_factory=dict)
    version: int | None = None

    @property
    def features(self) -> int:
        return self.rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
            "created_by_level": self.created_by_level,
            "rejected_features": self.rejected_rows,
            "rejected": [r.as_dict() for r in self.rejected],
            "version": self.version,
        }


class GridImportRejected(ImportRejected):
    def __init__(self, report: GridImportReport) -> None:
        super().__init__(report, "features", position="feature #{}")


# -- parsing ---------------------------------------------------------------------------------------------


@dataclass
class _Feature:
    index: int
    code: str | None = None  # None when the code itself is unusable
    raw_code: str | None = None  # what the file says, usable or not
    name: str = ""
    level: str = ""
    geometry: BaseGeometry | None = None  # None when missing or invalid
    geojson: dict[str, Any] | None = None
    rejected: bool = False
    unchanged: bool = False  # already in the database exactly like this: nothing to write

    @property
    def parent(self) -> str | None:
        return parent_code(self.code) if self.code else None


def parse_geojson_bytes(raw: bytes) -> dict[str, Any]:
    """A FeatureCollection from uploaded bytes (UTF-8, a BOM tolerated)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("not a GeoJSON file", {"file": f"not UTF-8 JSON: {exc}"}) from exc
    if not isinstance(data, dict):
        raise InvalidInput("not a GeoJSON file", {"file": "expected a FeatureCollection object"})
    return data


def _features_of(collection: Any) -> list[Any]:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidInput("not a FeatureCollection", {"type": "expected 'type': 'FeatureCollection'"})
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidInput("no features", {"features": "expected a non-empty list of Features"})
    return features


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _geometry_problem(raw: Any) -> tuple[BaseGeometry | None, str | None]:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        got = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        return None, f"geometry must be a GeoJSON Polygon or MultiPolygon, got {got!r}"
    try:
        geometry = shapely.force_2d(shape(raw))
    except Exception as exc:  # shapely raises several kinds on malformed coordinates
        return None, f"malformed {raw['type']} coordinates: {exc}"
    if geometry.is_empty:
        return None, "empty geometry"
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if not all(math.isfinite(v) for v in geometry.bounds):
        return None, "coordinates must be finite numbers"
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        return None, "coordinates must be [lon, lat] in WGS84 degrees (lon -180..180, lat -90..90)"
    if not geometry.is_valid:
        return None, f"invalid polygon: {explain_validity(geometry)}"
    if geometry.area <= 0:
        return None, "polygon has no area"
    return geometry, None


def _parse(index: int, raw: Any, rejections: list[Rejection]) -> _Feature:
    feature = _Feature(index, raw_code=_raw_code(raw))

    def reject(kind: str, reason: str) -> None:
        feature.rejected = True
        rejections.append(Rejection(index, feature.code or feature.raw_code, kind, reason))

    if not isinstance(raw, dict) or raw.get("type") != "Feature":
        reject("invalid_feature", "not a GeoJSON Feature")
        return feature
    properties = raw.get("properties")
    if not isinstance(properties, dict):
        reject("invalid_feature", "a Feature needs properties with code and name")
        return feature
    code, level = properties.get("code"), properties.get("level")
    problem = code_problem(code, level)
    if problem is not None:
        reject("bad_code", problem)
    else:
        feature.code = str(code)  # a str already: code_problem refuses anything else
        feature.level = LENGTH_LEVELS[len(feature.code)]
    name = properties.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        reject("invalid_feature", f"name must be text of 1-{MAX_NAME_LENGTH} characters, got {name!r}")
    else:
        feature.name = name.strip()
    geometry, problem = _geometry_problem(raw.get("geometry"))
    if problem is not None:
        reject("invalid_geometry", problem)
    else:
        feature.geometry = geometry
        feature.geojson = _jsonable(mapping(geometry))
    return feature


def _raw_code(raw: Any) -> str | None:
    properties = raw.get("properties") if isinstance(raw, dict) else None
    code = properties.get("code") if isinstance(properties, dict) else None
    return code if isinstance(code, str) else (str(code) if code is not None else None)


# -- checks against each other and the database ------------------------------------------------------


def _chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _grids_by_code(codes: Iterable[str]) -> dict[str, Grid]:
    wanted = sorted(set(codes))
    found: dict[str, Grid] = {}
    for chunk in _chunks(wanted):
        found.update(
            (g.code, g) for g in db.session.execute(select(Grid).where(Grid.code.in_(chunk))).scalars()
        )
    return found


def _same_geometry(a: BaseGeometry, b: BaseGeometry) -> bool:
    return bool(shapely.normalize(a).equals_exact(shapely.normalize(b), tolerance=1e-9))


def _approx_m2(area_deg2: float, lat: float) -> float:
    """Square degrees to square metres near ``lat``: good enough to tell a sliver from a real overlap."""
    metres_per_degree = 111_320.0
    return area_deg2 * metres_per_degree**2 * math.cos(math.radians(lat))


def _describe_area(area_deg2: float, geometry: BaseGeometry) -> str:
    return f"about {_approx_m2(area_deg2, geometry.centroid.y):,.0f} m²"


class _Checker:
    """Relations between features: duplicates, parents, containment, sibling overlaps."""

    def __init__(self, features: list[_Feature], rejections: list[Rejection]) -> None:
        self.features = features
        self.rejections = rejections
        self.first: dict[str, _Feature] = {}  # code → its first feature in the file
        self.db_grids: dict[str, Grid] = {}
        self.raw_codes = {f.raw_code for f in features if f.raw_code is not None}

    def reject(self, feature: _Feature, kind: str, reason: str) -> None:
        feature.rejected = True
        self.rejections.append(Rejection(feature.index, feature.code, kind, reason))

    def run(self) -> None:
        coded = [f for f in self.features if f.code is not None]
        self._duplicates_in_file(coded)
        parents = {p for f in coded if (p := f.parent) is not None}
        self.db_grids = _grids_by_code({f.code for f in coded if f.code} | parents)
        self._against_database(coded)
        self._parents(coded)
        self._overlaps()

    def _duplicates_in_file(self, coded: list[_Feature]) -> None:
        for feature in coded:
            assert feature.code is not None
            first = self.first.setdefault(feature.code, feature)
            if first is not feature:
                self.reject(
                    feature,
                    "duplicate_code",
                    f"code {feature.code} appears twice: also feature #{first.index}",
                )

    def _against_database(self, coded: list[_Feature]) -> None:
        for feature in coded:
            existing = self.db_grids.get(feature.code or "")
            if existing is None or self.first[existing.code] is not feature:
                continue
            differences = []
            if existing.name != feature.name:
                differences.append(f"name {existing.name!r}")
            if feature.geometry is None:
                continue  # rejected for its geometry already
            if not _same_geometry(shape(existing.geometry), feature.geometry):
                differences.append("geometry")
            if differences:
                self.reject(
                    feature,
                    "duplicate_code",
                    f"code {existing.code} already exists with a different {' and '.join(differences)}",
                )
            else:
                feature.unchanged = True

    def _parent_geometry(self, code: str) -> BaseGeometry | None:
        in_file = self.first.get(code)
        if in_file is not None:
            return in_file.geometry
        return shape(self.db_grids[code].geometry) if code in self.db_grids else None

    def _parents(self, coded: list[_Feature]) -> None:
        envelopes: dict[str, BaseGeometry] = {}
        for feature in coded:
            parent = feature.parent
            if parent is None or self.first.get(feature.code or "") is not feature or feature.unchanged:
                continue
            if parent not in self.first and parent not in self.db_grids:
                if parent in self.raw_codes:
                    continue  # the parent is in the file but rejected: its own rejection says why
                self.reject(
                    feature,
                    "unknown_parent",
                    f"parent {parent} is neither in this file nor in the database",
                )
                continue
            parent_geometry = self._parent_geometry(parent)
            if feature.geometry is None or parent_geometry is None:
                continue  # the geometry problem is reported on its own feature
            if parent not in envelopes:
                envelopes[parent] = parent_geometry.buffer(CONTAINMENT_TOLERANCE)
                shapely.prepare(envelopes[parent])
            if not envelopes[parent].covers(feature.geometry):
                outside = feature.geometry.difference(parent_geometry).area
                self.reject(
                    feature,
                    "outside_parent",
                    f"not inside its parent {parent}: {_describe_area(outside, feature.geometry)} outside it",
                )

    def _overlaps(self) -> None:
        """Siblings (same parent) may touch but not overlap, in the file or with the database."""
        groups: dict[str | None, list[tuple[str, BaseGeometry, _Feature | None]]] = defaultdict(list)
        for feature in self.features:
            # Unchanged features are compared as the database rows they equal.
            first = feature.code is not None and self.first[feature.code] is feature
            if first and feature.geometry is not None and not feature.unchanged:
                groups[feature.parent].append((feature.code, feature.geometry, feature))  # type: ignore[arg-type]
        for members in self._with_database_siblings(groups).values():
            self._overlaps_in_group(members)

    def _with_database_siblings(
        self, groups: dict[str | None, list[tuple[str, BaseGeometry, _Feature | None]]]
    ) -> dict[str | None, list[tuple[str, BaseGeometry, _Feature | None]]]:
        parent_ids = {g.id: g.code for code, g in self.db_grids.items() if code in groups}
        query = select(Grid.code, Grid.parent_id, Grid.geometry)
        rows: list[Any] = []
        for chunk in _chunks(sorted(parent_ids)):
            rows.extend(db.session.execute(query.where(Grid.parent_id.in_(chunk))))
        if None in groups:
            rows.extend(db.session.execute(query.where(Grid.parent_id.is_(None))))
        replaced = {code for members in groups.values() for code, _, _ in members}
        for code, parent_id, geometry in rows:
            if code in replaced:
                continue  # the file's version of this code is rejected as a duplicate already
            parent = parent_ids.get(parent_id) if parent_id is not None else None
            groups[parent].append((code, shape(geometry), None))
        return groups

    def _overlaps_in_group(self, members: list[tuple[str, BaseGeometry, _Feature | None]]) -> None:
        if len(members) < 2:
            return
        geometries = [m[1] for m in members]
        tree = STRtree(geometries)
        pairs = tree.query(geometries, predicate="intersects")
        for i, j in zip(*pairs.tolist(), strict=True):
            if i >= j:
                continue
            (code_a, geom_a, feat_a), (code_b, geom_b, feat_b) = members[i], members[j]
            if feat_a is None and feat_b is None:
                continue  # two grids already in the database: not this import's business
            area = geom_a.intersection(geom_b).area
            if area <= OVERLAP_AREA_EPSILON:
                continue  # touching borders
            # Blame the later feature of the file (or the new one, when the other is in the database).
            blamed, other, other_feature = (
                (feat_b, code_a, feat_a)
                if feat_b is not None and (feat_a is None or feat_b.index > feat_a.index)
                else (feat_a, code_b, feat_b)
            )
            assert blamed is not None and blamed.geometry is not None
            where = f"feature #{other_feature.index}" if other_feature is not None else "in the database"
            self.reject(
                blamed,
                "overlap",
                f"overlaps its sibling {other} ({where}) by {_describe_area(area, blamed.geometry)}",
            )


# -- import ----------------------------------------------------------------------------------------------


def import_geojson(
    feature_collection: dict[str, Any], actor: Actor | None = None, progress: Progress | None = None
) -> GridImportReport:
    """Check every feature, then insert all of them (parents first) or none.

    Features already stored with the same name and geometry are skipped, so importing a file twice is safe.
    Raises ``GridImportRejected`` (422) listing every rejected feature. Joins the caller's transaction."""
    raw_features = _features_of(feature_collection)
    grid_index.lock_tree()
    rejections: list[Rejection] = []
    features = []
    for position, raw in enumerate(raw_features):
        features.append(_parse(position, raw, rejections))
        if progress is not None:
            progress(1)
    checker = _Checker(features, rejections)
    checker.run()

    report = GridImportReport(rows=len(features))
    if rejections:
        report.rejected = sorted(rejections, key=lambda r: r.row)
        raise GridImportRejected(report)

    new = sorted((f for f in features if not f.unchanged), key=lambda f: (len(f.code or ""), f.code))
    report.unchanged = len(features) - len(new)
    new_codes = {f.code for f in new}
    _insert(new, {code: grid.id for code, grid in checker.db_grids.items()})
    report.created = len(new)
    report.created_by_level = {
        level: count for level in LEVELS if (count := sum(f.level == level for f in new))
    }
    if new:
        report.version = grid_index.bump_tree_version()
    record(
        "grids.imported",
        entity_type="grid_tree",
        entity_id=report.version if report.version is not None else grid_index.tree_version(),
        actor=actor,
        data={
            "features": report.features,
            "created": report.created,
            "unchanged": report.unchanged,
            "created_by_level": report.created_by_level,
            # The tops of what was added (a district, or the children hung under existing grids).
            "roots": sorted(f.code for f in new if f.code and f.parent not in new_codes)[:20],
        },
    )
    return report


def _insert(new: list[_Feature], ids: dict[str, int]) -> None:
    """Level by level, so every parent has its id before its children are written. ``ids``: code → id of
    the grids already in the database."""
    ids = dict(ids)
    created_at = now()
    for level in LEVELS:
        rows = []
        for feature in (f for f in new if f.level == level):
            assert feature.code is not None and feature.geometry is not None
            min_lon, min_lat, max_lon, max_lat = feature.geometry.bounds
            parent = feature.parent
            rows.append(
                Grid(
                    code=feature.code,
                    name=feature.name,
                    level=level,
                    parent_id=ids[parent] if parent is not None else None,
                    geometry=feature.geojson,
                    min_lon=min_lon,
                    min_lat=min_lat,
                    max_lon=max_lon,
                    max_lat=max_lat,
                    created_at=created_at,
                )
            )
        if rows:
            db.session.add_all(rows)
            db.session.flush()
            ids.update((row.code, row.id) for row in rows)


# -- reading -------------------------------------------------------------------------------------------


def get_grid(code: str) -> Grid:
    grid = db.session.execute(select(Grid).where(Grid.code == check_code(code))).scalar_one_or_none()
    if grid is None:
        raise NotFound(f"no grid with code {code}", {"code": "unknown"})
    return grid


def list_grids(parent: str | None = None, level: str | None = None) -> Select[Any]:
    """Grids by code; ``parent`` gives its direct children."""
    query = select(Grid).order_by(Grid.code)
    if parent is not None:
        query = query.where(Grid.parent_id == get_grid(parent).id)
    if level is not None:
        query = query.where(Grid.level == level)
    return query


def subtree_codes(code: str) -> list[str]:
    """``code`` and every grid below it, parents before children."""
    get_grid(code)
    # Codes nest by prefix, so the subtree is one LIKE 'code%'.
    codes = db.session.execute(select(Grid.code).where(Grid.code.startswith(code))).scalars()
    return sorted(codes, key=lambda c: (len(c), c))


def export_geojson(root_code: str | None = None) -> dict[str, Any]:
    """The tree (or the subtree under ``root_code``) as a FeatureCollection ``import_geojson`` accepts."""
    query = select(Grid)
    if root_code is not None:
        query = query.where(Grid.code.startswith(get_grid(root_code).code))
    grids = sorted(db.session.execute(query).scalars(), key=lambda g: (len(g.code), g.code))
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "level": g.level,
                    "parent_code": g.parent_code,
                },
                "geometry": g.geometry,
            }
            for g in grids
        ],
    }


@dataclass(frozen=True)
class Location:
    code: str
    name: str
    level: str
    path: list[str]  # codes from the district down to ``code``

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "level": self.level, "path": self.path}


def locate(lat: float, lon: float) -> Location | None:
    """The deepest grid containing the point, from the app's cached index; None outside every grid."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("point out of range", {"lat": "-90..90", "lon": "-180..180"})
    index = grid_index.current_index()
    code = index.locate(lat, lon)
    found = index.get(code) if code is not None else None
    if found is None:
        return None
    return Location(found.code, found.name, found.level, path_codes(found.code))
