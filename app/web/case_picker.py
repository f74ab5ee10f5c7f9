"""The cases a triage page offers as the original of a duplicate report (the ``case_picker`` widget of
``forms/triage.uischema.json``): the user's visible cases reported in the last days that are still open or
closed (not themselves rejected, withdrawn or duplicates), nearest to this report first, the same
category before others. Each is offered by number with its title, place, distance and age, so the
dispatcher picks the original from the list instead of copying a case number."""

from __future__ import annotations

import math
from datetime import timedelta

from flask_babel import gettext as _

from app.auth.models import User
from app.cases import services as cases
from app.cases.models import Case, CaseStatus
from app.clock import as_utc, now
from app.extensions import db
from app.geodesy import distance_meters

RECENT = timedelta(days=30)
SCANNED = 200  # the newest reports looked at
OFFERED = 8
NOT_AN_ORIGINAL = (CaseStatus.REJECTED, CaseStatus.WITHDRAWN, CaseStatus.DUPLICATE)


def distance_m(a: Case, b: Case) -> float | None:
    if None in (a.lat, a.lon, b.lat, b.lon):
        return None
    return distance_meters(a.lat, a.lon, b.lat, b.lon)  # type: ignore[arg-type]


def _age(case: Case) -> str:
    minutes = max(int((now() - as_utc(case.created_at)).total_seconds() // 60), 0)
    if minutes < 60:
        return _("%(n)s min ago", n=minutes)
    if minutes < 48 * 60:
        return _("%(n)s h ago", n=minutes // 60)
    return _("%(n)s days ago", n=minutes // (24 * 60))


def _distance_label(meters: float | None) -> str:
    if meters is None:
        return _("no location")
    if meters < 1000:
        return _("%(m)s m", m=f"{meters:.0f}")
    return _("%(km)s km", km=f"{meters / 1000:.1f}")


def duplicate_choices(user: User, case: Case | None) -> list[dict[str, str]]:
    if case is None:
        return []
    rows = (
        cases.visible_cases(user)
        .where(
            Case.id != case.id,
            Case.status.not_in(NOT_AN_ORIGINAL),
            Case.created_at >= now() - RECENT,
        )
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(SCANNED)
    )
    found = [(other, distance_m(case, other)) for other in db.session.execute(rows).scalars()]
    found.sort(
        key=lambda pair: (
            pair[0].category_code != case.category_code,
            math.inf if pair[1] is None else pair[1],
        )
    )
    return [
        {
            "value": other.key,
            "label": " · ".join(
                filter(None, (other.key, other.title, other.address, _distance_label(meters), _age(other)))
            ),
        }
        for other, meters in found[:OFFERED]
    ]
