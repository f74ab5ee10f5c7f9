"""Timer start values read as plans of occurrences (``app.workflow.timer_plans``; pure, no database): each
occurrence counted from the anchor, a counted cycle ends, a duration-only cycle counts from its planning,
and what is not a timer start value is refused in zh-CN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.workflow.timer_plans import FOREVER, PlanError, parse

PLANNED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_daily_cycle_at_eight_beijing_time() -> None:
    plan = parse("timeCycle", "R/2026-11-03T08:00:00+08:00/P1D", PLANNED)
    assert plan.repetitions == FOREVER
    assert [plan.occurrence(i) for i in range(3)] == [
        datetime(2026, 11, 3, 0, 0, tzinfo=UTC) + timedelta(days=d) for d in range(3)
    ]
    # The first at or after a moment, far on: counted, not stepped through one by one.
    assert plan.first_index_from(datetime(2027, 11, 3, 0, 0, 1, tzinfo=UTC)) == 366
    assert plan.last_index_until(datetime(2026, 11, 7, 3, 0, tzinfo=UTC), 0) == 4


def test_a_weekly_cycle_of_five_ends() -> None:
    plan = parse("timeCycle", "R5/2026-11-02T08:00:00+08:00/P1W", PLANNED)
    assert plan.occurrence(4) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert plan.has(4) and not plan.has(5)
    assert plan.first_index_from(datetime(2026, 12, 1, tzinfo=UTC)) is None
    assert plan.last_index_until(datetime(2027, 1, 1, tzinfo=UTC), 2) == 4


def test_a_monthly_cycle_counts_each_occurrence_from_the_anchor() -> None:
    plan = parse("timeCycle", "R/2026-01-15T08:00:00+08:00/P1M", PLANNED)
    assert [plan.occurrence(i).day for i in range(14)] == [15] * 14  # no drift over a year and more


def test_a_duration_only_cycle_and_a_duration_count_from_the_planning() -> None:
    hourly = parse("timeCycle", "R3/PT1H", PLANNED)
    assert (hourly.anchor, hourly.repetitions) == (PLANNED + timedelta(hours=1), 3)
    once = parse("timeDuration", "PT30M", PLANNED)
    assert (once.anchor, once.repetitions, once.period) == (PLANNED + timedelta(minutes=30), 1, None)
    assert once.first_index_from(PLANNED + timedelta(hours=1)) is None


def test_a_date_is_once() -> None:
    plan = parse("timeDate", "2027-01-01T08:00:00+08:00", PLANNED)
    assert plan.anchor == datetime(2027, 1, 1, 0, 0, tzinfo=UTC) and plan.repetitions == 1
    assert plan.last_index_until(datetime(2027, 6, 1, tzinfo=UTC), 0) == 0


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("timeDate", "2027-01-01T08:00:00", "没有时区"),
        ("timeDate", "tomorrow", "不是 ISO 8601 日期时间"),
        ("timeCycle", "R/P0D", "为零"),
        ("timeCycle", "Rx/PT1H", "不是数字"),
        ("timeCycle", "R0/PT1H", "重复 0 次"),
        ("timeCycle", "PT1H", "应写作"),
        ("timeDuration", "1 hour", "不是 ISO 8601 时长"),
        ("timeCycle", 42, "必须是文本"),
    ],
)
def test_what_is_not_a_timer_start_value_is_refused(kind: str, value: object, reason: str) -> None:
    with pytest.raises(PlanError) as refused:
        parse(kind, value, PLANNED)
    assert reason in str(refused.value)
