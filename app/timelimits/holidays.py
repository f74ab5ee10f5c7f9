"""Which dates are working days: China's published holiday schedules, plus what to do beyond them.

``chinese_calendar`` ships the State Council's schedule up to the year of its release (1.11.0: 2026). Each
November the next year's schedule is published (国务院办公厅关于 20XX 年部分节假日安排的通知); until the
package catches up, an operator adds it to a JSON file named by the ``HOLIDAY_SCHEDULE_FILE`` setting::

    {"2027": {"source": "国办发明电〔2026〕…号",
              "holidays": ["2027-01-01", "..."],
              "workdays": ["2027-02-07", "..."]}}

``holidays`` are days off that would otherwise be working days (Monday–Friday); ``workdays`` are make-up
working days (调休) on a weekend. A year in the file replaces the package's answer for that year.

For a year nobody has data for yet, ``unknown_years`` decides: ``"weekdays"`` (the default) counts Monday
to Friday, and the time limit is flagged as provisional in the case's timeline (see ``uncovered_years``);
``"refuse"`` raises :class:`CalendarError`. Refusing would stop every dispatch in
December whose limit reaches into January, which hurts the people on duty more than a deadline that may
land on a holiday not yet announced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal

import chinese_calendar

from app.timelimits.calendar import CalendarError

UnknownYears = Literal["weekdays", "refuse"]
UNKNOWN_YEAR_POLICIES: tuple[str, ...] = ("weekdays", "refuse")


def load_schedule(path: Path, *, missing_ok: bool = False) -> dict[date, bool]:
    """Read a schedule file: date → whether it is a working day. A problem names the file and the entry.
    ``missing_ok``: a file not written yet (the admin pages create it at their first save) is empty."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        if missing_ok:
            return {}
        raise CalendarError(f"holiday schedule {path}: {exc}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalendarError(f"holiday schedule {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise CalendarError(f"holiday schedule {path}: expected an object keyed by year")
    days: dict[date, bool] = {}
    for year_text, entry in raw.items():
        where = f"holiday schedule {path}, year {year_text!r}"
        if not (isinstance(year_text, str) and year_text.isdigit() and len(year_text) == 4):
            raise CalendarError(f"{where}: a year must be 4 digits")
        if not isinstance(entry, dict) or set(entry) - {"source", "holidays", "workdays"}:
            raise CalendarError(f"{where}: expected an object with source, holidays and workdays")
        for key, working in (("holidays", False), ("workdays", True)):
            for text in entry.get(key, []):
                day = _day(text, f"{where}, {key}")
                if day.year != int(year_text):
                    raise CalendarError(f"{where}, {key}: {text} is not in {year_text}")
                if day in days:
                    raise CalendarError(f"{where}: {text} is listed twice")
                days[day] = working
        # The year is covered even if a list is empty: its remaining days follow the weekday rule.
        days.setdefault(date(int(year_text), 1, 1), _weekday(date(int(year_text), 1, 1)))
    return days


def _day(text: Any, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise CalendarError(f"{where}: {text!r} is not a YYYY-MM-DD date") from exc


def _weekday(day: date) -> bool:
    return day.weekday() < 5


class ChinaWorkdays:
    """``is_workday`` for :class:`~app.timelimits.calendar.WorkingCalendar`: the file, then the package, then
    the policy for unknown years."""

    def __init__(
        self,
        schedule: dict[date, bool] | None = None,
        unknown_years: UnknownYears = "weekdays",
        package: Callable[[date], bool] = chinese_calendar.is_workday,
        schedule_file: Path | None = None,
    ) -> None:
        if unknown_years not in UNKNOWN_YEAR_POLICIES:
            raise CalendarError(f"unknown_years must be one of {UNKNOWN_YEAR_POLICIES}: {unknown_years!r}")
        self._set_schedule(schedule or {})
        self._unknown_years = unknown_years
        self._package = package
        self._file = schedule_file
        self._stamp = _stamp(schedule_file) if schedule_file is not None else None

    def _set_schedule(self, schedule: dict[date, bool]) -> None:
        self._schedule = schedule
        self._scheduled_years = {day.year for day in schedule}

    def refresh(self) -> bool:
        """Re-read the schedule file if it changed since it was read (one ``stat``): a year saved by the
        admin pages, in this process or another, counts from the next time limit on. A file broken by hand
        meanwhile keeps the schedule read last (it was refused at start-up, and the pages write whole files).
        True when the schedule changed."""
        if self._file is None:
            return False
        stamp = _stamp(self._file)
        if stamp == self._stamp:
            return False
        try:
            self._set_schedule(load_schedule(self._file, missing_ok=True))
        except CalendarError:
            return False
        self._stamp = stamp
        return True

    @property
    def scheduled_years(self) -> set[int]:
        return set(self._scheduled_years)

    def __call__(self, day: date) -> bool:
        if day.year in self._scheduled_years:
            return self._schedule.get(day, _weekday(day))
        try:
            return bool(self._package(day))
        except NotImplementedError as exc:
            if self._unknown_years == "refuse":
                raise CalendarError(
                    f"no holiday data for {day.year} (needed for {day.isoformat()}); add the year's schedule "
                    "to HOLIDAY_SCHEDULE_FILE or update chinesecalendar"
                ) from exc
            return _weekday(day)

    def covers(self, year: int) -> bool:
        """Whether ``year``'s holidays are known (from the file or the package)."""
        if year in self._scheduled_years:
            return True
        try:
            self._package(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size


def uncovered_years(is_workday: Callable[[date], bool], first: date, last: date) -> list[int]:
    """The years from ``first`` to ``last`` whose holidays ``is_workday`` does not know (counted as plain
    weekdays): a deadline reaching into them is provisional."""
    covers = getattr(is_workday, "covers", None)
    if covers is None:
        return []
    return [year for year in range(first.year, last.year + 1) if not covers(year)]
