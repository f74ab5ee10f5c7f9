"""The one-screen dashboard (一屏掌控): everything over the cases the user sees (``visible_cases``).

``snapshot`` is what the page polls: the open cases with a location (map markers coloured by severity),
counts by status and by category class, the overdue list, the KPIs of the last 30 days and a 14-day trend
(both from ``app.kpi.services``, for the roles that may read KPIs). ``grid_polygons`` gives the outlines of
the user's communities and grids for the map.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.auth.models import User
from app.cases.models import Case, CaseStatus
from app.cases.services import severity_rank, visible_cases
from app.categories.models import Category
from app.clock import as_utc, now
from app.extensions import db
from app.grids.models import Grid
from app.grids.scope import in_subtrees, scope_of
from app.kpi import periods
from app.kpi.services import KpiQuery, kpi_rows
from app.timelimits.calendar import CHINA_STANDARD_TIME, SEVERITIES
from app.web.supervisor.access import reads_kpis

DEFAULT_REFRESH_SECONDS = 30
MAX_MARKERS = 2000  # the most urgent first; a screen shows no more than that usefully
OVERDUE_LIST_SIZE = 20
KPI_DAYS = 30
TREND_DAYS = 14
MAP_GRID_LEVELS = ("community", "grid")
CATEGORY_CLASS_LENGTH = 3  # E01: the class of E0102


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _today() -> date:
    return periods.local(now()).date()


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_STANDARD_TIME)


def snapshot(user: User) -> dict[str, Any]:
    visible = visible_cases(user).subquery()
    open_filter = Case.status.not_in(CaseStatus.FINAL)
    return {
        "generated_at": now().isoformat(),
        "markers": _markers(user),
        "by_status": _by_status(visible),
        "by_severity": _by_severity(visible),
        "by_category": _by_category(visible),
        "open_total": db.session.execute(
            select(func.count()).select_from(visible).where(visible.c.status.not_in(CaseStatus.FINAL))
        ).scalar_one(),
        "overdue": _overdue(user, open_filter),
        "overdue_total": db.session.execute(
            select(func.count())
            .select_from(visible)
            .where(visible.c.status.not_in(CaseStatus.FINAL), visible.c.overdue_at.is_not(None))
        ).scalar_one(),
        "kpis": _kpis(user) if reads_kpis(user) else None,
        "trend": _trend(user) if reads_kpis(user) else None,
    }


def _markers(user: User) -> list[dict[str, Any]]:
    rows = db.session.execute(
        visible_cases(user)
        .where(Case.status.not_in(CaseStatus.FINAL), Case.lat.is_not(None), Case.lon.is_not(None))
        .order_by(severity_rank(), Case.created_at.desc(), Case.id.desc())
        .limit(MAX_MARKERS)
    ).scalars()
    return [
        {
            "key": c.key,
            "title": c.title,
            "severity": c.severity,
            "status": c.status,
            "lat": c.lat,
            "lon": c.lon,
            "overdue": c.overdue_at is not None,
        }
        for c in rows
    ]


def _by_status(visible: Any) -> list[dict[str, Any]]:
    counts: dict[str, int] = {
        status: count
        for status, count in db.session.execute(
            select(visible.c.status, func.count()).group_by(visible.c.status)
        )
    }
    return [
        {"status": status, "count": counts.get(status, 0)} for status in CaseStatus.ALL if counts.get(status)
    ]


def _by_severity(visible: Any) -> list[dict[str, Any]]:
    counts: dict[str, int] = {
        severity: count
        for severity, count in db.session.execute(
            select(visible.c.severity, func.count())
            .where(visible.c.status.not_in(CaseStatus.FINAL))
            .group_by(visible.c.severity)
        )
    }
    return [{"severity": severity, "count": counts.get(severity, 0)} for severity in SEVERITIES]


def _by_category(visible: Any) -> list[dict[str, Any]]:
    """Open cases by category class (E01 市容环境 …), most first; cases without a category under null."""
    cls = func.substr(visible.c.category_code, 1, CATEGORY_CLASS_LENGTH)
    rows = db.session.execute(
        select(cls, func.count())
        .where(visible.c.status.not_in(CaseStatus.FINAL))
        .group_by(cls)
        .order_by(func.count().desc(), cls)
    ).all()
    codes = [code for code, _ in rows if code]
    names: dict[str, str] = {}
    if codes:
        names = {
            code: name
            for code, name in db.session.execute(
                select(Category.code, Category.name).where(Category.code.in_(codes))
            )
        }
    return [{"code": code, "name": names.get(code) if code else None, "count": count} for code, count in rows]


def _overdue(user: User, open_filter: Any) -> list[dict[str, Any]]:
    rows = db.session.execute(
        visible_cases(user)
        .where(open_filter, Case.overdue_at.is_not(None))
        .order_by(Case.due_at, Case.id)
        .limit(OVERDUE_LIST_SIZE)
    ).scalars()
    return [
        {
            "key": c.key,
            "title": c.title,
            "severity": c.severity,
            "status": c.status,
            "due_at": _iso(c.due_at),
            "overdue_at": _iso(c.overdue_at),
            "handler": c.handler_user or c.handler_unit,
            "escalation_level": c.escalation_level,
        }
        for c in rows
    ]


def _kpis(user: User) -> dict[str, Any]:
    end = _local_midnight(_today() + timedelta(days=1))
    rows = kpi_rows(user, KpiQuery(group_by="overall", start=end - timedelta(days=KPI_DAYS), end=end))
    row = rows[0] if rows else {}
    return {
        "days": KPI_DAYS,
        **{
            name: (value.isoformat() if isinstance(value, datetime) else value) for name, value in row.items()
        },
    }


def _trend(user: User) -> dict[str, Any]:
    end = _local_midnight(_today() + timedelta(days=1))
    start = end - timedelta(days=TREND_DAYS)
    rows = kpi_rows(user, KpiQuery(group_by="overall", start=start, end=end, granularity="day"))
    return {
        "days": [row["period_start"].date().isoformat() for row in rows],
        "received": [row["received"] for row in rows],
        "handled": [row["handled"] for row in rows],
        "closed": [row["closed"] for row in rows],
    }


def grid_polygons(user: User) -> dict[str, Any]:
    """The user's communities and comprehensive grids as a GeoJSON FeatureCollection (the map's backdrop)."""
    scope = scope_of(user)
    statement = select(Grid).where(Grid.level.in_(MAP_GRID_LEVELS))
    if not scope.everything:
        statement = statement.where(in_subtrees(Grid.code, scope.grid_codes))
    grids = db.session.execute(statement.order_by(Grid.code)).scalars()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": g.code, "name": g.name, "level": g.level},
                "geometry": g.geometry,
            }
            for g in grids
        ],
    }
