"""Holiday schedules beyond chinesecalendar's data: a schedule file, the weekday fallback flagged as
provisional, and the refuse policy. The 2027 dates below are made up for the test: the real schedule is
whatever the State Council publishes."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.config import ConfigError, Settings
from app.extensions import db
from app.timelimits.calendar import CalendarError, WorkingCalendar
from app.timelimits.holidays import ChinaWorkdays, load_schedule, uncovered_years
from tests.helpers import complete, report

CST = timezone(timedelta(hours=8))
FICTIONAL_2027 = {
    "2027": {"source": "test", "holidays": ["2027-01-01", "2027-01-04"], "workdays": ["2027-01-09"]}
}


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "holidays.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_the_package_answers_for_its_years_and_weekdays_stand_in_beyond():
    workdays = ChinaWorkdays()
    assert workdays(date(2026, 10, 1)) is False  # National Day, from chinesecalendar
    assert workdays(date(2026, 10, 10)) is True  # a make-up Saturday
    assert workdays(date(2027, 1, 1)) is True  # a Friday; no data yet, so a plain weekday
    assert workdays(date(2027, 1, 2)) is False
    assert workdays.covers(2026) and not workdays.covers(2027)
    assert uncovered_years(workdays, date(2026, 12, 20), date(2027, 1, 20)) == [2027]


def test_a_schedule_file_covers_a_new_year(tmp_path):
    workdays = ChinaWorkdays(load_schedule(_write(tmp_path, FICTIONAL_2027)))
    assert workdays(date(2027, 1, 1)) is False
    assert workdays(date(2027, 1, 4)) is False  # a Monday off
    assert workdays(date(2027, 1, 5)) is True
    assert workdays(date(2027, 1, 9)) is True  # a make-up Saturday
    assert workdays(date(2027, 1, 10)) is False
    assert workdays.covers(2027)
    assert uncovered_years(workdays, date(2026, 12, 20), date(2027, 1, 20)) == []
    # counting: Thursday 31 December 16:00 + 4 working hours → 1.5 h then Tuesday 5 January 11:00
    calendar = WorkingCalendar(is_workday=workdays)
    due = calendar.add_working_hours(datetime(2026, 12, 31, 16, 0, tzinfo=CST), 4)
    assert due == datetime(2027, 1, 5, 11, 0, tzinfo=CST)


def test_refuse_policy_names_the_year():
    workdays = ChinaWorkdays(unknown_years="refuse")
    with pytest.raises(CalendarError, match="no holiday data for 2027"):
        workdays(date(2027, 3, 1))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Expecting property name"),
        ([], "expected an object keyed by year"),
        ({"27": {}}, "a year must be 4 digits"),
        ({"2027": {"holidays": ["2027-02-30"]}}, "is not a YYYY-MM-DD date"),
        ({"2027": {"holidays": ["2028-01-01"]}}, "is not in 2027"),
        ({"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}}, "listed twice"),
        ({"2027": {"holiday": []}}, "expected an object with source, holidays and workdays"),
    ],
)
def test_a_bad_schedule_file_is_refused_at_start_up(tmp_path, content, message):
    path = _write(tmp_path, content)
    with pytest.raises(CalendarError, match=message):
        load_schedule(path)
    with pytest.raises(ConfigError, match="HOLIDAY_SCHEDULE_FILE"):
        Settings.from_env(database_url="sqlite://", holiday_schedule_file=path)


def test_an_unknown_policy_is_refused_at_start_up():
    with pytest.raises(ConfigError, match="UNKNOWN_HOLIDAY_YEARS"):
        Settings.from_env(database_url="sqlite://", unknown_holiday_years="guess")


def _dispatch_late_december(client: Any, auth: Any, clock: Any) -> Case:
    clock.set(datetime(2026, 12, 30, 9, 0, tzinfo=CST))
    key = report(client, auth)["key"]  # 暴露垃圾: handle 4wh, close in working days
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    complete(client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker"})
    db.session.expire_all()
    return db.session.execute(select(Case).where(Case.key == key)).scalar_one()


def _limit_event(case: Case) -> AuditEvent:
    return db.session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "case.time_limit_set")
    ).scalar_one()


def test_a_limit_reaching_into_an_unpublished_year_is_dispatched_and_flagged(
    users, auth, client, clock, deployed
):
    case = _dispatch_late_december(client, auth, clock)
    assert case.due_at is not None and case.close_due_at is not None
    assert case.close_due_at.year == 2027
    assert _limit_event(case).after["provisional_years"] == [2027]


def test_the_app_calendar_reads_the_schedule_file(make_app, tmp_path):
    app = make_app("sqlite", holiday_schedule_file=_write(tmp_path, FICTIONAL_2027))
    with app.app_context():
        workdays = app.extensions["gridcase.calendar"].workday_source
        assert workdays.covers(2027)
        assert workdays(date(2027, 1, 4)) is False
        db.session.remove()
        db.engine.dispose()
