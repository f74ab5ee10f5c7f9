"""A process's timer start event, read from its XML: what the scheduler plans (``timer_starts``) and what
the deploy checks refuse (every problem a finding, in zh-CN, naming the element).

Only the process's own start events count (not those of its sub-processes). A process started by a timer
has that one start event: a second start event (a plain one, a message) would wait inside every instance the
timer starts, for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from app.workflow import timer_plans
from app.workflow.checks import Finding
from app.workflow.sandbox import RestrictedEnvironment, SandboxError

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_EXAMPLE = "'R/2026-12-07T08:00:00+08:00/P1D'"
_ANY_MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimerStartEvent:
    element_id: str
    kind: str  # timeDate | timeCycle | timeDuration
    source: str  # the expression as written


def _timer_starts(process: Any) -> tuple[list[tuple[Any, Any]], int]:
    """(start event, its timer definition) of each timer start event, and how many start events in all."""
    events = process.findall(f"{{{_BPMN}}}startEvent")
    timed = [(e, e.find(f"{{{_BPMN}}}timerEventDefinition")) for e in events]
    return [(e, t) for e, t in timed if t is not None], len(events)


def _kind_and_source(definition: Any) -> tuple[str | None, str]:
    for kind in timer_plans.KINDS:
        node = definition.find(f"{{{_BPMN}}}{kind}")
        if node is not None:
            return kind, (node.text or "").strip()
    return None, ""


def evaluate(source: str) -> Any:
    """The value of a timer start expression: a literal, evaluated in the sandbox with no data."""
    return RestrictedEnvironment().evaluate(source, {})


def read(process: Any) -> TimerStartEvent | None:
    """The timer start event of ``process`` (an lxml ``bpmn:process``), None when it has none."""
    found, _count = _timer_starts(process)
    if not found:
        return None
    event, definition = found[0]
    kind, source = _kind_and_source(definition)
    return TimerStartEvent(event.get("id"), kind, source) if kind else None


def read_xml(bpmn_xml: str, process_key: str) -> TimerStartEvent | None:
    """``read`` for the process ``process_key`` of a deployed file's XML."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(bpmn_xml.encode("utf-8"), parser=parser)
    for process in root.iter(f"{{{_BPMN}}}process"):
        if process.get("id") == process_key:
            return read(process)
    return None


def findings(process: Any) -> Iterator[Finding]:
    """Every problem of the timer start events of ``process``: the deploy refuses them all at once."""
    found, count = _timer_starts(process)
    if not found:
        return
    for event, _definition in found[1:]:
        yield Finding(event.get("id"), "一个流程只能有一个定时启动事件")
    event, definition = found[0]
    element_id = event.get("id")
    if count > 1:
        yield Finding(element_id, "有定时启动事件的流程不能再有其他开始事件 (它们会在每个实例中永远等待)")
    kind, source = _kind_and_source(definition)
    if kind is None:
        yield Finding(
            element_id, f"定时启动事件没有时间: 请填写 timeDate、timeCycle 或 timeDuration, 例如 {_EXAMPLE}"
        )
        return
    try:
        value = evaluate(source)
    except (SandboxError, Exception):  # a name (PT1H unquoted), arithmetic (2027-01-01): not a literal
        yield Finding(
            element_id,
            f"定时启动事件的时间 {source} 不是带引号的文本: 启动前没有流程数据, "
            f"请写成 '{source.strip(chr(39))}' 这样的文本, 例如 {_EXAMPLE}",
        )
        return
    try:
        timer_plans.parse(kind, value, _ANY_MOMENT)  # whether it parses does not depend on when
    except timer_plans.PlanError as exc:
        yield Finding(element_id, f"定时启动事件的时间无法解析: {exc}")
