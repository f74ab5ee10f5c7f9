"""The studio's view of the processes started by a timer: the ``_timer_starts.html`` partial on the process
list reads ``timer_start_schedules()`` (asked only when the partial renders) and ``timer_cadence()``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from flask_babel import format_datetime, gettext

from app.web.designer import bp
from app.workflow import timer_starts

_DAILY_OR_WEEKLY = re.compile(r"^R/(?P<start>[^/]+)/P(?P<n>1)(?P<unit>[DW])$")


def cadence(expression: str | None) -> str:
    """The common cycles in words (every day at 08:00, every Monday at 08:00); else nothing: the page shows
    the expression itself."""
    match = _DAILY_OR_WEEKLY.match((expression or "").strip())
    if match is None:
        return ""
    try:
        start = datetime.fromisoformat(match["start"])
    except ValueError:
        return ""
    if start.tzinfo is None:
        return ""
    start = start.astimezone(timezone(timedelta(hours=8)))
    time = start.strftime("%H:%M")
    if match["unit"] == "D":
        return gettext("every day at %(time)s (Beijing time)", time=time)
    weekday = format_datetime(start, "EEEE", rebase=False)
    return gettext("every %(weekday)s at %(time)s (Beijing time)", weekday=weekday, time=time)


@bp.context_processor
def _timer_start_helpers() -> dict[str, Any]:
    return {"timer_start_schedules": timer_starts.schedules, "timer_cadence": cadence}
