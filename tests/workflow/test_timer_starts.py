"""Timer start events (#16 item 9): a process whose start event is a timer starts a new instance when due,
planned in the database and fired by the scheduler's round, on the version that starts new instances;
once per due time even with two schedulers; once, not a hundred times, after downtime (the rest audited as
missed); a failing start recorded for operators without stopping the round; expressions that do not parse
refused at deploy, naming the element, in zh-CN. The injected clock moves time; nothing sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from app.audit.models import AuditEvent
from app.clock import FrozenClock, as_utc
from app.errors import InvalidInput
from app.extensions import db
from app.workflow import scheduler, timer_starts
from app.workflow.deploy import latest_definition
from app.workflow.models import EngineIncident, HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance
from app.workflow.timer_start_models import TimerStart
from tests.factories import app_on_both_backends
from tests.probes import deploy_diagram
from tests.workflow.timer_start_diagrams import plain_start, timer_started

app = app_on_both_backends

BEIJING = timedelta(hours=8)
NOV_3_0800 = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)  # 08:00 Beijing time; the clock starts 2 Nov 09:00 UTC


def _deploy(**kwargs: Any) -> ProcessDefinition:
    results = deploy_diagram(f"{kwargs.get('key', 'morning_round')}.bpmn", timer_started(**kwargs))
    return results[0].definition


def _row(key: str = "morning_round") -> TimerStart:
    db.session.expire_all()
    return db.session.execute(select(TimerStart).where(TimerStart.process_key == key)).scalar_one()


def _instances(key: str = "morning_round") -> list[ProcessInstance]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessInstance).where(ProcessInstance.process_key == key).order_by(ProcessInstance.id)
        ).scalars()
    )


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def _open_checks(instance_id: int) -> list[str]:
    return list(
        db.session.execute(
            select(HumanTask.name).where(HumanTask.instance_id == instance_id, HumanTask.status == "ready")
        ).scalars()
    )


def test_a_date_starts_one_instance_when_it_comes(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    definition = _deploy(timer="'2026-11-03T08:00:00+08:00'", kind="timeDate")
    assert scheduler.tick() == 0
    row = _row()
    assert (row.definition_id, row.element_id) == (definition.id, "morning")
    assert as_utc(row.next_fire_at) == NOV_3_0800
    assert _events("timer_start.planned")[0].after["next_fire_at"] == NOV_3_0800.isoformat()

    clock.set(NOV_3_0800 - timedelta(seconds=1))
    scheduler.tick()
    assert _instances() == []

    clock.set(NOV_3_0800)
    assert scheduler.tick() == 1
    [instance] = _instances()
    assert instance.definition_id == definition.id and instance.status == InstanceStatus.RUNNING
    assert _open_checks(instance.id) == ["晨检"]
    row = _row()
    assert row.next_fire_at is None and as_utc(row.last_fired_at) == NOV_3_0800
    assert (row.fired_count, row.last_instance_id) == (1, instance.id)
    [fired] = _events("timer_start.fired")
    assert fired.entity_id == "morning_round" and fired.instance_id == instance.id
    assert fired.data["due_at"] == NOV_3_0800.isoformat() and fired.data["missed"] == 0
    started = [e for e in _events("instance.started") if e.instance_id == instance.id]
    assert started[0].after["timer"] == "morning"

    clock.advance(days=30)
    scheduler.tick()
    assert len(_instances()) == 1  # once is once


def test_a_daily_cycle_starts_one_instance_a_day_and_a_counted_one_ends(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    _deploy(timer="'R2/2026-11-03T08:00:00+08:00/P1D'")
    scheduler.tick()
    for day in range(3):
        clock.set(NOV_3_0800 + timedelta(days=day))
        scheduler.tick()
        scheduler.tick()  # a second round at the same moment fires nothing more
    instances = _instances()
    assert len(instances) == 2  # R2: twice
    for instance in instances:  # each one occurrence: its task offered, no timer left waiting in it
        assert instance.status == InstanceStatus.RUNNING and instance.next_timer_at is None
        assert _open_checks(instance.id) == ["晨检"]
    dues = [e.data["due_at"] for e in _events("timer_start.fired")]
    assert dues == [NOV_3_0800.isoformat(), (NOV_3_0800 + timedelta(days=1)).isoformat()]
    assert _row().next_fire_at is None and _row().fired_count == 2


def test_a_cycle_of_a_duration_counts_from_when_it_is_planned(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    planned = clock.now()
    _deploy(timer="'R/PT1H'")
    scheduler.tick()
    assert as_utc(_row().next_fire_at) == planned + timedelta(hours=1)
    clock.advance(hours=1)
    scheduler.tick()
    clock.advance(hours=1)
    scheduler.tick()
    assert len(_instances()) == 2
    assert as_utc(_row().next_fire_at) == planned + timedelta(hours=3)


def test_after_downtime_it_fires_once_and_audits_the_missed_due_times(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    _deploy()
    scheduler.tick()
    clock.set(NOV_3_0800 + timedelta(days=4, hours=3))  # the scheduler was down four days
    assert scheduler.tick() == 1
    assert len(_instances()) == 1
    [fired] = _events("timer_start.fired")
    assert fired.data["due_at"] == (NOV_3_0800 + timedelta(days=4)).isoformat()  # the latest come
    assert fired.data["missed"] == 4
    [missed] = _events("timer_start.missed")
    assert missed.data["count"] == 4
    assert missed.data["due_times"] == [(NOV_3_0800 + timedelta(days=d)).isoformat() for d in range(4)]
    assert as_utc(_row().next_fire_at) == NOV_3_0800 + timedelta(days=5)
    scheduler.tick()
    assert len(_instances()) == 1


def test_the_plan_follows_the_version_that_starts_new_instances(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    first = _deploy()
    scheduler.tick()
    assert _row().definition_id == first.id
    # A new version at 20:00 Beijing time: planned again from now on.
    second = _deploy(timer="'R/2026-11-03T20:00:00+08:00/P1D'")
    assert latest_definition("morning_round").id == second.id
    scheduler.tick()
    row = _row()
    assert row.definition_id == second.id
    assert as_utc(row.next_fire_at) == datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    # The same expression in a third version (another task name) keeps the plan and starts on the third.
    third = _deploy(timer="'R/2026-11-03T20:00:00+08:00/P1D'", task_name="晚检")
    clock.set(datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
    assert scheduler.tick() == 1
    [instance] = _instances()
    assert instance.definition_id == third.id and _open_checks(instance.id) == ["晚检"]
    planned = _events("timer_start.planned")
    assert [p.after["version"] for p in planned] == [1, 2, 3]
    assert planned[2].after["next_fire_at"] == planned[1].after["next_fire_at"]
    # A version without a timer start event stops the plan.
    deploy_diagram(
        "morning_round.bpmn",
        timer_started()
        .replace(b"<bpmn:timerEventDefinition>", b"<!--")
        .replace(b"</bpmn:timerEventDefinition>", b"-->"),
    )
    clock.advance(days=2)
    scheduler.tick()
    assert _row().next_fire_at is None and len(_instances()) == 1


@pytest.mark.parametrize(
    ("timer", "kind", "reason"),
    [
        ("'R/2026-13-45T08:00:00+08:00/P1D'", "timeCycle", "无法解析"),
        ("R/PT1H", "timeCycle", "不是带引号的文本"),
        ("'2027-01-01T08:00:00'", "timeDate", "没有时区"),
        ("start_time", "timeDate", "启动前没有流程数据"),
        ("'R0/PT1H'", "timeCycle", "重复 0 次"),
        ("'every day'", "timeCycle", "应写作"),
    ],
)
def test_a_timer_start_that_does_not_parse_is_refused_at_deploy(
    app: Any, timer: str, kind: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        deploy_diagram("morning_round.bpmn", timer_started(timer=timer, kind=kind))
    problems = refused.value.details["problems"]
    assert [(p["element_id"], p["element_name"]) for p in problems] == [("morning", "每天早上")]
    assert reason in problems[0]["reason"] and "定时启动事件" in problems[0]["reason"]
    assert db.session.execute(select(ProcessDefinition)).first() is None


def test_a_timer_start_with_another_start_event_is_refused(app: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        deploy_diagram("morning_round.bpmn", timer_started(extra_start=plain_start()))
    reasons = [p["reason"] for p in refused.value.details["problems"]]
    assert any("不能再有其他开始事件" in r for r in reasons)


def test_a_start_that_fails_is_recorded_and_the_round_goes_on(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    broken = _deploy(key="broken_round")
    _deploy(key="morning_round")
    scheduler.tick()
    # The broken version's stored spec cannot load: the instance cannot even be created.
    db.session.execute(
        update(ProcessDefinition).where(ProcessDefinition.id == broken.id).values(spec_document={})
    )
    db.session.commit()
    clock.set(NOV_3_0800)
    assert scheduler.tick() == 1  # the other process still started
    assert _instances("broken_round") == [] and len(_instances("morning_round")) == 1
    row = _row("broken_round")
    assert row.failure and as_utc(row.failed_at) == NOV_3_0800
    assert as_utc(row.next_fire_at) == NOV_3_0800 + timedelta(days=1)  # not retried every round
    [failed] = _events("timer_start.failed")
    assert failed.entity_id == "broken_round" and failed.data["due_at"] == NOV_3_0800.isoformat()
    shown = {s.process_key: s for s in timer_starts.schedules()}
    assert shown["broken_round"].failure == row.failure and shown["morning_round"].failure is None


def test_a_process_failing_after_its_timer_start_is_parked_with_an_incident(app: Any) -> None:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    _deploy(after="share = 10 / 0")
    scheduler.tick()
    clock.set(NOV_3_0800)
    assert scheduler.tick() == 1
    [instance] = _instances()
    assert instance.status == InstanceStatus.ERROR
    incident = db.session.execute(select(EngineIncident)).scalar_one()
    assert (incident.kind, incident.element_id) == ("timer", "work")
    assert _row().failure is None and as_utc(_row().next_fire_at) == NOV_3_0800 + timedelta(days=1)


def test_flask_timers_starts_lists_the_plan(app: Any) -> None:
    _deploy()
    scheduler.tick()
    result = app.test_cli_runner().invoke(args=["timers", "starts"])
    assert result.exit_code == 0, result.output
    assert "morning_round" in result.output and "v1" in result.output
    assert "2026-11-03 08:00" in result.output  # Beijing time
    assert "R/2026-11-03T08:00:00+08:00/P1D" in result.output


# -- two schedulers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
@pytest.mark.parametrize("new_version", [False, True], ids=["same-version", "published-as-due"])
def test_two_schedulers_fire_a_due_time_exactly_once(app: Any, new_version: bool) -> None:
    """Scheduler A claims the due row and has not committed; scheduler B's claim waits on A's row lock and,
    once A commits, matches nothing: one instance, one ``timer_start.fired``. Also when a new version with
    another time came just then, so both schedulers would plan the row again before firing it."""
    clock: FrozenClock = app.extensions["gridcase.clock"]
    _deploy()
    scheduler.tick()
    if new_version:
        _deploy(timer="'R/2026-11-02T20:00:00+08:00/P1D'")  # 12:00 UTC: due at the same moment below
        clock.set(datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
    else:
        clock.set(NOV_3_0800)
    row_id = _row().id
    first = timer_starts.fire(row_id)  # A: (planned again,) claimed, instance started, not committed
    assert first is not None
    second: list[Any] = []

    def scheduler_b() -> None:
        with app.app_context():
            try:
                second.append(timer_starts.fire(row_id))
                db.session.commit()
            finally:
                db.session.remove()

    other = threading.Thread(target=scheduler_b)
    other.start()
    _wait_until_b_waits_on_a_lock()
    db.session.commit()  # A commits: B's conditional update now matches nothing
    other.join(timeout=30)
    assert second == [None]
    assert [i.id for i in _instances()] == [first]
    assert len(_events("timer_start.fired")) == 1


def _wait_until_b_waits_on_a_lock() -> None:
    """Poll PostgreSQL (from a third connection) until another session waits on a lock; bounded."""
    engine = db.engine
    for _ in range(400):
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
        if waiting:
            return
        threading.Event().wait(0.025)
    raise AssertionError("scheduler B never waited on scheduler A's row lock")
