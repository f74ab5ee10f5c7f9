"""Probe diagrams with cycle timers (``timeCycle``): a non-interrupting boundary reminder on a person's task
and an intermediate catch event. Each firing offers a person a task, so a test counts firings as task rows."""

from __future__ import annotations

from tests.probes import definitions, user_task

_ROLES = {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"}


def _process(process_id: str, body: str) -> bytes:
    return definitions(
        f"{process_id}_definitions",
        f"""  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">
{body}
  </bpmn:process>""",
    ).encode()


def _timer(cycle: str) -> str:
    return f"<bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>"


def boundary_reminder(cycle: str = "'R3/PT1H'") -> bytes:
    """``handle`` (a person) carries a non-interrupting reminder on ``cycle``: each firing offers
    ``follow_up``; completing ``handle`` ends the process's main path."""
    return _process(
        "cycle_reminder",
        f"""    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" />
{user_task("handle", "f1", "f2", _ROLES, "办理")}
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="remind" name="每小时提醒" cancelActivity="false" attachedToRef="handle">
      <bpmn:outgoing>r1</bpmn:outgoing>
      {_timer(cycle)}
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="r1" sourceRef="remind" targetRef="follow_up" />
{user_task("follow_up", "r1", "r2", _ROLES, "催办")}
    <bpmn:sequenceFlow id="r2" sourceRef="follow_up" targetRef="reminded" />
    <bpmn:endEvent id="reminded" name="已催办"><bpmn:incoming>r2</bpmn:incoming></bpmn:endEvent>""",
    )


def intermediate_cycle(cycle: str = "'R2/PT1H'") -> bytes:
    """start → an intermediate timer catch event on ``cycle`` → ``check`` (a person) → end."""
    return _process(
        "cycle_wait",
        f"""    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait" name="每小时">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      {_timer(cycle)}
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="check" />
{user_task("check", "f2", "f3", _ROLES, "检查")}
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>""",
    )
