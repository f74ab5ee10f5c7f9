"""Possible duplicates of a report (疑似重复): open cases of the same category, located within
``duplicate_radius_meters`` of it and reported within ``duplicate_window_hours`` of it (either side),
among the cases the dispatcher may see; nearest first.

The database narrows by category, status, time and a bounding box of the radius (plain indexed
comparisons on every backend); the exact great-circle distance is then measured here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from app import runtime
from app.auth.models import User
from app.cases.models import Case, CaseStatus
from app.cases.services import visible_cases
from app.clock import as_utc
from app.extensions import db
from app.geodesy import distance_meters

METERS_PER_DEGREE_LATITUDE = 111_320.0
MAX_SHOWN = 10


@dataclass(frozen=True)
class PossibleDuplicate:
    case: Case
    distance_meters: float
    apart: timedelta  # the other case's report time minus this one's




def possible_duplicates(user: User, case: Case) -> list[PossibleDuplicate]:
    """The open cases ``case`` may repeat (see the module docstring); [] for a report without a location
    or a category, which nothing can be compared with."""
    if case.lat is None or case.lon is None or not case.category_code:
        return []
    settings = runtime.settings()
    radius, window = settings.duplicate_radius_meters, timedelta(hours=settings.duplicate_window_hours)
    reported = as_utc(case.created_at)
    dlat = radius / METERS_PER_DEGREE_LATITUDE
    # Near the poles a degree of longitude shrinks to nothing: cap the box at the whole circle.
    dlon = min(180.0, radius / (METERS_PER_DEGREE_LATITUDE * max(math.cos(math.radians(case.lat)), 1e-6)))
    rows = _nearby(user, case, (reported - window, reported + window), dlat, dlon)
    found = [
        PossibleDuplicate(
            other,
            distance_meters(case.lat, case.lon, other.lat, other.lon),
            as_utc(other.created_at) - reported,
        )
        for other in rows
        if other.lat is not None and other.lon is not None
    ]
    near = [d for d in found if d.distance_meters <= radius]
    near.sort(key=lambda d: (d.distance_meters, abs(d.apart), d.case.id))
    return near[:MAX_SHOWN]


def _nearby(
    user: User, case: Case, period: tuple[datetime, datetime], dlat: float, dlon: float
) -> list[Case]:
    """Visible open cases of the category, reported in ``period``, inside the box around the report."""
    lat, lon = float(case.lat or 0.0), float(case.lon or 0.0)
    statement = visible_cases(user).where(
        Case.id != case.id,
        Case.category_code == case.category_code,
        Case.status.not_in(CaseStatus.FINAL),
        Case.created_at.between(*period),
        Case.lat.between(lat - dlat, lat + dlat),
        Case.lon.between(lon - dlon, lon + dlon),
    )
    return list(db.session.execute(statement).scalars())
