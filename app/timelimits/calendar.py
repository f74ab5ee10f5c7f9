"""Working-time arithmetic on the Chinese calendar.

Why not ``timedelta``: a case category's limit ("4 working hours", "20 working days") only runs while the
city's offices work. China moves working days around every year (public holidays plus make-up working days,
调休, on weekends), so which dates are working days comes from ``chinese_calendar`` (the ``chinesecalendar``
package), and the hours of the working day (default 08:30–12:00 and 13:30–17:30, China Standard Time) are
configuration.

Conventions used throughout:

* Every datetime passed in must be timezone-aware; every datetime returned is aware and in UTC (the rest of
  gridcase stores and compares UTC). Wall-clock reasoning (which day, which period) happens in the calendar's
  timezone.
* A working period is half-open, ``[start, end)``: 12:00 is lunch, not working time. A limit that is used up
  exactly at a period end is due at that end (17:30), not at the start of the next period.
* The calendar only knows the years its holiday data covers. Asking about another year raises
  :class:`CalendarError` naming the year, instead of silently treating holidays as working days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, cast, get_args

import chinese_calendar

__all__ = [
    "CHINA_STANDARD_TIME",
    "DEFAULT_WORKING_HOURS",
    "SEVERITY_FACTORS",
    "CalendarError",
    "Deadline",
    "DeadlineState",
    "Severity",
    "TimeLimit",
    "TimeUnit",
    "WorkingCalendar",
    "WorkingHours",
    "deadline",
    "scaled",
    "state",
]

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""UTC+8, no daylight saving time: the timezone every grid centre in China works in."""

# A calendar that finds no working day within this many consecutive days is broken (the longest Chinese
# holiday runs are about ten days); failing beats looping forever.
_MAX_NON_WORKING_RUN = 366


class CalendarError(ValueError):
    """Bad time-limit configuration or input, or a date the holiday data does not cover."""


# --------------------------------------------------------------------------------------------- hours

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _parse_clock(text: str, *, where: str) -> time:
    match = _TIME_RE.match(text.strip())
    if match is None:
        raise CalendarError(f"{where}: {text.strip()!r} is not a time of day in HH:MM form (00:00–23:59)")
    return time(int(match.group(1)), int(match.group(2)))


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second or value.microsecond else "%H:%M")


@dataclass(frozen=True)
class WorkingHours:
    """The working periods of one working day, as wall-clock ``(start, end)`` pairs in the calendar's zone.

    Periods are sorted, non-overlapping (touching is allowed) and each starts before it ends, so a period
    never crosses midnight. The same hours apply to every working day.
    """

    periods: tuple[tuple[time, time], ...]

    def __post_init__(self) -> None:
        if not self.periods:
            raise CalendarError("working hours need at least one period")
        previous_end: time | None = None
        for index, period in enumerate(self.periods, start=1):
            if len(period) != 2:
                raise CalendarError(f"working period {index} must be a (start, end) pair, got {period!r}")
            start, end = period
            if not isinstance(start, time) or not isinstance(end, time):
                raise CalendarError(f"working period {index} must hold datetime.time values, got {period!r}")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise CalendarError(
                    f"working period {index} must use naive times (the calendar supplies the timezone)"
                )
            label = f"{_clock(start)}-{_clock(end)}"
            if start >= end:
                raise CalendarError(f"working period {index} {label!r}: start must be before end")
            if previous_end is not None and start < previous_end:
                raise CalendarError(
                    f"working period {index} {label!r} starts before the previous period ends "
                    f"({_clock(previous_end)}); periods must be sorted and must not overlap"
                )
            previous_end = end

    @classmethod
    def parse(cls, spec: str) -> WorkingHours:
        """Parse configuration such as ``"08:30-12:00,13:30-17:30"`` (comma-separated ``HH:MM-HH:MM``)."""
        if not isinstance(spec, str) or not spec.strip():
            raise CalendarError("working hours spec is empty; expected e.g. '08:30-12:00,13:30-17:30'")
        periods: list[tuple[time, time]] = []
        for index, raw in enumerate(spec.split(","), start=1):
            part = raw.strip()
            where = f"working hours {spec!r}, period {index} {part!r}"
            if not part:
                raise CalendarError(f"working hours {spec!r}: period {index} is empty")
            bounds = part.split("-")
            if len(bounds) != 2:
                raise CalendarError(f"{where}: expected 'HH:MM-HH:MM'")
            start = _parse_clock(bounds[0], where=where)
            end = _parse_clock(bounds[1], where=where)
            if start >= end:
                raise CalendarError(f"{where}: start must be before end (periods cannot cross midnight)")
            if periods and start < periods[-1][1]:
                raise CalendarError(
                    f"{where}: starts before the previous period ends ({_clock(periods[-1][1])}); "
                    "periods must be sorted and must not overlap"
                )
            periods.append((start, end))
        return cls(tuple(periods))

    @property
    def per_day(self) -> timedelta:
        """Working time in one full working day (7.5 hours for the default hours)."""
        day = date(2000, 1, 3)
        return sum(
            (datetime.combine(day, end) - datetime.combine(day, start) for start, end in self.periods),
            timedelta(),
        )

    def __str__(self) -> str:
        return ",".join(f"{_clock(start)}-{_clock(end)}" for start, end in self.periods)


DEFAULT_WORKING_HOURS = WorkingHours.parse("08:30-12:00,13:30-17:30")
"""The usual government office hours, with a lunch break."""


# ------------------------------------------------------------------------------------------ calendar


def _aware(moment: datetime, name: str = "moment") -> datetime:
    if not isinstance(moment, datetime):
        raise CalendarError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CalendarError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class WorkingCalendar:
    """Working-time arithmetic: which moments are working time, and how far a working-time limit reaches.

    ``is_workday`` decides per date (default ``chinese_calendar.is_workday``, which knows holidays and
    make-up working days); ``hours`` decides the periods within a working day; ``tz`` is the wall clock those
    periods are read on. Answers for a date are cached per calendar, so long limits stay cheap.
    """

    def __init__(
        self,
        hours: WorkingHours = DEFAULT_WORKING_HOURS,
        tz: tzinfo = CHINA_STANDARD_TIME,
        is_workday: Callable[[date], bool] = chinese_calendar.is_workday,
    ) -> None:
        self.hours = hours
        self.tz = tz
        self._is_workday_source = is_workday
        self._workdays: dict[date, bool] = {}

    @property
    def workday_source(self) -> Callable[[date], bool]:
        """What decides per date (e.g. :class:`app.timelimits.holidays.ChinaWorkdays`)."""
        return self._is_workday_source

    def forget_workdays(self) -> None:
        """Drop the days decided so far: the holiday schedule behind ``workday_source`` changed."""
        self._workdays.clear()

    def __repr__(self) -> str:
        return f"WorkingCalendar(hours={str(self.hours)!r}, tz={self.tz!r})"

    # ---- per-day building blocks

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day; holiday data missing for its year is a :class:`CalendarError`."""
        cached = self._workdays.get(day)
        if cached is not None:
            return cached
        try:
            answer = bool(self._is_workday_source(day))
        except NotImplementedError as exc:
            # chinese_calendar only ships data up to the year of its release; guessing "weekends off" for a
            # later year would silently put deadlines on public holidays.
            raise CalendarError(
                f"no holiday data for {day.year} (needed for {day.isoformat()}); update chinesecalendar"
            ) from exc
        self._workdays[day] = answer
        return answer

    def _local_date(self, moment_utc: datetime) -> date:
        return moment_utc.astimezone(self.tz).date()

    def _periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of ``day`` as UTC instants (empty on a non-working day).

        Arithmetic is done on UTC instants so that a zone with daylight saving time would still measure real
        elapsed time.
        """
        if not self.is_workday(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC),
            )
            for start, end in self.hours.periods
        ]

    def _days_from(self, first: date) -> Iterator[date]:
        """``first`` and the days after it, failing if no working day shows up for a whole year."""
        day = first
        run = 0
        while True:
            yield day
            if self.is_workday(day):
                run = 0
            else:
                run += 1
                if run >= _MAX_NON_WORKING_RUN:
                    raise CalendarError(
                        f"no working day in the {_MAX_NON_WORKING_RUN} days before {day.isoformat()}; "
                        "check the is_workday function"
                    )
            day += timedelta(days=1)

    # ---- public API

    def is_working_time(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside a working period of a working day (period ends excluded)."""
        local = _aware(moment).astimezone(self.tz)
        if not self.is_workday(local.date()):
            return False
        clock = local.time().replace(tzinfo=None)
        return any(start <= clock < end for start, end in self.hours.periods)

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the start of the next working period."""
        cursor = _aware(moment)
        for day in self._days_from(self._local_date(cursor)):
            for start, end in self._periods(day):
                if end > cursor:
                    return max(start, cursor)
        raise AssertionError("unreachable")  # pragma: no cover - _days_from is endless or raises

    def add_working_time(self, start: datetime, delta: timedelta) -> datetime:
        """The moment at which ``delta`` of working time, counted from ``start``, has been used up.

        Walks the working periods day by day (whole periods at a time, never minute by minute), skipping
        non-working days. If the time runs out exactly at a period end, that end is returned (a 4-hour limit
        from 13:30 is due at 17:30 the same day, not 08:30 the next). A zero ``delta`` returns ``start``.
        """
        cursor = _aware(start, "start")
        if not isinstance(delta, timedelta):
            raise CalendarError(f"delta must be a timedelta, got {type(delta).__name__}")
        if delta < timedelta(0):
            raise CalendarError(f"working time to add must not be negative, got {delta}")
        if delta == timedelta(0):
            return cursor
        remaining = delta
        for day in self._days_from(self._local_date(cursor)):
            for period_start, period_end in self._periods(day):
                if period_end <= cursor:
                    continue
                begin = max(period_start, cursor)
                available = period_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """``add_working_time`` with the limit given in (possibly fractional) working hours."""
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not math.isfinite(hours):
            raise CalendarError(f"working hours must be a finite number, got {hours!r}")
        if hours < 0:
            raise CalendarError(f"working hours must not be negative, got {hours!r}")
        return self.add_working_time(start, timedelta(hours=hours))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same wall-clock position ``days`` working days later.

        Precisely: let ``anchor`` be ``start`` if it is working time, otherwise the next working moment (so a
        case reported on Saturday, at lunch or at night counts from the next period start). With ``anchor`` at
        time of day ``T`` on working day ``D``, the due time is ``T`` on the ``days``-th working day after
        ``D``; if that day's periods do not contain ``T`` (only possible when wall-clock periods shift, e.g. a
        daylight-saving zone), it is the end of that day's last period. ``days == 0`` returns ``anchor``.

        With identical hours every day this equals ``days × per_day`` of working time, except that a limit
        starting at a period start lands on the next day's period start rather than the previous period end
        (the same instant in working-time terms).
        """
        if isinstance(days, bool) or not isinstance(days, int):
            raise CalendarError(f"working days must be a whole number, got {days!r}")
        if days < 0:
            raise CalendarError(f"working days must not be negative, got {days}")
        anchor = self.next_working_moment(start)
        if days == 0:
            return anchor
        local_anchor = anchor.astimezone(self.tz)
        clock = local_anchor.time().replace(tzinfo=None)
        counted = 0
        target = local_anchor.date()
        for day in self._days_from(local_anchor.date() + timedelta(days=1)):
            if self.is_workday(day):
                counted += 1
                if counted == days:
                    target = day
                    break
        if any(begin <= clock < end for begin, end in self.hours.periods):
            return datetime.combine(target, clock, tzinfo=self.tz).astimezone(UTC)
        return self._periods(target)[-1][1]

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time elapsed from ``a`` to ``b`` (zero if ``b`` is not after ``a``).

        The inverse of :meth:`add_working_time`: ``working_time_between(s, add_working_time(s, d)) == d``.
        """
        begin = _aware(a, "a")
        finish = _aware(b, "b")
        if finish <= begin:
            return timedelta(0)
        total = timedelta(0)
        last_day = self._local_date(finish)
        for day in self._days_from(self._local_date(begin)):
            if day > last_day:
                break
            for period_start, period_end in self._periods(day):
                overlap_start = max(period_start, begin)
                overlap_end = min(period_end, finish)
                if overlap_end > overlap_start:
                    total += overlap_end - overlap_start
        return total


# ------------------------------------------------------------------------------------------ severity


class Severity(StrEnum):
    """Case severity, red being the most urgent (the usual four-colour warning scale)."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"


SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)
"""The severity values, 红 橙 黄 蓝, most urgent first: what inputs are validated against, lists sort by."""

SEVERITY_FACTORS: Mapping[Severity, float] = MappingProxyType(
    {Severity.RED: 0.5, Severity.ORANGE: 0.75, Severity.YELLOW: 1.0, Severity.BLUE: 1.0}
)
"""How much of a category's limit each severity gets: red cases get half the time, orange three quarters,
yellow and blue the full limit. Read-only; pass another mapping to :func:`scaled` / :func:`deadline` to
change it."""


def _severity(value: Severity | str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        allowed = ", ".join(member.value for member in Severity)
        raise CalendarError(f"unknown severity {value!r}; expected one of {allowed}") from None


def _factor(severity: Severity | str, factors: Mapping[Severity, float]) -> float:
    level = _severity(severity)
    if level not in factors:
        raise CalendarError(f"no severity factor configured for {level.value!r}")
    factor = factors[level]
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor < math.inf:
        raise CalendarError(f"severity factor for {level.value!r} must be a positive number, got {factor!r}")
    return float(factor)


def scaled(
    limit: timedelta, severity: Severity | str, factors: Mapping[Severity, float] = SEVERITY_FACTORS
) -> timedelta:
    """``limit`` shortened (or kept) for ``severity``: a red case's 4 working hours become 2."""
    return limit * _factor(severity, factors)


# ------------------------------------------------------------------------------------------ limits

TimeUnit = Literal["working_hours", "working_days", "hours"]
_UNITS: tuple[str, ...] = get_args(TimeUnit)
_SHORT_UNITS: Mapping[str, TimeUnit] = MappingProxyType(
    {"wh": "working_hours", "wd": "working_days", "h": "hours"}
)
_LONG_TO_SHORT = {long: short for short, long in _SHORT_UNITS.items()}
_LIMIT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TimeLimit:
    """A category's limit as configured: an amount of working hours, working days or wall-clock hours.

    ``hours`` is for the few limits that run around the clock (e.g. an emergency to be handled within 24
    hours whatever the day). Fractional working days are allowed and are converted to working hours.
    """

    amount: float
    unit: TimeUnit

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise CalendarError(f"unknown time-limit unit {self.unit!r}; expected one of {', '.join(_UNITS)}")
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
            raise CalendarError(f"time-limit amount must be a finite number, got {amount!r}")
        if amount <= 0:
            raise CalendarError(f"time-limit amount must be greater than 0, got {amount!r}")

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """Parse the compact form used in category configuration: ``"4wh"``, ``"20wd"``, ``"24h"``."""
        if not isinstance(text, str):
            raise CalendarError(f"time limit must be a string like '4wh', got {text!r}")
        match = _LIMIT_RE.match(text)
        unit = _SHORT_UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise CalendarError(
                f"bad time limit {text!r}; expected a number followed by wh (working hours), "
                "wd (working days) or h (hours), e.g. '4wh'"
            )
        return cls(float(match.group(1)), unit)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TimeLimit:
        """Build from ``{"amount": 4, "unit": "working_hours"}`` (the JSON form of a limit)."""
        if not isinstance(data, Mapping):
            raise CalendarError(f"time limit must be a mapping with amount and unit, got {data!r}")
        missing = {"amount", "unit"} - set(data)
        extra = set(data) - {"amount", "unit"}
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                problems.append(f"unexpected {', '.join(sorted(map(str, extra)))}")
            raise CalendarError(f"bad time limit {dict(data)!r}: {'; '.join(problems)}")
        amount, unit = data["amount"], data["unit"]
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise CalendarError(f"time-limit amount must be a number, got {amount!r}")
        if not isinstance(unit, str) or unit not in _UNITS:
            raise CalendarError(f"unknown time-limit unit {unit!r}; expected one of {', '.join(_UNITS)}")
        return cls(float(amount), cast(TimeUnit, unit))

    def to_dict(self) -> dict[str, object]:
        return {"amount": self.amount, "unit": self.unit}

    def __str__(self) -> str:
        return f"{self.amount:g}{_LONG_TO_SHORT[self.unit]}"


@dataclass(frozen=True)
class Deadline:
    """When a case's clock started, when to warn, and when it is due (all aware UTC)."""

    start: datetime
    warn_at: datetime
    due_at: datetime

    def __post_init__(self) -> None:
        for name in ("start", "warn_at", "due_at"):
            object.__setattr__(self, name, _aware(getattr(self, name), name))
        if not self.start <= self.warn_at <= self.due_at:
            raise CalendarError(
                f"deadline times out of order: start {self.start.isoformat()}, "
                f"warn_at {self.warn_at.isoformat()}, due_at {self.due_at.isoformat()}"
            )


def deadline(
    calendar: WorkingCalendar,
    start: datetime,
    limit: TimeLimit,
    severity: Severity | str = Severity.YELLOW,
    warning_fraction: float = 0.8,
    *,
    factors: Mapping[Severity, float] = SEVERITY_FACTORS,
) -> Deadline:
    """The deadline for a case started at ``start`` with ``limit`` at ``severity``.

    * ``working_hours``: ``start`` plus the severity-scaled working time.
    * ``working_days``: with factor 1 and a whole number of days, :meth:`WorkingCalendar.add_working_days`
      (same wall-clock position N working days later). Otherwise (red/orange, or fractional days) the days are
      converted to working hours, ``days × per_day × factor``, because "half of 3 working days" has no
      sensible wall-clock position; e.g. 20 working days for a red case is 75 working hours with the default
      7.5-hour day.
    * ``hours``: plain wall-clock arithmetic (holidays and nights count).

    ``warn_at`` is where ``warning_fraction`` of the time between start and due has elapsed, measured in
    working time for working units (so an 80 % warning for a Friday-afternoon case falls on Monday morning,
    not on Sunday) and in wall-clock time for ``hours``.
    """
    begin = _aware(start, "start")
    if isinstance(warning_fraction, bool) or not isinstance(warning_fraction, int | float):
        raise CalendarError(f"warning_fraction must be a number, got {warning_fraction!r}")
    if not 0 < warning_fraction <= 1:
        raise CalendarError(f"warning_fraction must be in (0, 1], got {warning_fraction!r}")
    factor = _factor(severity, factors)

    if limit.unit == "hours":
        due = begin + timedelta(hours=limit.amount) * factor
        return Deadline(begin, begin + (due - begin) * warning_fraction, due)

    if limit.unit == "working_days" and factor == 1 and float(limit.amount).is_integer():
        due = calendar.add_working_days(begin, int(limit.amount))
    else:
        per_unit = calendar.hours.per_day if limit.unit == "working_days" else timedelta(hours=1)
        due = calendar.add_working_time(begin, per_unit * limit.amount * factor)
    warn = calendar.add_working_time(begin, calendar.working_time_between(begin, due) * warning_fraction)
    return Deadline(begin, min(warn, due), due)


DeadlineState = Literal["ok", "warning", "overdue"]


def state(deadline: Deadline, now: datetime) -> DeadlineState:
    """``ok`` before ``warn_at``, ``warning`` from ``warn_at`` through ``due_at``, then ``overdue``.

    A case finished exactly at its due time is on time, hence overdue only strictly after ``due_at``.
    """
    moment = _aware(now, "now")
    if moment > deadline.due_at:
        return "overdue"
    if moment >= deadline.warn_at:
        return "warning"
    return "ok"
