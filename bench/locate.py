"""Point lookups per second: the STRtree index (``GridIndex.locate``) vs. testing every polygon in turn
(``linear_locate``), over a synthetic territory with 5,000 buildings (the demo generator, scaled up).

Everything is in memory: no database, no app. Random points (fixed seed) over the territory and a margin
around it; both ways must give the same answer on a sample. Run: ``python -m bench.locate [--buildings N]``.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from app.grids.codes import depth, level_of
from app.grids.demo import demo_territory
from app.grids.index import GridIndex, GridShape, linear_locate

# Most of Pidu district: room for a few hundred comprehensive grids of a realistic size.
BOUNDS = (103.70, 30.70, 104.06, 30.95)
BUILDINGS_PER_GRID = 2.5 * 4.5  # 2-3 compounds of 3-6 buildings


def territory(buildings: int, seed: int) -> dict[str, Any]:
    """A demo territory with exactly ``buildings`` buildings (extra ones dropped, the rest untouched)."""
    communities = math.ceil(buildings / (16 * BUILDINGS_PER_GRID) * 1.1)
    collection = demo_territory(seed, communities=communities, grid_cols=4, grid_rows=4, bounds=BOUNDS)
    kept, count = [], 0
    for feature in collection["features"]:
        if feature["properties"]["level"] == "building":
            count += 1
            if count > buildings:
                continue
        kept.append(feature)
    if count < buildings:
        raise SystemExit(f"the generator made only {count} buildings; raise the community count")
    return {"type": "FeatureCollection", "features": kept}


def shapes_of(collection: dict[str, Any]) -> list[GridShape]:
    return [
        GridShape(code, f["properties"]["name"], level_of(code), shape(f["geometry"]))
        for f in collection["features"]
        if (code := f["properties"]["code"])
    ]


def random_points(count: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    west, south, east, north = BOUNDS
    margin = 0.02  # some points fall outside every grid
    return [
        (rng.uniform(south - margin, north + margin), rng.uniform(west - margin, east + margin))
        for _ in range(count)
    ]


def rate(lookup: Any, points: list[tuple[float, float]]) -> tuple[float, list[str | None]]:
    started = time.perf_counter()
    answers = [lookup(lat, lon) for lat, lon in points]
    return len(points) / (time.perf_counter() - started), answers


def vectorized_scan(shapes: list[GridShape]) -> Any:
    """For context: the scan without Python's loop, one vectorized GEOS call over every polygon."""
    geometries = np.array([s.geometry for s in shapes], dtype=object)
    rank = [(-depth(s.level), s.code) for s in shapes]

    def lookup(lat: float, lon: float) -> str | None:
        hits = np.flatnonzero(shapely.intersects_xy(geometries, lon, lat))
        return shapes[min(hits.tolist(), key=rank.__getitem__)].code if len(hits) else None

    return lookup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=5000)
    parser.add_argument("--points", type=int, default=20_000, help="lookups timed with the index")
    parser.add_argument("--sample", type=int, default=500, help="lookups timed (and compared) both ways")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    collection = territory(args.buildings, args.seed)
    shapes = shapes_of(collection)
    levels = Counter(s.level for s in shapes)
    print(f"territory: {len(shapes)} grids: " + ", ".join(f"{levels[lv]} {lv}" for lv in levels))

    started = time.perf_counter()
    index = GridIndex(shapes)
    print(f"index built in {time.perf_counter() - started:.3f} s")

    points = random_points(args.points, args.seed)
    sample = points[: args.sample]
    indexed_rate, indexed_answers = rate(index.locate, points)
    linear_rate, linear_answers = rate(lambda lat, lon: linear_locate(shapes, lat, lon), sample)
    scan_rate, scan_answers = rate(vectorized_scan(shapes), sample)

    mismatches = [p for p, a, b in zip(sample, indexed_answers, linear_answers, strict=False) if a != b]
    assert not mismatches, f"index and linear scan disagree at {mismatches[:5]}"
    assert scan_answers == linear_answers, "vectorized scan disagrees with the linear scan"
    found = Counter(level_of(code) if code else "outside" for code in indexed_answers)
    print(f"answers agree on {len(sample)} sample points; where the {len(points)} points fell: {dict(found)}")

    print(f"STRtree index          {indexed_rate:12,.0f} lookups/s")
    print(f"linear_locate          {linear_rate:12,.0f} lookups/s")
    print(f"ratio index/linear     {indexed_rate / linear_rate:12,.1f} x")
    print(
        f"(vectorized full scan  {scan_rate:12,.0f} lookups/s: index/scan {indexed_rate / scan_rate:,.1f} x)"
    )


if __name__ == "__main__":
    main()
