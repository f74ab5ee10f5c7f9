"""When a timer start event fires: its expression read as a plan of occurrences (pure, no database).

A timer start event's value is a quoted literal (no process data exists before the process starts) in one
of three forms, each with an explicit time zone:

- ``timeDate`` ``'2027-01-01T08:00:00+08:00'``: once;
- ``timeCycle`` ``'R/2026-12-07T08:00:00+08:00/P1D'`` (every day at 08:00 Beijing time from 7 December),
  ``'R5/…/P1W'`` (five times, weekly), ``'R/PT1H'`` (every hour, counted from when the scheduler first
  plans it); ``R`` without a number repeats for ever;
- ``timeDuration`` ``'PT30M'``: once, that long after the scheduler first plans it.

Occurrence ``k`` is ``anchor + k × period``, counted from the anchor each time (no drift), with
SpiffWorkflow's calendar arithmetic (``P1M`` is the length of the month it starts in). China keeps no summer
time, so a ``+08:00`` cycle stays at the same wall-clock hour all year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from app.clock import as_utc

KINDS = ("timeDate", "timeCycle", "timeDuration")
FOREVER = -1


class PlanError(ValueError):
    """The expression is not a timer start value; the message is zh-CN, for the designer."""


@dataclass(frozen=True)
class Plan:
    """Occurrences ``anchor + k × period`` for ``k < repetitions`` (``FOREVER``: no end)."""

    anchor: datetime
    period: dict[str, float] | None  # SpiffWorkflow's parsed ISO duration; None: once
    repetitions: int

    def occurrence(self, index: int) -> datetime:
        if index == 0 or self.period is None:
            return self.anchor
        scaled = {unit: amount * index for unit, amount in self.period.items()}
        return self.anchor + TimerEventDefinition.get_timedelta_from_start(scaled, self.anchor)

    def has(self, index: int) -> bool:
        return index >= 0 and (self.repetitions == FOREVER or index < self.repetitions)

    def first_index_from(self, moment: datetime) -> int | None:
        """The index of the first occurrence at or after ``moment``; None when there is none."""
        index = 0
        if self.period is not None and moment > self.anchor:
            step = self.occurrence(1) - self.anchor
            index = max(0, int((moment - self.anchor) / step) - 2)  # months vary: step on from just before
        while self.has(index) and self.occurrence(index) < moment:
            if self.period is None:
                return None
            index += 1
        return index if self.has(index) else None

    def last_index_until(self, moment: datetime, start: int) -> int:
        """The index of the last occurrence at or before ``moment``, from ``start`` (itself due) on."""
        following = self.first_index_from(moment + timedelta(microseconds=1))
        last = (following - 1) if following is not None else self._last_index(start)
        return max(start, last)

    def _last_index(self, start: int) -> int:
        return self.repetitions - 1 if self.repetitions != FOREVER else start


def parse(kind: str, value: Any, planned_at: datetime) -> Plan:
    """The plan of a timer start event whose ``kind`` element holds ``value`` (its evaluated text);
    ``planned_at`` anchors the forms given by a duration only. Raises PlanError."""
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"定时启动的时间必须是文本 (ISO 8601), 而不是 {value!r}")
    text = value.strip()
    try:
        if kind == "timeDate":
            return Plan(_date_time(text), None, 1)
        if kind == "timeDuration":
            period = _duration(text)
            return Plan(
                planned_at + TimerEventDefinition.get_timedelta_from_start(dict(period), planned_at), None, 1
            )
        if kind == "timeCycle":
            return _cycle(text, planned_at)
    except PlanError:
        raise
    except Exception as exc:  # SpiffWorkflow's parsers raise ValueError, TypeError or bare Exception alike
        raise PlanError(f"无法解析定时启动的时间 '{text}': {exc}") from exc
    raise PlanError(f"未知的定时器类型 {kind}")


def _date_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PlanError(f"'{text}' 不是 ISO 8601 日期时间 (例如 '2027-01-01T08:00:00+08:00')") from exc
    if moment.tzinfo is None:
        raise PlanError(f"'{text}' 没有时区: 请写明时区, 例如 '{text}+08:00' (北京时间)")
    return as_utc(moment)


def _duration(text: str) -> dict[str, float]:
    if not text.upper().startswith("P"):
        raise PlanError(f"'{text}' 不是 ISO 8601 时长 (例如 'P1D'、'PT1H')")
    try:
        parsed: dict[str, float] = TimerEventDefinition.parse_iso_duration(text)
    except Exception as exc:
        raise PlanError(f"'{text}' 不是 ISO 8601 时长 (例如 'P1D'、'PT1H')") from exc
    if not any(parsed.values()):
        raise PlanError(f"时长 '{text}' 为零")
    return parsed


def _cycle(text: str, planned_at: datetime) -> Plan:
    parts = text.split("/")
    head = parts[0].upper()
    if not head.startswith("R") or len(parts) not in (2, 3):
        raise PlanError(
            f"周期 '{text}' 应写作 'R/开始时间/间隔' (例如 'R/2026-12-07T08:00:00+08:00/P1D') 或 'R/间隔'"
        )
    if head[1:] and not head[1:].isdigit():
        raise PlanError(f"周期 '{text}' 的重复次数 '{head[1:]}' 不是数字")
    repetitions = int(head[1:]) if head[1:] else FOREVER
    if repetitions == 0:
        raise PlanError(f"周期 '{text}' 重复 0 次, 永远不会启动")
    if len(parts) == 2:
        period = _duration(parts[1])
        first = planned_at + TimerEventDefinition.get_timedelta_from_start(dict(period), planned_at)
        return Plan(first, period, repetitions)
    return Plan(_date_time(parts[1]), _duration(parts[2]), repetitions)
