"""The studio's process list shows the processes started by a timer (#16 item 9): the version planned on,
the cycle in words, the next and last start in Beijing time, how many it started, and a failed start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.config import PROJECT_ROOT
from app.extensions import db
from app.web.designer.timer_starts import cadence
from app.workflow import deploy, scheduler
from app.workflow.timer_start_models import TimerStart
from tests.web.pages import PageClient, sign_in

FIRST_MORNING = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 Beijing time


@pytest.fixture
def app(app: Flask, users: dict[str, Any]) -> Flask:
    """The shipped daily patrol, planned by a scheduler round and fired once."""
    app.test_client_class = PageClient
    rules = app.extensions["gridcase.deploy_rules"]()
    deploy.deploy_file("daily_patrol.bpmn", (PROJECT_ROOT / "bpmn" / "daily_patrol.bpmn").read_bytes(), rules)
    db.session.commit()
    scheduler.tick()
    app.extensions["gridcase.clock"].set(FIRST_MORNING)
    scheduler.tick()
    return app


def _process_list(app: Flask, who: str = "designer") -> str:
    client = app.test_client()
    sign_in(client, who)
    response = client.get("/design/processes")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_the_process_list_shows_when_each_timer_started_process_starts(app: Flask) -> None:
    page = _process_list(app)
    row = page.split('data-timer-start="daily_patrol"', 1)[1].split("</tr>", 1)[0]
    assert "每日网格巡查" in row and "每天 08:00(北京时间)" in row
    assert "R/2026-12-07T08:00:00+08:00/P1D" in row
    assert 'data-field="next-start">2026/12/8 08:00<' in row  # Beijing time
    assert 'data-field="last-start">2026/12/7 08:00<' in row
    assert 'data-field="started">1<' in row
    assert "data-timer-start-failure" not in page


def test_a_failed_start_is_shown_with_its_reason(app: Flask) -> None:
    db.session.execute(update(TimerStart).values(failed_at=FIRST_MORNING, failure="KeyError: 'spec'"))
    db.session.commit()
    page = _process_list(app, "admin")
    failure = page.split('data-timer-start-failure="daily_patrol"', 1)[1].split("</tr>", 1)[0]
    assert "的启动失败" in failure and "KeyError: &#39;spec&#39;" in failure


def test_daily_and_weekly_cycles_are_put_in_words(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert cadence("R/2026-12-07T08:00:00+08:00/P1D") == "每天 08:00(北京时间)"
        assert cadence("R/2026-12-07T00:30:00Z/P1W") == "每星期一 08:30(北京时间)"  # 7 Dec is a Monday
        assert cadence("R5/2026-12-07T08:00:00+08:00/P1D") == ""  # counted: the expression says it
        assert cadence("R/PT1H") == ""


def test_the_operations_list_shows_a_failed_timer_start_until_one_succeeds(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "admin")
    assert "timer-start-failures" not in client.get("/operate/instances").get_data(as_text=True)
    db.session.execute(update(TimerStart).values(failed_at=FIRST_MORNING, failure="KeyError: 'spec'"))
    db.session.commit()
    page = client.get("/operate/instances").get_data(as_text=True)
    failure = page.split('data-timer-start-failure="daily_patrol"', 1)[1].split("</li>", 1)[0]
    assert "每日网格巡查" in failure and "未能在 2026/12/7 08:00 启动" in failure
    assert "KeyError: &#39;spec&#39;" in failure and "下次启动 2026/12/8 08:00" in failure
    # The next morning's start succeeds: the failure is gone.
    app.extensions["gridcase.clock"].set(datetime(2026, 12, 8, 0, 0, tzinfo=UTC))
    scheduler.tick()
    assert "timer-start-failures" not in client.get("/operate/instances").get_data(as_text=True)
