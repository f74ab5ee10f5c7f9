"""A reproducible demo territory in Pidu district (郫都区): rectangles nested from district to building.

Siblings share borders exactly (the same edge coordinates on both sides), children keep a margin inside
their parent, so the result passes every import check. The same seed always gives the same file.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

Bounds = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat

DISTRICT_CODE, DISTRICT_NAME = "510124", "郫都区"
STREET_CODE, STREET_NAME = "510124001", "郫筒街道"
DEMO_BOUNDS: Bounds = (103.93, 30.75, 104.00, 30.80)
COMMUNITY_NAMES = (
    "望丛社区",
    "鹃城社区",
    "太平社区",
    "书院社区",
    "东街社区",
    "西街社区",
    "北街社区",
    "南大街社区",
)
_COMPOUND_FIRST = (
    "锦绣",
    "望丛",
    "蜀都",
    "鹃城",
    "金府",
    "紫荆",
    "银杏",
    "翡翠",
    "春江",
    "丽景",
    "杜鹃",
    "德源",
)
_COMPOUND_LAST = ("花园", "苑", "小区", "家园", "新居", "雅居", "名城", "华庭")
_PHASES = "二三四五六七八九"
_DIGITS = 6  # ~0.1 m: plenty for a demo, and short files


def demo_territory(
    seed: int = 7,
    *,
    communities: int = 2,
    grid_cols: int = 2,
    grid_rows: int = 4,
    bounds: Bounds = DEMO_BOUNDS,
) -> dict[str, Any]:
    """District 510124 郫都区 → street 郫筒街道 → ``communities`` communities → ``grid_cols`` × ``grid_rows``
    comprehensive grids each → 2-3 compounds per grid → 3-6 buildings per compound, as a FeatureCollection.

    The defaults give the demo: 2 communities × 8 grids around lat 30.75-30.80, lon 103.93-104.00."""
    rng = random.Random(seed)
    features = [_feature(DISTRICT_CODE, DISTRICT_NAME, "district", bounds)]
    features.append(_feature(STREET_CODE, STREET_NAME, "street", bounds))
    compound_names = _compound_names(rng)
    for c, community_box in enumerate(_split(bounds, _layout(communities), communities), start=1):
        community_code = f"{STREET_CODE}{c:03d}"
        community_name = COMMUNITY_NAMES[c - 1] if c <= len(COMMUNITY_NAMES) else f"第{c}社区"
        features.append(_feature(community_code, community_name, "community", community_box))
        cells = _split(community_box, (grid_cols, grid_rows), grid_cols * grid_rows)
        for g, grid_box in enumerate(cells, start=1):
            grid_code = f"{community_code}{g:03d}"
            features.append(_feature(grid_code, f"第{g}网格", "grid", grid_box))
            features.extend(_compounds(rng, grid_code, grid_box, compound_names))
    return {"type": "FeatureCollection", "features": features}


def _compounds(
    rng: random.Random, grid_code: str, grid_box: Bounds, names: Iterator[str]
) -> list[dict[str, Any]]:
    features = []
    strips = _split(grid_box, (rng.choice((2, 3)), 1), None)
    for k, strip in enumerate(strips, start=1):
        compound_code = f"{grid_code}{k:03d}"
        compound_box = _inset(rng, strip, 0.08, 0.2)
        features.append(_feature(compound_code, next(names), "compound", compound_box))
        count = rng.randint(3, 6)
        cols = count if count <= 3 else math.ceil(count / 2)
        cells = _split(compound_box, (cols, math.ceil(count / cols)), count)
        for b, cell in enumerate(cells, start=1):
            features.append(
                _feature(f"{compound_code}{b:03d}", f"{b}栋", "building", _inset(rng, cell, 0.15, 0.3))
            )
    return features


def _compound_names(rng: random.Random) -> Iterator[str]:
    """Unique names: 锦绣花园, … then 锦绣花园二期, … when a big territory runs out."""
    names = [first + last for first in _COMPOUND_FIRST for last in _COMPOUND_LAST]
    rng.shuffle(names)
    phase = 1
    while True:
        suffix = "" if phase == 1 else f"{_PHASES[phase - 2] if phase - 2 < len(_PHASES) else phase}期"
        yield from (name + suffix for name in names)
        phase += 1


def _layout(count: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(count))
    return cols, math.ceil(count / cols)


def _edges(low: float, high: float, parts: int) -> list[float]:
    # The outer edges are the parent's own coordinates; inner edges are computed once and shared.
    inner = [round(low + (high - low) * i / parts, _DIGITS) for i in range(1, parts)]
    return [low, *inner, high]


def _split(box: Bounds, layout: tuple[int, int], count: int | None) -> list[Bounds]:
    """``box`` cut into cols × rows cells, numbered row by row from the north-west; the first ``count``."""
    cols, rows = layout
    xs = _edges(box[0], box[2], cols)
    ys = _edges(box[1], box[3], rows)[::-1]  # north first
    cells = [(xs[i], ys[j + 1], xs[i + 1], ys[j]) for j in range(rows) for i in range(cols)]
    return cells[:count] if count is not None else cells


def _inset(rng: random.Random, box: Bounds, low: float, high: float) -> Bounds:
    """A random rectangle strictly inside ``box``: each side moved in by ``low``-``high`` of its span."""
    width, height = box[2] - box[0], box[3] - box[1]
    return (
        round(box[0] + width * rng.uniform(low, high), _DIGITS),
        round(box[1] + height * rng.uniform(low, high), _DIGITS),
        round(box[2] - width * rng.uniform(low, high), _DIGITS),
        round(box[3] - height * rng.uniform(low, high), _DIGITS),
    )


def _feature(code: str, name: str, level: str, box: Bounds) -> dict[str, Any]:
    west, south, east, north = box
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]  # counter-clockwise
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
