"""A territory the size of Pidu district (郫都区, seed 003): 13 streets, 147 communities, 771 comprehensive
grids, 1,792 compounds and 4,786 buildings, as nested rectangles (the demo's layout rules: siblings share
edges exactly, children keep a margin inside their parent), so it passes every import check.

``scale`` shrinks every level together (at least one node per parent), for tests and quick runs. The same
seed gives the same file."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from app.grids.demo import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    Bounds,
    _compound_names,
    _feature,
    _inset,
    _layout,
    _split,
)

PIDU_BOUNDS: Bounds = (103.74, 30.70, 104.04, 30.94)
STREET_NAMES = (
    "郫筒街道",
    "犀浦街道",
    "红光街道",
    "安德街道",
    "唐昌街道",
    "团结街道",
    "德源街道",
    "合作街道",
    "三道堰街道",
    "友爱街道",
    "安靖街道",
    "古城街道",
    "唐元街道",
)
# Seed 003's counts; streets are Pidu's streets and towns.
PIDU_COUNTS = {"street": 13, "community": 147, "grid": 771, "compound": 1792, "building": 4786}
_COMMUNITY_SUFFIXES = ("社区", "村")
_COMMUNITY_WORDS = "望丛鹃城太平书院东街西街北街南街红旗安靖合作友爱德源团结永盛古城唐元三道堰清河白云金星"


@dataclass(frozen=True)
class TerritoryCounts:
    street: int
    community: int
    grid: int
    compound: int
    building: int


def counts_for(scale: float) -> TerritoryCounts:
    """Seed 003's counts times ``scale``, each level at least as many as the level above."""
    street = max(1, round(PIDU_COUNTS["street"] * scale))
    community = max(street, round(PIDU_COUNTS["community"] * scale))
    grid = max(community, round(PIDU_COUNTS["grid"] * scale))
    compound = max(grid, round(PIDU_COUNTS["compound"] * scale))
    building = max(compound, round(PIDU_COUNTS["building"] * scale))
    return TerritoryCounts(street, community, grid, compound, building)


def spread(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` children over ``parts`` parents, as even as possible (each gets ⌊total/parts⌋ or one more),
    the larger shares drawn by the seed."""
    base, extra = divmod(total, parts)
    shares = [base + 1] * extra + [base] * (parts - extra)
    rng.shuffle(shares)
    return shares


def _community_names(rng: random.Random) -> list[str]:
    words = [_COMMUNITY_WORDS[i : i + 2] for i in range(0, len(_COMMUNITY_WORDS) - 1, 2)]
    names = [a + b + suffix for a in words for b in words if a != b for suffix in _COMMUNITY_SUFFIXES]
    rng.shuffle(names)
    return names


def city_territory(scale: float = 1.0, seed: int = 3) -> dict[str, Any]:
    """District 510124 郫都区 → streets → communities → comprehensive grids → compounds → buildings, as a
    GeoJSON FeatureCollection with exactly ``counts_for(scale)`` nodes per level."""
    rng = random.Random(f"city-territory-{seed}")
    counts = counts_for(scale)
    features = [_feature(DISTRICT_CODE, DISTRICT_NAME, "district", PIDU_BOUNDS)]
    community_names = iter(_community_names(rng))
    compound_names = _compound_names(rng)
    communities_per_street = spread(counts.community, counts.street, rng)
    grids_per_community = spread(counts.grid, counts.community, rng)
    compounds_per_grid = spread(counts.compound, counts.grid, rng)
    buildings_per_compound = spread(counts.building, counts.compound, rng)
    street_boxes = _split(PIDU_BOUNDS, _layout(counts.street), counts.street)
    community_n = grid_n = compound_n = 0
    for s, (street_box, communities) in enumerate(zip(street_boxes, communities_per_street, strict=True), 1):
        street_code = f"{DISTRICT_CODE}{s:03d}"
        street_name = STREET_NAMES[s - 1] if s <= len(STREET_NAMES) else f"第{s}街道"
        features.append(_feature(street_code, street_name, "street", street_box))
        for c, community_box in enumerate(_split(street_box, _layout(communities), communities), 1):
            community_code = f"{street_code}{c:03d}"
            features.append(_feature(community_code, next(community_names), "community", community_box))
            grids = grids_per_community[community_n]
            community_n += 1
            for g, grid_box in enumerate(_split(community_box, _layout(grids), grids), 1):
                grid_code = f"{community_code}{g:03d}"
                features.append(_feature(grid_code, f"第{g}网格", "grid", grid_box))
                compounds = compounds_per_grid[grid_n]
                grid_n += 1
                for k, strip in enumerate(_split(grid_box, (compounds, 1), compounds), 1):
                    compound_code = f"{grid_code}{k:03d}"
                    compound_box = _inset(rng, strip, 0.08, 0.2)
                    features.append(_feature(compound_code, next(compound_names), "compound", compound_box))
                    buildings = buildings_per_compound[compound_n]
                    compound_n += 1
                    cells = _split(compound_box, _layout(buildings), buildings)
                    for b, cell in enumerate(cells, 1):
                        box = _inset(rng, cell, 0.15, 0.3)
                        features.append(_feature(f"{compound_code}{b:03d}", f"{b}栋", "building", box))
    return {"type": "FeatureCollection", "features": features}
