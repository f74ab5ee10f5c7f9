"""Working-time limits through the real case flow: report → triage → dispatch with the injected clock, due
times across weekends, public holidays and make-up working days (调休), the warning and the overdue timer
firing at the right working moments. Expected times are worked out by hand (China Standard Time, working
hours 08:30–12:00 and 13:30–17:30)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.clock import as_utc
from app.extensions import db
from app.timelimits.calendar import WorkingCalendar
from app.timelimits.holidays import ChinaWorkdays
from app.workflow import scheduler
from tests.helpers import complete, fingerprint, open_task, report

CST = timezone(timedelta(hours=8))


def cst(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


@pytest.fixture
def signed_in(users: dict[str, Any], auth: Any, deployed: None) -> None:
    for username in users:
        auth(username)


pytestmark = pytest.mark.usefixtures("signed_in")


def _dispatch_at(client: Any, auth: Any, clock: Any, moment: datetime, **fields: Any) -> str:
    """Report, accept and dispatch to ``worker`` at ``moment``; ``hours``: the dispatcher's limit."""
    hours = fields.pop("hours", None)
    triage: dict[str, Any] = {"triage_decision": "accept"}
    if fields.get("severity") == "red":
        # A red report starts the emergency process; a case made red at triage stays on case handling.
        fields["severity"] = "orange"
        triage["severity"] = "red"
    clock.set(moment)
    key = report(client, auth, **fields)["key"]
    complete(client, auth, "dispatcher", key, "triage", triage)
    data: dict[str, Any] = {"handler_user": "worker"}
    if hours is not None:
        data["time_limit_hours"] = hours
    complete(client, auth, "dispatcher", key, "dispatch", data)
    return key


def _case(key: str) -> Case:
    db.session.expire_all()
    return db.session.execute(select(Case).where(Case.key == key)).scalar_one()


def _limit_event(key: str) -> AuditEvent:
    case = _case(key)
    return (
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.case_id == case.id, AuditEvent.action == "case.time_limit_set")
            .order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )


def _tick_at(clock: Any, moment: datetime) -> int:
    clock.set(moment)
    fired = scheduler.tick()
    db.session.expire_all()
    return fired


def _at(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


# -- across non-working days -------------------------------------------------------------------------


class TestOnBothDatabases:
    """Stored times come back naive from SQLite and aware from PostgreSQL: the arithmetic holds on both."""

    @pytest.fixture(params=["sqlite", "postgresql"])
    def app(self, make_app: Any, request: pytest.FixtureRequest) -> Iterator[Flask]:
        app = make_app(request.param)
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()

    def test_across_a_weekend_warning_and_overdue_fire_on_monday(self, app, client, auth, clock):
        # 暴露垃圾 E0102, yellow: 4 working hours. Friday 16:00: 1.5 h on Friday, 2.5 h on Monday from 08:30.
        key = _dispatch_at(client, auth, clock, cst(2026, 11, 6, 16, 0))
        case = _case(key)
        assert _at(case.due_at) == cst(2026, 11, 9, 11, 0)
        assert _at(open_task(key, "handle").due_at) == cst(2026, 11, 9, 11, 0)
        limit = _limit_event(key)
        assert limit.after["limit"] == "4wh"
        assert limit.after["source"] == "category E0102"
        # the warning at 80 % of the working time: 3.2 h = 1.5 h Friday + 1.7 h Monday → 10:12
        assert datetime.fromisoformat(limit.after["warn_at"]) == cst(2026, 11, 9, 10, 12)

        assert _tick_at(clock, cst(2026, 11, 7, 12, 0)) == 0  # Saturday: the clock is not running
        assert _tick_at(clock, cst(2026, 11, 9, 10, 11)) == 0
        assert _case(key).warned_at is None
        assert _tick_at(clock, cst(2026, 11, 9, 10, 12)) == 1
        assert _at(_case(key).warned_at) == cst(2026, 11, 9, 10, 12)
        assert _case(key).overdue_at is None
        assert _tick_at(clock, cst(2026, 11, 9, 10, 59)) == 0
        assert _tick_at(clock, cst(2026, 11, 9, 11, 0)) == 1
        assert _at(_case(key).overdue_at) == cst(2026, 11, 9, 11, 0)
        assert _case(key).escalation_level == "community"  # the escalation (乡街吹哨) starts


def test_across_national_day(app, client, auth, clock):
    # Wednesday 30 September 16:00; 1-7 October are public holidays: due Thursday 8 October 11:00.
    key = _dispatch_at(client, auth, clock, cst(2026, 9, 30, 16, 0))
    assert _at(_case(key).due_at) == cst(2026, 10, 8, 11, 0)
    assert _tick_at(clock, cst(2026, 10, 5, 10, 0)) == 0  # a Monday, but a holiday
    assert _case(key).warned_at is None
    assert _tick_at(clock, cst(2026, 10, 8, 10, 12)) == 1
    assert _at(_case(key).warned_at) == cst(2026, 10, 8, 10, 12)
    assert _tick_at(clock, cst(2026, 10, 8, 11, 0)) == 1
    assert _at(_case(key).overdue_at) == cst(2026, 10, 8, 11, 0)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # Friday 9 October; Saturday 10 October is a make-up working day (调休) for National Day
        (cst(2026, 10, 9, 16, 0), cst(2026, 10, 10, 11, 0)),
        # Friday 18 September; Sunday 20 September is a make-up working day
        (cst(2026, 9, 18, 16, 0), cst(2026, 9, 20, 11, 0)),
        # Thursday 24 September; 25-27 September are the Mid-autumn holiday: Monday 28 September
        (cst(2026, 9, 24, 16, 0), cst(2026, 9, 28, 11, 0)),
    ],
    ids=["saturday-make-up-day", "sunday-make-up-day", "mid-autumn"],
)
def test_make_up_working_days_count(app, client, auth, clock, start, due):
    key = _dispatch_at(client, auth, clock, start)
    assert _at(_case(key).due_at) == due
    assert _tick_at(clock, due - timedelta(minutes=48) - timedelta(minutes=1)) == 0
    assert _tick_at(clock, due - timedelta(minutes=48)) == 1  # warning: 0.8 h before, all in the morning
    assert _tick_at(clock, due) == 1
    assert _at(_case(key).overdue_at) == due


def test_lunch_break_does_not_count(app, client, auth, clock):
    key = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 10, 0))
    # 10:00-12:00 is 2 h; the other 2 h run from 13:30
    assert _at(_case(key).due_at) == cst(2026, 11, 2, 15, 30)


def test_a_report_at_night_counts_from_the_next_morning(app, client, auth, clock):
    key = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 22, 0))
    # 08:30-12:00 is 3.5 h, the last half hour from 13:30
    assert _at(_case(key).due_at) == cst(2026, 11, 3, 14, 0)


# -- severity, close limit, dispatcher and default ----------------------------------------------------


def test_severity_scales_the_category_limit(app, client, auth, clock):
    red = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 10, 0), severity="red")
    assert _at(_case(red).due_at) == cst(2026, 11, 2, 12, 0)  # half of 4 h
    orange = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 10, 0), severity="orange")
    assert _at(_case(orange).due_at) == cst(2026, 11, 2, 14, 30)  # 3 h: 2 h + 1 h after lunch
    blue = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 10, 0), severity="blue")
    assert _at(_case(blue).due_at) == cst(2026, 11, 2, 15, 30)


def test_handle_and_close_limits_of_an_illegal_structure(app, client, auth, clock):
    # 私搭乱建 E0101: stopped within 4 working hours, removed within 20 working days (from filing)
    key = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 10, 0), category_code="E0101", severity="yellow")
    case = _case(key)
    assert _at(case.filed_at) == cst(2026, 11, 2, 10, 0)
    assert _at(case.due_at) == cst(2026, 11, 2, 15, 30)
    # 20 working days after Monday 2 November 10:00 (no holiday in November): Monday 30 November 10:00
    assert _at(case.close_due_at) == cst(2026, 11, 30, 10, 0)
    red = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 10, 0), category_code="E0101", severity="red")
    # red: 2 h to handle; 10 working days (75 working hours) to close → Monday 16 November 10:00
    assert _at(_case(red).due_at) == cst(2026, 11, 2, 12, 0)
    assert _at(_case(red).close_due_at) == cst(2026, 11, 16, 10, 0)


def test_dispatcher_hours_are_working_hours_and_not_scaled(app, client, auth, clock):
    # Monday 17:00: 0.5 h Monday, 7.5 h Tuesday, 2 h Wednesday from 08:30
    key = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 17, 0), severity="red", hours=10)
    assert _at(_case(key).due_at) == cst(2026, 11, 4, 10, 30)
    limit = _limit_event(key)
    assert limit.after["source"] == "dispatcher"
    assert limit.after["limit"] == "10wh"
    assert datetime.fromisoformat(limit.after["warn_at"]) == cst(2026, 11, 3, 17, 30)  # 8 of 10 h


def test_no_category_uses_the_default_limit(app, client, auth, clock):
    key = _dispatch_at(client, auth, clock, cst(2026, 11, 2, 17, 0), category_code=None)
    case = _case(key)
    # DEFAULT_TIME_LIMIT_HOURS 24 working hours: 0.5 + 7.5 + 7.5 + 7.5 = 23 → Friday 08:30 + 1 h
    assert _at(case.due_at) == cst(2026, 11, 6, 9, 30)
    assert case.close_due_at is None
    assert _limit_event(key).after["source"] == "default"


def test_rework_rearms_the_limit_in_working_time(app, client, auth, clock):
    from tests.helpers import upload_photo

    key = _dispatch_at(client, auth, clock, cst(2026, 11, 6, 16, 0))
    complete(
        client, auth, "worker", key, "handle", {"handle_result": "resolved", "handle_description": "已清理"}
    )
    photo = upload_photo(client, auth, "worker", key)
    complete(client, auth, "worker", key, "photo_proof", {"after_photos": [photo["id"]]})
    clock.set(cst(2026, 11, 9, 15, 0))
    complete(
        client, auth, "supervisor", key, "review", {"review_decision": "reject", "review_comment": "未清干净"}
    )
    # from Monday 15:00: 2.5 h Monday, 1.5 h Tuesday → 10:00
    assert _at(_case(key).due_at) == cst(2026, 11, 10, 10, 0)


def test_a_year_without_holiday_data_is_a_clear_error_when_configured_to_refuse(app, client, auth, clock):
    # 720 working hours (96 working days) from November 2026 reach into 2027, which chinesecalendar 1.11 does
    # not cover: with UNKNOWN_HOLIDAY_YEARS=refuse the dispatch is refused with the reason, nothing changes.
    # (The default counts Monday-Friday and flags the limit: tests/timelimits/test_holidays.py.)
    calendar = app.extensions["gridcase.calendar"]
    refusing = ChinaWorkdays(None, "refuse")
    app.extensions["gridcase.calendar"] = WorkingCalendar(calendar.hours, is_workday=refusing)
    key = report(client, auth)["key"]
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    before = fingerprint()
    data = {"handler_user": "worker", "time_limit_hours": 720}
    body = complete(client, auth, "dispatcher", key, "dispatch", data, expect=422)
    assert "2027" in body["details"]["time_limit"]
    assert "holiday" in body["details"]["time_limit"]
    assert body["details"]["element_id"] == "set_time_limit"
    assert "cannot compute the time limit" in body["message"]
    assert fingerprint() == before
    assert _case(key).status == "dispatching"
