"""Make SpiffWorkflow's timer events read our clock instead of the wall clock.

SpiffWorkflow computes and checks timer due times with ``datetime.now(timezone.utc)`` inside
``SpiffWorkflow.bpmn.specs.event_definitions.timer``. Subclassing the three timer definitions would
mean overriding the parser for every event kind and the serializer registry; swapping the module's
``datetime`` name for a subclass whose ``now()`` asks our clock is one small, contained change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


# SpiffWorkflow fires a timer once ``due < now``; the app calls a timer due once ``due <= now`` (the scheduler
# picks instances by ``next_timer_at <= now``, and a limit that ends at 17:00 has ended at 17:00). Showing
# SpiffWorkflow the clock one microsecond (datetime's resolution) ahead makes the two agree exactly;
# otherwise a tick at the due time would run the instance without firing anything.
_RESOLUTION = timedelta(microseconds=1)


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockDatetime:
        current = _now() + _RESOLUTION
        value = current.astimezone(tz) if tz is not None else current.astimezone(UTC).replace(tzinfo=None)
        return cls.fromisoformat(value.isoformat())


def use_clock(now: Callable[[], datetime]) -> None:
    """Route every timer computation in SpiffWorkflow through ``now`` (an aware-datetime callable)."""
    global _now
    _now = now
    _spiff_timer.datetime = _ClockDatetime


def parse_timer_value(value: str) -> datetime:
    """A timer's due time as SpiffWorkflow stores it (ISO 8601), as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
