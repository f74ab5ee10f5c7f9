"""Reporting periods: the half-open range [from, to) and its day / week / month buckets for a trend.

Days, weeks (ISO: Monday first) and months are those of the wall clock in China (UTC+8, no daylight saving
time), the clock the grid centres work by; the instants returned are aware and in UTC, which is how the
database stores them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.errors import InvalidInput
from app.timelimits.calendar import CHINA_STANDARD_TIME

GRANULARITIES = ("day", "week", "month")
MAX_PERIODS = 400  # a year by day fits; more rows than that is not a trend anyone reads

Period = tuple[datetime, datetime]


def parse_bound(value: str) -> datetime:
    """``2026-11-01`` (local midnight) or an ISO 8601 date-time (naive means local time) → aware UTC.

    Raises ValueError with a readable reason."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date (2026-11-01) or an ISO 8601 date-time (2026-11-01T08:30:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_STANDARD_TIME)
    return moment.astimezone(UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(CHINA_STANDARD_TIME)


def _floor(moment: datetime, granularity: str) -> datetime:
    """The start of the day / week / month containing ``moment``, local time."""
    day = local(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(start: datetime, granularity: str) -> datetime:
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(weeks=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def split(start: datetime, end: datetime, granularity: str | None) -> list[Period]:
    """[start, end) itself, or its buckets of ``granularity`` clipped to it, in order (UTC)."""
    if granularity is None:
        return [(start, end)]
    periods: list[Period] = []
    bucket = _floor(start, granularity)
    while bucket < end:
        following = _next(bucket, granularity)
        periods.append((max(bucket, start).astimezone(UTC), min(following, end).astimezone(UTC)))
        if len(periods) > MAX_PERIODS:
            raise InvalidInput(
                "too many periods",
                {"granularity": f"[from, to) has more than {MAX_PERIODS} {granularity}s; use a coarser one"},
            )
        bucket = following
    return periods
