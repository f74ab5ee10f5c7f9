"""Read and change the holiday schedule file one year at a time (the admin pages' 节假日安排).

A year's entry is checked before anything is written: every date a real date of that year, no date twice
(within a list or in both lists: a day cannot be off and a make-up working day at once), make-up working
days on a Saturday or Sunday (a weekday is a working day already). The file is rewritten whole, under a
lock and through a temporary file, so a reader never sees half of it; every process's calendar re-reads it
at its next time limit (``ChinaWorkdays.refresh``). The change is audited in the caller's transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar

from app import runtime
from app.audit.services import Actor, record
from app.errors import Conflict, InvalidInput
from app.timelimits.calendar import CalendarError
from app.timelimits.holidays import load_schedule

MIN_YEAR, MAX_YEAR = 2004, 2100  # chinesecalendar starts in 2004
MAX_RANGE_DAYS = 31
MAX_SOURCE = 200
# "2027-02-06 ~ 2027-02-12", also with 至, ～ or ".."
_RANGE = re.compile(r"^(\S+)\s*(?:~|～|至|\.\.)\s*(\S+)$")


@dataclass(frozen=True)
class Problem:
    """One refused part of a year's entry: ``field`` (holidays | workdays | year | source | file), ``kind``
    (not_a_date | other_year | twice | in_both | not_weekend | bad_range | bad_year | too_long | not_json |
    bad_file) and the offending text, for the page to word it."""

    field: str
    kind: str
    value: str = ""

    def english(self) -> str:
        return {
            "not_a_date": f"{self.value!r} is not a YYYY-MM-DD date or a range of them",
            "other_year": f"{self.value} is not in this year",
            "twice": f"{self.value} is listed twice",
            "in_both": f"{self.value} is both a holiday and a make-up working day",
            "not_weekend": f"{self.value} is a weekday: a make-up working day is a Saturday or Sunday",
            "bad_range": f"{self.value}: a range runs forward and spans at most {MAX_RANGE_DAYS} days",
            "bad_year": f"{self.value!r}: a year from {MIN_YEAR} to {MAX_YEAR}",
            "too_long": f"at most {MAX_SOURCE} characters",
            "not_json": f"not a schedule file: {self.value}",
            "bad_file": self.value,
        }.get(self.kind, self.value)


class ScheduleRefused(InvalidInput):
    def __init__(self, problems: list[Problem]) -> None:
        details: dict[str, str] = {}
        for problem in problems:
            details[problem.field] = "; ".join(filter(None, [details.get(problem.field), problem.english()]))
        super().__init__("holiday schedule refused; nothing was saved", details)
        self.problems = problems


@dataclass(frozen=True)
class YearSchedule:
    year: int
    source: str = ""
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()

    def as_entry(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "holidays": [d.isoformat() for d in self.holidays],
            "workdays": [d.isoformat() for d in self.workdays],
        }


@dataclass
class ScheduleView:
    """What the page shows: the file's years, the years chinesecalendar knows, and where the file is."""

    path: Path | None
    years: dict[int, YearSchedule] = field(default_factory=dict)
    package_years: tuple[int, int] = (MIN_YEAR, MIN_YEAR)


# -- reading -------------------------------------------------------------------------------------------


def schedule_path() -> Path | None:
    return runtime.settings().holiday_schedule_file


def package_years() -> tuple[int, int]:
    """The first and last year chinesecalendar knows."""
    known = [day.year for day in chinese_calendar.holidays]
    return min(known), max(known)


def read_years(path: Path | None) -> dict[int, YearSchedule]:
    """The file's years (none when it is not written yet); a file broken by hand is refused, not rewritten."""
    if path is None or not path.exists():
        return {}
    try:
        load_schedule(path)  # the start-up check again: the file may have been edited by hand since
        raw = json.loads(path.read_text(encoding="utf-8"))
    except CalendarError as exc:
        raise ScheduleRefused([Problem("file", "bad_file", str(exc))]) from exc
    return {int(year): _year_from_entry(int(year), entry) for year, entry in sorted(raw.items())}


def _year_from_entry(year: int, entry: dict[str, Any]) -> YearSchedule:
    return YearSchedule(
        year=year,
        source=str(entry.get("source") or ""),
        holidays=tuple(date.fromisoformat(d) for d in entry.get("holidays", [])),
        workdays=tuple(date.fromisoformat(d) for d in entry.get("workdays", [])),
    )


def view() -> ScheduleView:
    path = schedule_path()
    return ScheduleView(path=path, years=read_years(path), package_years=package_years())


# -- checking ------------------------------------------------------------------------------------------


def parse_dates(text: str, field_name: str, problems: list[Problem]) -> list[date]:
    """Dates of a list typed in the page: one per line (or separated by commas), or a range per line."""
    days: list[date] = []
    for item in (part.strip() for part in re.split(r"[\n,，;；]+", text or "")):
        if not item:
            continue
        match = _RANGE.match(item)
        try:
            if match is None:
                days.append(date.fromisoformat(item))
                continue
            first, last = date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))
        except ValueError:
            problems.append(Problem(field_name, "not_a_date", item))
            continue
        if not timedelta(0) <= last - first < timedelta(days=MAX_RANGE_DAYS):
            problems.append(Problem(field_name, "bad_range", item))
            continue
        days.extend(first + timedelta(days=n) for n in range((last - first).days + 1))
    return days


def checked_year(year_text: Any, source: str, holidays: list[date], workdays: list[date]) -> YearSchedule:
    """The year's schedule, or ``ScheduleRefused`` naming every problem."""
    problems: list[Problem] = []
    year = _year(year_text, problems)
    _check_lists(year, holidays, workdays, problems)
    source = (source or "").strip()
    if len(source) > MAX_SOURCE:
        problems.append(Problem("source", "too_long"))
    if problems or year is None:
        raise ScheduleRefused(problems)
    return YearSchedule(year, source, tuple(sorted(holidays)), tuple(sorted(workdays)))


def _year(value: Any, problems: list[Problem]) -> int | None:
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.isdigit() and MIN_YEAR <= int(text) <= MAX_YEAR):
        problems.append(Problem("year", "bad_year", text))
        return None
    return int(text)


def _check_lists(
    year: int | None, holidays: list[date], workdays: list[date], problems: list[Problem]
) -> None:
    seen: dict[date, str] = {}
    for field_name, days in (("holidays", holidays), ("workdays", workdays)):
        for day in days:
            if year is not None and day.year != year:
                problems.append(Problem(field_name, "other_year", day.isoformat()))
            if day in seen:
                kind = "twice" if seen[day] == field_name else "in_both"
                problems.append(Problem(field_name, kind, day.isoformat()))
                continue
            seen[day] = field_name
            if field_name == "workdays" and day.weekday() < 5:
                problems.append(Problem(field_name, "not_weekend", day.isoformat()))


def parse_upload(raw: bytes) -> list[YearSchedule]:
    """The years of an uploaded schedule file (the HOLIDAY_SCHEDULE_FILE format), each checked as above."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScheduleRefused([Problem("file", "not_json", str(exc))]) from exc
    if not isinstance(data, dict) or not data:
        raise ScheduleRefused([Problem("file", "bad_file", 'expected {"2027": {"holidays": [...], ...}}')])
    years: list[YearSchedule] = []
    problems: list[Problem] = []
    for year_text, entry in data.items():
        if not isinstance(entry, dict) or set(entry) - {"source", "holidays", "workdays"}:
            problems.append(
                Problem("file", "bad_file", f"{year_text}: expected source, holidays and workdays")
            )
            continue
        lists: dict[str, list[date]] = {}
        for key in ("holidays", "workdays"):
            items = entry.get(key, [])
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                problems.append(Problem(key, "not_a_date", f"{year_text}: {items!r}"))
                items = []
            lists[key] = parse_dates("\n".join(items), key, problems)
        try:
            years.append(
                checked_year(year_text, str(entry.get("source") or ""), lists["holidays"], lists["workdays"])
            )
        except ScheduleRefused as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScheduleRefused(problems)
    return years


# -- writing -------------------------------------------------------------------------------------------


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save_years(schedules: list[YearSchedule], actor: Actor) -> None:
    """Put each year into the file (replacing that year's entry; the other years stay), audited."""
    path = schedule_path()
    if path is None:
        raise Conflict(
            "no holiday schedule file is configured", {"HOLIDAY_SCHEDULE_FILE": "set it to a writable path"}
        )
    with _locked(path):
        years = read_years(path)
        for schedule in schedules:
            before = years.get(schedule.year)
            years[schedule.year] = schedule
            record(
                "holidays.year_set",
                entity_type="holiday_schedule",
                entity_id=schedule.year,
                actor=actor,
                before=before.as_entry() if before else None,
                after=schedule.as_entry(),
            )
        _write(path, years)


def _write(path: Path, years: dict[int, YearSchedule]) -> None:
    text = json.dumps({str(y): years[y].as_entry() for y in sorted(years)}, ensure_ascii=False, indent=2)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.write_text(text + "\n", encoding="utf-8")
    os.replace(draft, path)
