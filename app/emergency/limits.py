"""Report-in limits of responders. Emergencies run on the clock, in minutes ("15m"); a plan may still give a
working-time limit ("1wh", "1wd") or clock hours ("0.5h") the way categories and escalation levels do."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from app.cases.escalation import report_in_due
from app.timelimits.calendar import CalendarError, TimeLimit

_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)m$")
MAX_MINUTES = 24 * 60  # an emergency responder who may take more than a day is not one


def limit_problem(value: object) -> str | None:
    """Why ``value`` is not a report-in limit (None when it is)."""
    if not isinstance(value, str):
        return "expected a limit such as '15m' (clock minutes), '0.5h', '1wh' or '1wd'"
    match = _MINUTES.match(value)
    if match is not None:
        minutes = float(match.group(1))
        if not 0 < minutes <= MAX_MINUTES:
            return f"{value!r}: minutes must be more than 0 and at most {MAX_MINUTES}"
        return None
    try:
        TimeLimit.parse(value)
    except CalendarError as exc:
        return f"{value!r}: expected minutes ('15m') or a time limit; {exc}"
    return None


def due_after(start: datetime, limit: str) -> datetime:
    """When a responder dispatched at ``start`` with ``limit`` must have reported in."""
    match = _MINUTES.match(limit)
    if match is not None:
        return start + timedelta(minutes=float(match.group(1)))
    return report_in_due(start, limit)


def iso_duration(limit: str) -> str:
    """A clock limit as an ISO 8601 duration for a BPMN ``timeDuration`` ("2m" → "PT2M")."""
    match = _MINUTES.match(limit)
    if match is None:
        raise ValueError(f"{limit!r} is not a limit in minutes")
    seconds = round(float(match.group(1)) * 60)
    return f"PT{seconds}S"
