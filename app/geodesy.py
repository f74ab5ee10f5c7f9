"""Distances on the Earth for the product's "how far apart" questions: a photo from its case, a report from
its possible duplicates, an alarm from an open incident, a completion from the case."""

from __future__ import annotations

import math

EARTH_RADIUS_METERS = 6_371_008.8  # mean radius (IUGG); a sphere is accurate to ~0.5 % at city distances


def distance_meters(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres between two WGS-84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_METERS * math.asin(min(1.0, math.sqrt(a)))
