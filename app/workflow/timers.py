"""SpiffWorkflow's timer events, reading the workflow's clock instead of the wall clock.

SpiffWorkflow computes and checks timer due times with ``datetime.now(timezone.utc)`` inside its three timer
definitions. The subclasses here do the same with the clock of the workflow's script environment
(``RestrictedEnvironment.clock``; in the engine it asks the app's clock). They keep SpiffWorkflow's class
names, and the engine registers them under SpiffWorkflow's typenames (:data:`CLOCK_TIMERS`), so every stored
spec restores to them and stored specs stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff

# SpiffWorkflow fires a timer once ``due < now``; the app calls a timer due once ``due <= now`` (the scheduler
# picks instances by ``next_timer_at <= now``, and a limit that ends at 17:00 has ended at 17:00). Showing
# SpiffWorkflow the clock one microsecond (datetime's resolution) ahead makes the two agree exactly;
# otherwise a tick at the due time would run the instance without firing anything.
_RESOLUTION = timedelta(microseconds=1)


def _clock(my_task: Any) -> datetime:
    """The workflow's clock: what a due time counts from."""
    clock: Callable[[], datetime] = my_task.workflow.script_engine.environment.clock
    return clock().astimezone(UTC)


def _now(my_task: Any) -> datetime:
    """The clock as SpiffWorkflow's ``due < now`` must see it (compare only: never count a due time from
    it, or the timer is due a microsecond after the moment it should fire, and a scheduler's tick at that
    moment fires nothing)."""
    return _clock(my_task) + _RESOLUTION


def _event_value(my_task: Any, make: Callable[[], Any]) -> Any:
    """The timer's value (its due time), made on first use and kept in the task, as SpiffWorkflow keeps it."""
    value = my_task._get_internal_data("event_value")
    if value is None:
        value = make()
        my_task._set_internal_data(event_value=value)
    return value


def _fired(my_task: Any, due: datetime, now: datetime) -> bool:
    """SpiffWorkflow's rule: a timer fires once its due time is before now, and stays fired."""
    if due < now:
        my_task._set_internal_data(event_fired=True)
    return bool(my_task._get_internal_data("event_fired", False))


def _evaluate(my_task: Any, expression: str) -> Any:
    return my_task.workflow.script_engine.evaluate(my_task, expression)


class TimeDateEventDefinition(spiff.TimeDateEventDefinition):
    """A timer at a date/time (``timeDate``)."""

    def has_fired(self, my_task: Any) -> bool:
        value = _event_value(my_task, lambda: _evaluate(my_task, self.expression))
        return _fired(my_task, spiff.TimerEventDefinition.parse_time_or_duration(value), _now(my_task))


class DurationTimerEventDefinition(spiff.DurationTimerEventDefinition):
    """A timer a duration after it is reached (``timeDuration``): the due time is fixed when first asked."""

    def has_fired(self, my_task: Any) -> bool:
        start = _clock(my_task)

        def due() -> str:
            parsed = spiff.TimerEventDefinition.parse_iso_duration(_evaluate(my_task, self.expression))
            return (start + spiff.TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()

        due_at = spiff.TimerEventDefinition.get_datetime(_event_value(my_task, due))
        return _fired(my_task, due_at, _now(my_task))


class CycleTimerEventDefinition(spiff.CycleTimerEventDefinition):
    """A repeating timer (``timeCycle``)."""

    def cycle_complete(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            expression = _evaluate(my_task, self.expression)
            cycles, start, duration = _recurring_interval(expression, _clock(my_task))
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        # As SpiffWorkflow: True when the next occurrence has passed (the parent adds a child for it);
        # ``event_fired`` once every cycle is done.
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event < now:
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def _recurring_interval(expression: str, now: datetime) -> tuple[int, datetime, timedelta]:
    """SpiffWorkflow's ``parse_iso_recurring_interval``, with ``now`` for an interval given only by its
    duration (the one form that reads the clock)."""
    components = expression.upper().replace("--", "/").strip("R").split("/")
    if len(components) == 2 and components[1].startswith("P"):
        cycles = int(components[0]) if components[0] else -1
        parsed = spiff.TimerEventDefinition.parse_iso_duration(components[1])
        duration = spiff.TimerEventDefinition.get_timedelta_from_start(parsed, now)
        return cycles, now + duration, duration
    cycles, start, duration = spiff.TimerEventDefinition.parse_iso_recurring_interval(expression)
    return cycles, start, duration


# Ours -> the SpiffWorkflow typename it stands for in stored specs.
CLOCK_TIMERS: dict[type[spiff.TimerEventDefinition], str] = {
    TimeDateEventDefinition: "TimeDateEventDefinition",
    DurationTimerEventDefinition: "DurationTimerEventDefinition",
    CycleTimerEventDefinition: "CycleTimerEventDefinition",
}


def parse_timer_value(value: str) -> datetime:
    """A timer's due time as SpiffWorkflow stores it (ISO 8601), as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
