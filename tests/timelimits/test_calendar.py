"""Working-time arithmetic on the 2026 Chinese calendar.

Fixture dates are checked against chinese_calendar itself (test_fixture_dates_match_the_2026_calendar), so
a data update that moved a holiday would fail loudly there instead of confusing the arithmetic tests.
"""

from __future__ import annotations

import random
import time as timer
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest

from app.timelimits.calendar import (
    CHINA_STANDARD_TIME,
    DEFAULT_WORKING_HOURS,
    SEVERITY_FACTORS,
    CalendarError,
    Deadline,
    Severity,
    TimeLimit,
    WorkingCalendar,
    WorkingHours,
    deadline,
    scaled,
    state,
)

CST = CHINA_STANDARD_TIME

# A plain week in March 2026 (no holidays): Monday 2 .. Friday 6, weekend 7-8, Monday 9.
MON = date(2026, 3, 2)
FRI = date(2026, 3, 6)
SAT = date(2026, 3, 7)
SUN = date(2026, 3, 8)
NEXT_MON = date(2026, 3, 9)
# National Day 2026: Thursday 1 .. Wednesday 7 October; Wednesday 30 September and Thursday 8 October work.
BEFORE_NATIONAL_DAY = date(2026, 9, 30)
NATIONAL_DAY = [date(2026, 10, d) for d in range(1, 8)]
AFTER_NATIONAL_DAY = date(2026, 10, 8)
# 调休: Saturday 10 October 2026 is a make-up working day; Saturday 17 October is an ordinary weekend.
MAKE_UP_SATURDAY = date(2026, 10, 10)
ORDINARY_SATURDAY = date(2026, 10, 17)


def cst(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CST)


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


# ------------------------------------------------------------------------------- the fixture dates


def test_fixture_dates_match_the_2026_calendar() -> None:
    for day in (MON, FRI, NEXT_MON, BEFORE_NATIONAL_DAY, AFTER_NATIONAL_DAY, date(2026, 10, 9)):
        assert day.weekday() < 5 and chinese_calendar.is_workday(day), day
    for day in (SAT, SUN, ORDINARY_SATURDAY):
        assert day.weekday() >= 5 and not chinese_calendar.is_workday(day), day
    assert [MON + timedelta(days=i) for i in range(5)] == chinese_calendar.get_workdays(MON, FRI)
    for day in NATIONAL_DAY:
        assert chinese_calendar.is_holiday(day), day
        assert chinese_calendar.get_holiday_detail(day) == (True, chinese_calendar.Holiday.national_day.value)
    # Find the 2026 make-up working days (weekend days that are working days) from the data itself.
    make_up_days = [
        day
        for day in chinese_calendar.get_workdays(date(2026, 1, 1), date(2026, 12, 31), include_weekends=True)
        if day.weekday() >= 5
    ]
    assert make_up_days, "2026 should have make-up working days"
    assert MAKE_UP_SATURDAY in make_up_days
    assert MAKE_UP_SATURDAY.weekday() == 5


# ----------------------------------------------------------------------------------- working hours


def test_default_working_hours() -> None:
    assert DEFAULT_WORKING_HOURS.periods == ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    assert DEFAULT_WORKING_HOURS.per_day == timedelta(hours=7, minutes=30)
    assert str(DEFAULT_WORKING_HOURS) == "08:30-12:00,13:30-17:30"


def test_parse_working_hours_tolerates_spaces_and_single_digit_hours() -> None:
    hours = WorkingHours.parse(" 9:00 - 12:00 , 13:00-18:00 ")
    assert hours.periods == ((time(9), time(12)), (time(13), time(18)))
    assert hours.per_day == timedelta(hours=8)
    assert WorkingHours.parse("08:00-12:00,12:00-16:00").per_day == timedelta(hours=8)  # touching is fine


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("08:30", "'08:30'"),
        ("08:30-12:00-13:00", "'08:30-12:00-13:00'"),
        ("8h-12:00", "'8h'"),
        ("08:30-24:00", "'24:00'"),
        ("08:30-12:60", "'12:60'"),
        ("12:00-08:30", "start must be before end"),
        ("08:30-08:30", "start must be before end"),
        ("13:30-17:30,08:30-12:00", "'08:30-12:00'"),
        ("08:30-12:00,11:00-17:30", "must not overlap"),
        ("08:30-12:00,,13:30-17:30", "period 2 is empty"),
    ],
)
def test_bad_working_hours_name_the_bad_part(spec: str, fragment: str) -> None:
    with pytest.raises(CalendarError) as caught:
        WorkingHours.parse(spec)
    assert fragment in str(caught.value)


def test_working_hours_constructor_validates_too() -> None:
    with pytest.raises(CalendarError, match="at least one period"):
        WorkingHours(())
    with pytest.raises(CalendarError, match="start must be before end"):
        WorkingHours(((time(12), time(9)),))
    with pytest.raises(CalendarError, match="overlap"):
        WorkingHours(((time(9), time(12)), (time(11), time(13))))


# ------------------------------------------------------------------------------ within a single day


def test_results_are_aware_utc(cal: WorkingCalendar) -> None:
    due = cal.add_working_hours(cst(MON, 9), 2)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def test_within_a_morning(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(cst(MON, 9), 2) == cst(MON, 11)


def test_lunch_is_skipped(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(cst(MON, 11), 2) == cst(MON, 14, 30)


def test_evening_carries_over_to_the_next_morning(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(cst(MON, 17), 1) == cst(MON + timedelta(days=1), 9)


def test_a_limit_ending_exactly_at_a_period_end_returns_that_end(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(cst(MON, 17), 0.5) == cst(MON, 17, 30)
    assert cal.add_working_hours(cst(MON, 9), 3) == cst(MON, 12)
    assert cal.add_working_hours(cst(MON, 8, 30), 7.5) == cst(MON, 17, 30)
    assert cal.add_working_hours(cst(MON, 13, 30), 4) == cst(MON, 17, 30)


def test_zero_working_time_is_due_at_once(cal: WorkingCalendar) -> None:
    assert cal.add_working_time(cst(SAT, 10), timedelta(0)) == cst(SAT, 10)
    assert cal.add_working_days(cst(SAT, 10), 0) == cst(NEXT_MON, 8, 30)


def test_is_working_time_uses_half_open_periods(cal: WorkingCalendar) -> None:
    assert cal.is_working_time(cst(MON, 8, 30))
    assert cal.is_working_time(cst(MON, 11, 59))
    assert not cal.is_working_time(cst(MON, 12))
    assert not cal.is_working_time(cst(MON, 13, 29))
    assert cal.is_working_time(cst(MON, 13, 30))
    assert not cal.is_working_time(cst(MON, 17, 30))
    assert not cal.is_working_time(cst(MON, 8, 29))
    assert not cal.is_working_time(cst(SAT, 10))
    # The same instant given in UTC: 02:00 UTC is 10:00 in Beijing.
    assert cal.is_working_time(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))


def test_next_working_moment(cal: WorkingCalendar) -> None:
    assert cal.next_working_moment(cst(MON, 10)) == cst(MON, 10)
    assert cal.next_working_moment(cst(MON, 12)) == cst(MON, 13, 30)
    assert cal.next_working_moment(cst(MON, 6)) == cst(MON, 8, 30)
    assert cal.next_working_moment(cst(FRI, 17, 30)) == cst(NEXT_MON, 8, 30)
    assert cal.next_working_moment(cst(SAT, 10)) == cst(NEXT_MON, 8, 30)


# ------------------------------------------------------------------------ weekends and holidays


def test_across_a_weekend(cal: WorkingCalendar) -> None:
    # Friday 16:30-17:30 is one hour; the remaining three run Monday 08:30-11:30.
    assert cal.add_working_hours(cst(FRI, 16, 30), 4) == cst(NEXT_MON, 11, 30)


def test_across_national_day(cal: WorkingCalendar) -> None:
    # 30 Sep 16:00-17:30 = 1.5 h; 1-7 Oct off; 8 Oct 08:30-12:00 = 3.5 h, then 13:30 + 3 h.
    due = cal.add_working_hours(cst(BEFORE_NATIONAL_DAY, 16), 8)
    assert due == cst(AFTER_NATIONAL_DAY, 16, 30)
    for day in NATIONAL_DAY:
        assert not cal.is_working_time(cst(day, 10))


def test_a_make_up_saturday_is_working_time(cal: WorkingCalendar) -> None:
    assert cal.is_working_time(cst(MAKE_UP_SATURDAY, 10))
    assert not cal.is_working_time(cst(ORDINARY_SATURDAY, 10))
    friday = MAKE_UP_SATURDAY - timedelta(days=1)
    assert cal.add_working_hours(cst(friday, 17), 1) == cst(MAKE_UP_SATURDAY, 9)
    assert cal.next_working_moment(cst(friday, 18)) == cst(MAKE_UP_SATURDAY, 8, 30)


def test_start_outside_working_hours(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(cst(SAT, 10), 2) == cst(NEXT_MON, 10, 30)  # weekend
    assert cal.add_working_hours(cst(MON, 12, 30), 2) == cst(MON, 15, 30)  # lunch
    assert cal.add_working_hours(cst(MON, 22), 2) == cst(MON + timedelta(days=1), 10, 30)  # night
    assert cal.add_working_hours(cst(MON + timedelta(days=1), 3), 2) == cst(MON + timedelta(days=1), 10, 30)


def test_a_custom_workday_function_and_hours() -> None:
    def weekdays_only(day: date) -> bool:
        return day.weekday() < 5

    cal = WorkingCalendar(WorkingHours.parse("09:00-17:00"), CST, weekdays_only)
    # National Day is a working day for this calendar.
    assert cal.add_working_hours(cst(BEFORE_NATIONAL_DAY, 16), 8) == cst(date(2026, 10, 1), 16)


# ----------------------------------------------------------------------------------- working days


def test_one_working_day_from_friday_is_monday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(cst(FRI, 10), 1) == cst(NEXT_MON, 10)
    assert cal.add_working_days(cst(MON, 10), 5) == cst(NEXT_MON, 10)


def test_working_days_across_national_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(cst(BEFORE_NATIONAL_DAY, 10), 1) == cst(AFTER_NATIONAL_DAY, 10)
    # 8 Oct (Thu), 9 Oct (Fri), 10 Oct (make-up Saturday).
    assert cal.add_working_days(cst(BEFORE_NATIONAL_DAY, 15), 3) == cst(MAKE_UP_SATURDAY, 15)


def test_working_days_from_outside_working_time_count_from_the_next_working_moment(
    cal: WorkingCalendar,
) -> None:
    assert cal.add_working_days(cst(SAT, 10), 1) == cst(NEXT_MON + timedelta(days=1), 8, 30)
    assert cal.add_working_days(cst(MON, 12, 15), 1) == cst(MON + timedelta(days=1), 13, 30)
    assert cal.add_working_days(cst(MON, 20), 1) == cst(MON + timedelta(days=2), 8, 30)


def test_working_days_match_per_day_working_time(cal: WorkingCalendar) -> None:
    start = cst(FRI, 10)
    due = cal.add_working_days(start, 3)
    assert cal.working_time_between(start, due) == 3 * DEFAULT_WORKING_HOURS.per_day


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_working_day_counts(cal: WorkingCalendar, bad: object) -> None:
    with pytest.raises(CalendarError):
        cal.add_working_days(cst(MON, 10), bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- working time between


def test_working_time_between(cal: WorkingCalendar) -> None:
    assert cal.working_time_between(cst(MON, 9), cst(MON, 11)) == timedelta(hours=2)
    assert cal.working_time_between(cst(MON, 11), cst(MON, 14, 30)) == timedelta(hours=2)
    assert cal.working_time_between(cst(FRI, 16, 30), cst(NEXT_MON, 11, 30)) == timedelta(hours=4)
    assert cal.working_time_between(cst(SAT, 0), cst(SUN, 23)) == timedelta(0)
    assert cal.working_time_between(cst(MON, 11), cst(MON, 9)) == timedelta(0)
    assert cal.working_time_between(cst(MON, 11), cst(MON, 11)) == timedelta(0)
    week = cal.working_time_between(cst(MON, 0), cst(NEXT_MON, 0))
    assert week == 5 * DEFAULT_WORKING_HOURS.per_day


def test_between_inverts_add_for_random_starts_and_limits(cal: WorkingCalendar) -> None:
    rng = random.Random(20260302)
    year_start = datetime(2026, 1, 1, tzinfo=CST)
    for _ in range(400):
        # Starts anywhere (nights, weekends, holidays) before November so the result stays inside 2026.
        start = year_start + timedelta(minutes=rng.randrange(0, 304 * 24 * 60), seconds=rng.randrange(60))
        delta = timedelta(minutes=rng.randrange(0, 150 * 60), seconds=rng.randrange(60))
        due = cal.add_working_time(start, delta)
        assert due >= start
        assert cal.working_time_between(start, due) == delta, (start, delta, due)
        if delta:
            # The due time is working time or the end of a period, never the middle of a break.
            just_before = due - timedelta(seconds=1)
            assert cal.is_working_time(due) or cal.is_working_time(just_before), (start, delta, due)


def test_add_reaches_the_earliest_moment_with_that_much_working_time(cal: WorkingCalendar) -> None:
    rng = random.Random(7)
    base = datetime(2026, 9, 1, tzinfo=CST)
    for _ in range(200):
        a = base + timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        b = a + timedelta(minutes=rng.randrange(0, 10 * 24 * 60))
        reached = cal.add_working_time(a, cal.working_time_between(a, b))
        assert reached <= b
        assert cal.working_time_between(reached, b) == timedelta(0)


# -------------------------------------------------------------------------------------- severity


def test_severity_factors() -> None:
    assert SEVERITY_FACTORS[Severity.RED] == 0.5
    assert SEVERITY_FACTORS[Severity.ORANGE] == 0.75
    assert SEVERITY_FACTORS[Severity.YELLOW] == SEVERITY_FACTORS[Severity.BLUE] == 1.0
    assert scaled(timedelta(hours=4), Severity.RED) == timedelta(hours=2)
    assert scaled(timedelta(hours=4), "orange") == timedelta(hours=3)
    assert scaled(timedelta(hours=4), Severity.BLUE) == timedelta(hours=4)
    with pytest.raises(CalendarError, match="purple"):
        scaled(timedelta(hours=4), "purple")
    with pytest.raises(TypeError):
        SEVERITY_FACTORS[Severity.RED] = 0.1  # type: ignore[index]


def test_custom_severity_factors() -> None:
    factors = {Severity.RED: 0.25, Severity.ORANGE: 0.5, Severity.YELLOW: 1.0, Severity.BLUE: 2.0}
    assert scaled(timedelta(hours=4), Severity.BLUE, factors) == timedelta(hours=8)
    with pytest.raises(CalendarError, match="red"):
        scaled(timedelta(hours=4), Severity.RED, {Severity.RED: 0})


# ------------------------------------------------------------------------------------- time limits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4wh", TimeLimit(4, "working_hours")),
        ("20wd", TimeLimit(20, "working_days")),
        ("24h", TimeLimit(24, "hours")),
        (" 1.5 WH ", TimeLimit(1.5, "working_hours")),
    ],
)
def test_parse_time_limit(text: str, expected: TimeLimit) -> None:
    assert TimeLimit.parse(text) == expected


def test_time_limit_dict_round_trip() -> None:
    limit = TimeLimit.from_dict({"amount": 4, "unit": "working_hours"})
    assert limit == TimeLimit(4, "working_hours")
    assert TimeLimit.from_dict(limit.to_dict()) == limit
    assert str(limit) == "4wh"
    assert TimeLimit.parse(str(TimeLimit(1.5, "working_days"))) == TimeLimit(1.5, "working_days")


@pytest.mark.parametrize("text", ["4", "wh", "0wh", "-1wh", "4 weeks", "4w h", "four wh", ""])
def test_bad_time_limit_strings(text: str) -> None:
    with pytest.raises(CalendarError):
        TimeLimit.parse(text)


@pytest.mark.parametrize(
    "data",
    [
        {"amount": 4, "unit": "fortnights"},
        {"amount": "4", "unit": "working_hours"},
        {"amount": True, "unit": "working_hours"},
        {"amount": 0, "unit": "working_hours"},
        {"amount": float("nan"), "unit": "working_hours"},
        {"unit": "working_hours"},
        {"amount": 4, "unit": "working_hours", "severity": "red"},
    ],
)
def test_bad_time_limit_dicts(data: dict[str, object]) -> None:
    with pytest.raises(CalendarError):
        TimeLimit.from_dict(data)


def test_time_limit_constructor_validates() -> None:
    with pytest.raises(CalendarError, match="greater than 0"):
        TimeLimit(0, "working_hours")
    with pytest.raises(CalendarError, match="minutes"):
        TimeLimit(4, "minutes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- deadlines


def test_deadline_in_working_hours_warns_at_80_percent_of_working_time(cal: WorkingCalendar) -> None:
    # Exposed garbage reported Friday 16:30: 4 working hours -> Monday 11:30. 80 % = 3 h 12 min of working
    # time: Friday's last hour, then 2 h 12 min on Monday. Wall-clock 80 % would have been Sunday night.
    d = deadline(cal, cst(FRI, 16, 30), TimeLimit.parse("4wh"), Severity.YELLOW, 0.8)
    assert d.start == cst(FRI, 16, 30)
    assert d.due_at == cst(NEXT_MON, 11, 30)
    assert d.warn_at == cst(NEXT_MON, 10, 42)
    assert cal.is_working_time(d.warn_at)
    assert cal.working_time_between(d.start, d.warn_at) == timedelta(hours=3, minutes=12)
    assert all(moment.tzinfo is UTC for moment in (d.start, d.warn_at, d.due_at))


def test_red_cases_get_half_the_time(cal: WorkingCalendar) -> None:
    d = deadline(cal, cst(MON, 9), TimeLimit.parse("4wh"), Severity.RED, 0.8)
    assert d.due_at == cst(MON, 11)
    orange = deadline(cal, cst(MON, 9), TimeLimit.parse("4wh"), "orange", 0.8)
    assert orange.due_at == cst(MON, 12)


def test_working_days_deadline_with_and_without_scaling(cal: WorkingCalendar) -> None:
    # Illegal structure: removed within 20 working days. Yellow: same clock time 20 working days later.
    limit = TimeLimit.parse("20wd")
    yellow = deadline(cal, cst(MON, 9), limit, Severity.YELLOW, 0.8)
    assert yellow.due_at == cal.add_working_days(cst(MON, 9), 20) == cst(date(2026, 3, 30), 9)
    # Red: 20 × 7.5 h × 0.5 = 75 working hours = exactly ten working days of time.
    red = deadline(cal, cst(MON, 9), limit, Severity.RED, 0.8)
    assert red.due_at == cal.add_working_time(cst(MON, 9), timedelta(hours=75)) == cst(date(2026, 3, 16), 9)
    assert cal.working_time_between(red.start, red.warn_at) == timedelta(hours=60)


def test_working_days_deadline_across_national_day(cal: WorkingCalendar) -> None:
    d = deadline(cal, cst(BEFORE_NATIONAL_DAY, 10), TimeLimit(1, "working_days"), Severity.BLUE, 0.5)
    assert d.due_at == cst(AFTER_NATIONAL_DAY, 10)
    # Half of 7.5 working hours from 30 Sep 10:00: 2 h that morning, 1 h 45 min after lunch.
    assert d.warn_at == cst(BEFORE_NATIONAL_DAY, 15, 15)


def test_wall_clock_hours_deadline_ignores_the_calendar(cal: WorkingCalendar) -> None:
    d = deadline(cal, cst(SAT, 10), TimeLimit.parse("24h"), Severity.YELLOW, 0.8)
    assert d.due_at == cst(SUN, 10)
    assert d.warn_at == cst(SUN, 5, 12)
    red = deadline(cal, cst(SAT, 10), TimeLimit.parse("24h"), Severity.RED, 0.8)
    assert red.due_at == cst(SAT, 22)


def test_deadline_rejects_bad_input(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarError, match="warning_fraction"):
        deadline(cal, cst(MON, 9), TimeLimit.parse("4wh"), Severity.RED, 1.5)
    with pytest.raises(CalendarError, match="warning_fraction"):
        deadline(cal, cst(MON, 9), TimeLimit.parse("4wh"), Severity.RED, 0)
    with pytest.raises(CalendarError, match="timezone-aware"):
        deadline(cal, datetime(2026, 3, 2, 9), TimeLimit.parse("4wh"), Severity.RED, 0.8)
    with pytest.raises(CalendarError, match="out of order"):
        Deadline(cst(MON, 10), cst(MON, 9), cst(MON, 11))


def test_state_moves_from_ok_to_warning_to_overdue(cal: WorkingCalendar) -> None:
    d = deadline(cal, cst(MON, 11), TimeLimit.parse("4wh"), Severity.YELLOW, 0.8)
    assert (d.warn_at, d.due_at) == (cst(MON, 15, 42), cst(MON, 16, 30))
    assert state(d, cst(MON, 11)) == "ok"
    assert state(d, cst(MON, 15, 41)) == "ok"
    assert state(d, cst(MON, 15, 42)) == "warning"
    assert state(d, cst(MON, 16, 30)) == "warning"  # due exactly now is still on time
    assert state(d, cst(MON, 16, 30) + timedelta(seconds=1)) == "overdue"
    assert state(d, cst(NEXT_MON, 9)) == "overdue"


# ------------------------------------------------------------------------------ input and data gaps


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    naive = datetime(2026, 3, 2, 9)
    for call in (
        lambda: cal.is_working_time(naive),
        lambda: cal.next_working_moment(naive),
        lambda: cal.add_working_hours(naive, 1),
        lambda: cal.working_time_between(naive, naive),
    ):
        with pytest.raises(CalendarError, match="timezone-aware"):
            call()


def test_negative_or_nonsense_amounts_are_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarError, match="negative"):
        cal.add_working_time(cst(MON, 9), timedelta(hours=-1))
    with pytest.raises(CalendarError, match="finite"):
        cal.add_working_hours(cst(MON, 9), float("inf"))


def test_a_year_without_holiday_data_names_the_year(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarError, match=r"no holiday data for 2031 .*2031-03-03.*update chinesecalendar"):
        cal.add_working_hours(cst(date(2031, 3, 3), 9), 1)


def test_running_into_the_next_year_without_data_fails_instead_of_guessing(cal: WorkingCalendar) -> None:
    last_day = date(2026, 12, 31)
    assert cal.add_working_hours(cst(last_day, 9), 2) == cst(last_day, 11)  # stays inside 2026
    assert cal.working_time_between(cst(last_day, 9), cst(last_day, 18)) == timedelta(hours=7)
    with pytest.raises(CalendarError, match="2027"):
        cal.add_working_hours(cst(last_day, 16), 8)


def test_not_implemented_from_the_workday_function_becomes_calendar_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_data(day: date) -> bool:
        raise NotImplementedError(f"no available data for year {day.year}")

    cal = WorkingCalendar(is_workday=no_data)
    with pytest.raises(CalendarError, match="no holiday data for 2026"):
        cal.is_working_time(cst(MON, 9))

    # The default is chinese_calendar's own function, bound when the module is imported.
    monkeypatch.setattr(chinese_calendar, "is_workday", no_data)
    assert WorkingCalendar().is_working_time(cst(MON, 9))


def test_a_calendar_without_working_days_fails_instead_of_looping() -> None:
    cal = WorkingCalendar(is_workday=lambda day: False)
    with pytest.raises(CalendarError, match="no working day"):
        cal.add_working_hours(cst(MON, 9), 1)


# ------------------------------------------------------------------------------------ performance


def test_720_working_hours_is_fast() -> None:
    start = cst(date(2026, 1, 5), 9)
    best = float("inf")
    for _ in range(3):
        cal = WorkingCalendar()  # cold cache each time: the chinese_calendar look-ups are part of the cost
        began = timer.perf_counter()
        due = cal.add_working_hours(start, 720)
        best = min(best, timer.perf_counter() - began)
    assert best < 0.05, f"add_working_hours(720) took {best * 1000:.1f} ms"
    assert WorkingCalendar().working_time_between(start, due) == timedelta(hours=720)
