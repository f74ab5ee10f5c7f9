"""Probe diagrams started by a timer (``timer_starts``): a timer start event, then a person's task, so each
instance the scheduler starts stays running and is counted as a row."""

from __future__ import annotations

from tests.probes import definitions, user_task

_ROLES = {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"}
DAILY_0800 = "'R/2026-11-03T08:00:00+08:00/P1D'"  # every day at 08:00 Beijing time (00:00 UTC)


def timer_started(
    timer: str = DAILY_0800,
    kind: str = "timeCycle",
    key: str = "morning_round",
    task_name: str = "晨检",
    after: str = "",
    extra_start: str = "",
) -> bytes:
    """``key``: started by the timer start event ``morning`` (``kind`` = ``timer``), then ``check`` (a
    person). ``after``: a script run between them (a failing one parks the instance); ``extra_start``:
    another start event, to be refused."""
    target = "work" if after else "check"
    script = (
        f"""    <bpmn:scriptTask id="work" name="准备">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:script>{after}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="work" targetRef="check" />"""
        if after
        else ""
    )
    incoming = "f1" if after else "f0"
    return definitions(
        f"{key}_definitions",
        f"""  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="morning" name="每天早上">
      <bpmn:outgoing>f0</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:{kind}>{timer}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:startEvent>{extra_start}
    <bpmn:sequenceFlow id="f0" sourceRef="morning" targetRef="{target}" />
{script}
{user_task("check", incoming, "f2", _ROLES, task_name)}
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def plain_start() -> str:
    return """
    <bpmn:startEvent id="by_hand" name="手动开始"><bpmn:outgoing>f9</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f9" sourceRef="by_hand" targetRef="check" />"""
