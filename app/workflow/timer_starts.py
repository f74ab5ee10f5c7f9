"""Processes started by a timer: their plan in the database, fired by the scheduler's round.

Each round (``scheduler.tick``) first **plans**: for every process key it asks which version starts new
instances (``deploy.latest_definition``) and, when that is not the version its ``timer_start`` row was
planned on, plans again (a new or changed expression counts from now; the same expression keeps its plan,
so republishing does not move or repeat a fire time). Then it **fires** every row whose ``next_fire_at`` has
come, one transaction per row: claim the row (a conditional UPDATE moving ``next_fire_at`` on, so of two
schedulers exactly one fires a due time), start the instance, audit, commit.

**Catching up** after downtime: a row found overdue fires once, for the latest of its due times that has
come, and the ones before it are audited as missed (``timer_start.missed``), never started one by one.

**A failing start** (the instance cannot even be created: its version cannot load, say) rolls back, and
the row records the failure (``failed_at``, ``failure``), shown on the studio's process list and by
``flask timers starts``, audited as ``timer_start.failed``; the due time it failed on is not retried, the
next one is planned. A failure of what the started process then does is not this: the instance exists,
parked with a timer incident the operations page lists. Neither stops the round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import runtime
from app.audit.services import record
from app.clock import as_utc, now
from app.errors import NotFound
from app.extensions import db
from app.workflow import instances, timer_plans, timer_start_events
from app.workflow.deploy import latest_definition
from app.workflow.models import ProcessDefinition
from app.workflow.timer_start_events import TimerStartEvent
from app.workflow.timer_start_models import TimerStart

log = logging.getLogger(__name__)

MISSED_LISTED = 20  # due times a ``timer_start.missed`` event lists; it counts them all


# -- planning --------------------------------------------------------------------------------------


def _timer_start_of(definition_id: int, key: str, content_hash: str) -> TimerStartEvent | None:
    """The version's timer start event, read from its XML once per version (versions never change)."""

    def build() -> tuple[TimerStartEvent | None]:
        xml = db.session.execute(
            select(ProcessDefinition.bpmn_xml).where(ProcessDefinition.id == definition_id)
        ).scalar_one()
        return (timer_start_events.read_xml(xml, key),)

    cached: tuple[TimerStartEvent | None] = runtime.spec_cache().remember(
        f"timer-start:{definition_id}:{content_hash}", build
    )
    return cached[0]


def _timer_start_of_version(definition: ProcessDefinition) -> TimerStartEvent | None:
    return _timer_start_of(definition.id, definition.key, definition.content_hash)


def plan() -> int:
    """Plan every process whose version that starts new instances changed since its row was planned (or
    that has none yet and starts by a timer). Returns how many rows changed.

    Only keys with a row, or with some version that has a timer start event, are asked for the version
    that starts new instances: a round costs two queries where no process starts by a timer."""
    versions = db.session.execute(
        select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.content_hash).where(
            ProcessDefinition.kind == "bpmn"
        )
    ).all()
    rows = {row.process_key: row for row in db.session.execute(select(TimerStart)).scalars()}
    timed = {key for id_, key, content_hash in versions if _timer_start_of(id_, key, content_hash)}
    changed = 0
    for key in sorted(timed | rows.keys()):
        try:
            definition = latest_definition(key)
        except NotFound:  # no version of it starts new instances (only drafts, once drafts exist)
            continue
        row = rows.get(key)
        if row is not None and row.definition_id == definition.id:
            continue
        event = _timer_start_of_version(definition)
        if event is None and row is None:
            continue
        try:
            with db.session.begin_nested():  # two schedulers planning a new key: one row wins
                changed += _plan_row(row, definition, event)
        except IntegrityError:
            log.info("timer start of %s planned by another scheduler", key)
    return changed


def _plan_row(row: TimerStart | None, definition: ProcessDefinition, event: TimerStartEvent | None) -> bool:
    """Plan ``row`` (None: a new one) on ``definition``; False when another scheduler re-planned it first
    (its conditional UPDATE of the version matches nothing: it waited on that scheduler's row lock)."""
    moment = now()
    if row is None:
        row = TimerStart(process_key=definition.key, definition_id=definition.id, planned_at=moment)
        row.next_index = row.fired_count = 0
        db.session.add(row)
    elif not _claim_version(row, definition.id):
        return False
    before = {
        "version_id": row.definition_id,
        "expression": row.expression,
        "next_fire_at": _iso(row.next_fire_at),
    }
    row.definition_id, row.planned_at = definition.id, moment
    row.element_id = event.element_id if event is not None else None
    try:
        value = timer_start_events.evaluate(event.source) if event is not None else None
        kept = event is not None and row.kind == event.kind and row.expression == value and row.anchor_at
        if event is None:
            row.kind = row.expression = row.anchor_at = row.next_fire_at = None
        elif not kept:
            _replan(row, event.kind, value, moment)
    except Exception as exc:  # a version deployed before the checks knew timer starts: shown, not fired
        row.next_fire_at, row.failed_at, row.failure = None, moment, f"定时启动的时间无法解析: {exc}"
    db.session.flush()
    record(
        "timer_start.planned",
        entity_type="timer_start",
        entity_id=definition.key,
        before=before,
        after={
            "version": definition.version,
            "version_id": definition.id,
            "element_id": row.element_id,
            "expression": row.expression,
            "next_fire_at": _iso(row.next_fire_at),
        },
    )
    return True


def _claim_version(row: TimerStart, definition_id: int) -> bool:
    claimed = db.session.execute(
        update(TimerStart)
        .where(TimerStart.id == row.id, TimerStart.definition_id == row.definition_id)
        .values(definition_id=definition_id)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) == 1:
        return True
    db.session.expire(row)
    return False


def _replan(row: TimerStart, kind: str, value: Any, moment: datetime) -> None:
    """A new plan from ``moment`` on, never again at or before the due time last fired."""
    new_plan = timer_plans.parse(kind, value, moment)
    row.kind, row.expression, row.anchor_at = kind, value, new_plan.anchor
    start = moment if row.last_fired_at is None else max(moment, as_utc(row.last_fired_at) + _TICK)
    index = new_plan.first_index_from(start)
    row.next_index = index if index is not None else 0
    row.next_fire_at = new_plan.occurrence(index) if index is not None else None


_TICK = timedelta(microseconds=1)


def _plan_of(row: TimerStart) -> timer_plans.Plan:
    assert row.kind is not None and row.anchor_at is not None
    parsed = timer_plans.parse(row.kind, row.expression, as_utc(row.anchor_at))
    # The anchor is stored: a duration-only form counts from when it was first planned, not from now.
    return timer_plans.Plan(as_utc(row.anchor_at), parsed.period, parsed.repetitions)


# -- firing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Advance:
    """What firing a due row does to it: the due time it fires for, those it skips, the next one."""

    fire_at: datetime
    missed: list[datetime]
    missed_count: int
    next_index: int
    next_at: datetime | None


def _advance(row: TimerStart, moment: datetime) -> _Advance:
    row_plan = _plan_of(row)
    last = row_plan.last_index_until(moment, row.next_index)
    missed = [
        row_plan.occurrence(i) for i in range(row.next_index, min(last, row.next_index + MISSED_LISTED))
    ]
    following = last + 1
    next_at = row_plan.occurrence(following) if row_plan.has(following) else None
    return _Advance(row_plan.occurrence(last), missed, last - row.next_index, following, next_at)


def _claim(row_id: int, due: datetime, advance: _Advance, **values: Any) -> bool:
    """Move the row past ``due`` if it is still at ``due``: the one scheduler whose UPDATE matches fires."""
    claimed = db.session.execute(
        update(TimerStart)
        .where(TimerStart.id == row_id, TimerStart.next_fire_at == due)
        .values(next_fire_at=advance.next_at, next_index=advance.next_index, **values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(claimed, "rowcount", 0) or 0) == 1


def due_ids(limit: int = 100) -> list[int]:
    return list(
        db.session.execute(
            select(TimerStart.id)
            .where(TimerStart.next_fire_at <= now())
            .order_by(TimerStart.next_fire_at)
            .limit(limit)
        ).scalars()
    )


def _due_row(row_id: int, moment: datetime) -> TimerStart | None:
    row = db.session.execute(
        select(TimerStart).where(TimerStart.id == row_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None or row.next_fire_at is None or as_utc(row.next_fire_at) > moment:
        return None
    return row


def fire(row_id: int) -> int | None:
    """Fire the row if it is (still) due, in the caller's transaction: the id of the instance started, or
    None (not due, or another scheduler fired it)."""
    moment = now()
    row = _due_row(row_id, moment)
    if row is None:
        return None
    definition = latest_definition(row.process_key)
    if definition.id != row.definition_id:  # published since the plan: fire on the new plan, if due
        if not _plan_row(row, definition, _timer_start_of_version(definition)):
            return None  # another scheduler re-planned it (and fired it, if it was due)
        row = _due_row(row_id, moment)
        if row is None:
            return None
    assert row.element_id is not None and row.next_fire_at is not None
    due = row.next_fire_at
    advance = _advance(row, moment)
    if not _claim(row.id, due, advance, last_fired_at=advance.fire_at, fired_count=row.fired_count + 1):
        return None
    outcome = instances.start_by_timer(definition, row.element_id, advance.fire_at)
    db.session.execute(
        update(TimerStart)
        .where(TimerStart.id == row.id)
        .values(last_instance_id=outcome.instance.id, failed_at=None, failure=None)
        .execution_options(synchronize_session=False)
    )
    _audit_missed(row.process_key, advance)
    record(
        "timer_start.fired",
        entity_type="timer_start",
        entity_id=row.process_key,
        instance_id=outcome.instance.id,
        data={
            "due_at": advance.fire_at.isoformat(),
            "fired_at": moment.isoformat(),
            "version": definition.version,
            "missed": advance.missed_count,
            "next_fire_at": _iso(advance.next_at),
        },
    )
    return outcome.instance.id


def record_failure(row_id: int, due: datetime, reason: str) -> None:
    """After a start at ``due`` failed and was rolled back: the row moves on past it with the failure, in
    the caller's (new) transaction. Nothing when another scheduler moved it already."""
    moment = now()
    row = _due_row(row_id, moment)
    current = row.next_fire_at if row is not None else None
    if row is None or current is None or as_utc(current) != as_utc(due):
        return
    advance = _advance(row, moment)
    if not _claim(row.id, current, advance, failed_at=moment, failure=reason[:2000]):
        return
    _audit_missed(row.process_key, advance)
    record(
        "timer_start.failed",
        entity_type="timer_start",
        entity_id=row.process_key,
        data={"due_at": advance.fire_at.isoformat(), "reason": reason, "next_fire_at": _iso(advance.next_at)},
    )


def _audit_missed(process_key: str, advance: _Advance) -> None:
    if not advance.missed_count:
        return
    record(
        "timer_start.missed",
        entity_type="timer_start",
        entity_id=process_key,
        data={
            "count": advance.missed_count,
            "due_times": [m.isoformat() for m in advance.missed],  # the first MISSED_LISTED
            "fired_instead_at": advance.fire_at.isoformat(),
        },
    )


def run_round(limit: int = 100) -> int:
    """The scheduler's part: plan, then fire every due row, each in a transaction of its own. Returns how
    many instances started. No failure leaves this function: the round goes on with the other rows."""
    try:
        plan()
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("planning the timer starts failed")
    started = 0
    due = due_ids(limit)
    db.session.rollback()  # end the read transaction before doing work
    for row_id in due:
        row = db.session.get(TimerStart, row_id)
        due_at = row.next_fire_at if row is not None else None
        try:
            started += fire(row_id) is not None
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            log.warning("timer start %s could not start its instance: %s", row_id, exc)
            if due_at is not None:
                _record_failure_safely(row_id, due_at, f"{type(exc).__name__}: {exc}")
    return started


def _record_failure_safely(row_id: int, due: datetime, reason: str) -> None:
    try:
        record_failure(row_id, due, reason)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("the failure of timer start %s could not be recorded", row_id)


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """One process started by a timer, as operators and designers read it."""

    process_key: str
    name: str
    version: int
    element_id: str | None
    expression: str | None
    next_fire_at: datetime | None
    last_fired_at: datetime | None
    last_instance_id: int | None
    fired_count: int
    failed_at: datetime | None
    failure: str | None


def schedules() -> list[Schedule]:
    """Every planned timer start with the version it is planned on, by process key."""
    found = db.session.execute(
        select(TimerStart, ProcessDefinition.name, ProcessDefinition.version)
        .join(ProcessDefinition, ProcessDefinition.id == TimerStart.definition_id)
        .order_by(TimerStart.process_key)
    ).all()
    return [
        Schedule(
            row.process_key,
            name,
            version,
            row.element_id,
            row.expression,
            _aware(row.next_fire_at),
            _aware(row.last_fired_at),
            row.last_instance_id,
            row.fired_count,
            _aware(row.failed_at),
            row.failure,
        )
        for row, name, version in found
    ]


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None
