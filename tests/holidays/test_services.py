"""The holiday schedule file as the admin pages change it (app/holidays/services.py): a year's entry checked
before anything is written, the file rewritten with the other years kept, the change audited, and every
calendar re-reading the file when it changed (another process's save counts at the next time limit)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import runtime
from app.audit.models import AuditEvent
from app.extensions import db
from app.holidays import services
from app.holidays.services import ScheduleRefused
from app.timelimits.holidays import ChinaWorkdays


@pytest.fixture
def app(make_app: Any, tmp_path: Path) -> Any:
    app = make_app("sqlite", holiday_schedule_file=tmp_path / "holidays.json")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _kinds(exc: ScheduleRefused) -> list[tuple[str, str, str]]:
    return [(p.field, p.kind, p.value) for p in exc.problems]


def test_dates_are_read_one_per_line_or_as_ranges():
    problems: list[Any] = []
    days = services.parse_dates(
        "2027-01-01\n2027-02-05 ~ 2027-02-07, 2027-03-01至2027-03-02\n\n", "h", problems
    )
    assert days == [
        date(2027, 1, 1),
        date(2027, 2, 5),
        date(2027, 2, 6),
        date(2027, 2, 7),
        date(2027, 3, 1),
        date(2027, 3, 2),
    ]
    assert problems == []
    services.parse_dates("2027-13-01\n2027-02-07 ~ 2027-02-05\n2027-01-01 ~ 2027-03-01", "h", problems)
    assert [(p.kind, p.value) for p in problems] == [
        ("not_a_date", "2027-13-01"),
        ("bad_range", "2027-02-07 ~ 2027-02-05"),
        ("bad_range", "2027-01-01 ~ 2027-03-01"),
    ]


def test_a_year_is_checked_as_a_whole():
    with pytest.raises(ScheduleRefused) as refused:
        services.checked_year(
            "2027",
            "x" * 201,
            [date(2027, 1, 1), date(2028, 1, 3), date(2027, 1, 1)],
            [date(2027, 1, 1), date(2027, 2, 22), date(2027, 2, 20)],
        )
    assert _kinds(refused.value) == [
        ("holidays", "other_year", "2028-01-03"),
        ("holidays", "twice", "2027-01-01"),
        ("workdays", "in_both", "2027-01-01"),
        ("workdays", "not_weekend", "2027-02-22"),
        ("source", "too_long", ""),
    ]
    assert refused.value.details["workdays"].startswith("2027-01-01 is both a holiday")
    with pytest.raises(ScheduleRefused) as refused:
        services.checked_year("27", "", [], [])
    assert _kinds(refused.value) == [("year", "bad_year", "27")]
    year = services.checked_year(
        " 2027 ", " 通知 ", [date(2027, 2, 5), date(2027, 1, 1)], [date(2027, 2, 20)]
    )
    assert year == services.YearSchedule(
        2027, "通知", (date(2027, 1, 1), date(2027, 2, 5)), (date(2027, 2, 20),)
    )


def test_saving_a_year_keeps_the_others_and_is_audited(app, users):
    path = app.extensions["gridcase.settings"].holiday_schedule_file
    path.write_text(json.dumps({"2028": {"source": "old", "holidays": ["2028-01-03"], "workdays": []}}))
    admin = users["admin"]
    services.save_years([services.checked_year("2027", "新", [date(2027, 1, 1)], [])], admin)
    db.session.commit()
    saved = json.loads(path.read_text())
    assert saved == {
        "2027": {"source": "新", "holidays": ["2027-01-01"], "workdays": []},
        "2028": {"source": "old", "holidays": ["2028-01-03"], "workdays": []},
    }
    services.save_years([services.checked_year("2027", "改", [date(2027, 1, 4)], [])], admin)
    db.session.commit()
    events = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "holidays.year_set").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert [(e.entity_id, e.actor_id) for e in events] == [("2027", admin.id), ("2027", admin.id)]
    assert events[1].before["holidays"] == ["2027-01-01"] and events[1].after["holidays"] == ["2027-01-04"]
    assert list(services.read_years(path)) == [2027, 2028]


def test_an_uploaded_file_is_checked_year_by_year():
    years = services.parse_upload(
        json.dumps({"2027": {"source": "s", "holidays": ["2027-01-01"], "workdays": ["2027-02-20"]}}).encode()
    )
    assert [y.year for y in years] == [2027]
    with pytest.raises(ScheduleRefused) as refused:
        services.parse_upload(b'{"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-04"]}, "x": 1}')
    assert _kinds(refused.value) == [
        ("workdays", "not_weekend", "2027-01-04"),
        ("file", "bad_file", "x: expected source, holidays and workdays"),
    ]
    with pytest.raises(ScheduleRefused):
        services.parse_upload(b"not json")


def test_without_a_configured_file_nothing_is_saved(make_app, users):
    app = make_app("sqlite")
    with app.app_context():
        from app.errors import Conflict

        with pytest.raises(Conflict):
            services.save_years([services.checked_year("2027", "", [], [])], users["admin"])
        db.session.remove()
        db.engine.dispose()


def test_the_calendar_rereads_a_file_another_process_changed(app):
    path = app.extensions["gridcase.settings"].holiday_schedule_file
    assert not path.exists()  # configured, not written yet: no year from the file
    calendar = runtime.working_calendar()
    assert calendar.is_workday(date(2027, 1, 1))  # a Friday, counted as a plain weekday
    # Another process (a web worker, the CLI) writes the year: the next time limit reads it.
    path.write_text(json.dumps({"2027": {"source": "s", "holidays": ["2027-01-01"], "workdays": []}}))
    assert runtime.working_calendar() is calendar
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.workday_source.covers(2027)
    # A file broken by hand meanwhile keeps the schedule read last.
    path.write_text("{broken")
    assert not runtime.working_calendar().is_workday(date(2027, 1, 1))


def test_a_calendar_without_a_file_never_rereads():
    workdays = ChinaWorkdays()
    assert workdays.refresh() is False


def test_a_file_broken_by_hand_is_refused_not_overwritten(app, users):
    path = app.extensions["gridcase.settings"].holiday_schedule_file
    path.write_text('{"2027": {"holidays": ["2027-02-30"]}}')
    with pytest.raises(ScheduleRefused) as refused:
        services.save_years([services.checked_year("2028", "", [], [])], users["admin"])
    assert _kinds(refused.value)[0][:2] == ("file", "bad_file")
    assert path.read_text() == '{"2027": {"holidays": ["2027-02-30"]}}'
