"""Points in the city's territory and who serves them, from the territory file itself (no database
round trip per case): a building, a compound or a street of a comprehensive grid, with the deepest grid
that contains the point, as a report there would be filed."""

from __future__ import annotations

import random
from typing import Any

from app.city.history import Place
from app.demo.people import DemoUnit
from app.demo.plans import ROADS
from app.grids.codes import path_codes

Box = tuple[float, float, float, float]


def _box(feature: dict[str, Any]) -> Box:
    ring = feature["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


def _inside(box: Box, lat: float, lon: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


class PlaceFinder:
    def __init__(self, territory: dict[str, Any]) -> None:
        self.boxes: dict[str, Box] = {}
        self.names: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        for feature in territory["features"]:
            code = feature["properties"]["code"]
            self.boxes[code] = _box(feature)
            self.names[code] = feature["properties"]["name"]
        for code in sorted(self.boxes):
            self.children.setdefault(code[:-3], []).append(code)

    def _point(self, rng: random.Random, code: str, margin: float) -> tuple[float, float]:
        west, south, east, north = self.boxes[code]
        lon = west + (east - west) * rng.uniform(margin, 1 - margin)
        lat = south + (north - south) * rng.uniform(margin, 1 - margin)
        return round(lat, 6), round(lon, 6)

    def deepest(self, grid: str, lat: float, lon: float) -> str:
        """The deepest grid under ``grid`` (itself included) whose box holds the point."""
        code = grid
        while True:
            inner = [c for c in self.children.get(code, []) if _inside(self.boxes[c], lat, lon)]
            if not inner:
                return code
            code = min(inner)  # on a shared edge the smallest code wins, as in app.grids.index

    def pick(self, rng: random.Random, grid: str) -> Place:
        community = self.names[grid[:12]]
        compounds = self.children.get(grid, [])
        roll = rng.random()
        if compounds and roll < 0.75:
            compound = rng.choice(compounds)
            buildings = self.children.get(compound, [])
            if buildings and roll < 0.45:
                building = rng.choice(buildings)
                lat, lon = self._point(rng, building, 0.15)
                where = f"{self.names[compound]}{self.names[building]}"
            else:
                lat, lon = self._point(rng, compound, 0.15)
                where = f"{self.names[compound]}{rng.choice(('北门', '南门', '东门', '西门'))}"
        else:
            lat, lon = self._point(rng, grid, 0.02)
            where = f"{rng.choice(ROADS)}{rng.randint(1, 300)}号"
        return Place(grid, self.deepest(grid, lat, lon), lat, lon, f"郫都区{community}{where}")


class UnitFinder:
    """The units of a kind serving a place: those serving any grid on the place's path."""

    def __init__(self, units: list[DemoUnit]) -> None:
        self.by_kind_and_grid: dict[tuple[str, str], list[str]] = {}
        for unit in units:
            for code in unit.grids:
                self.by_kind_and_grid.setdefault((unit.kind, code), []).append(unit.code)

    def __call__(self, place: Place, kind: str) -> list[str]:
        found: list[str] = []
        for code in path_codes(place.code):
            found += self.by_kind_and_grid.get((kind, code), [])
        return found
