"""Probe diagrams that run into an engine failure after a person's step, a timer or a message: the designer's
mistakes of issue #15 (a gateway where no condition holds, a script failing on a variable, a property that
cannot be evaluated), each repairable by changing a variable, so a retry can continue."""

from __future__ import annotations

from tests.probes import definitions, user_task

REVIEW = "review.schema.json"


def _ask(
    task_id: str, incoming: str, outgoing: str, name: str, roles: str = "supervisor", **extra: str
) -> str:
    return user_task(
        task_id,
        incoming,
        outgoing,
        {"formJsonSchemaFilename": REVIEW, "candidateRoles": roles, **extra},
        name,
    )


def _process(process_id: str, body: str) -> bytes:
    return definitions(
        f"{process_id}_definitions",
        f"""  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">
{body}
  </bpmn:process>""",
    ).encode()


# decide (a person) → gateway with one condition only (approve): "reject" meets no condition there. The
# gateway is followed by a script, so a step that fails later keeps the script's work before it.
GATEWAY_PROBE = _process(
    "gateway_probe",
    f"""    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />
{_ask("decide", "f1", "f2", "决定")}
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="noted" />
    <bpmn:scriptTask id="noted" name="记录">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>noted = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="noted" targetRef="route" />
    <bpmn:exclusiveGateway id="route" name="分流">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f_yes</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_yes" sourceRef="route" targetRef="carry_on">
      <bpmn:conditionExpression>review_decision == "approve"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
{_ask("carry_on", "f_yes", "f4", "继续办理")}
    <bpmn:sequenceFlow id="f4" sourceRef="carry_on" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>""",
)

# wait_here (a person) carries two non-interrupting timers: after 1 hour a script that divides by
# ``divisor`` (0 at the start: it fails) and offers "after_timer"; after 3 hours a script that notes it.
TIMER_PROBE = _process(
    "timer_probe",
    f"""    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_here" />
{_ask("wait_here", "f1", "f2", "等待")}
    <bpmn:sequenceFlow id="f2" sourceRef="wait_here" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="hour_passed" name="一小时" cancelActivity="false" attachedToRef="wait_here">
      <bpmn:outgoing>t1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="hour_passed_timer">
        <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="t1" sourceRef="hour_passed" targetRef="share" />
    <bpmn:scriptTask id="share" name="分摊">
      <bpmn:incoming>t1</bpmn:incoming><bpmn:outgoing>t2</bpmn:outgoing>
      <bpmn:script>share = 10 / divisor</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="t2" sourceRef="share" targetRef="after_timer" />
{_ask("after_timer", "t2", "t3", "超时处理")}
    <bpmn:sequenceFlow id="t3" sourceRef="after_timer" targetRef="timer_end" />
    <bpmn:endEvent id="timer_end"><bpmn:incoming>t3</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="three_hours" name="三小时" cancelActivity="false" attachedToRef="wait_here">
      <bpmn:outgoing>l1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="three_hours_timer">
        <bpmn:timeDuration>"PT3H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="l1" sourceRef="three_hours" targetRef="note_late" />
    <bpmn:scriptTask id="note_late" name="记录超时">
      <bpmn:incoming>l1</bpmn:incoming><bpmn:outgoing>l2</bpmn:outgoing>
      <bpmn:script>late = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="l2" sourceRef="note_late" targetRef="late_end" />
    <bpmn:endEvent id="late_end"><bpmn:incoming>l2</bpmn:incoming></bpmn:endEvent>""",
)

# A message "poke" caught while waiting: the script after it reads a variable nobody set.
MESSAGE_PROBE = definitions(
    "message_probe_definitions",
    f"""  <bpmn:message id="msg_poke" name="poke" />
  <bpmn:process id="message_probe" name="message_probe" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_poke" />
    <bpmn:intermediateCatchEvent id="wait_poke" name="等待提醒">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="wait_poke_message" messageRef="msg_poke" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_poke" targetRef="use_poke" />
    <bpmn:scriptTask id="use_poke" name="处理提醒">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>level = missing_variable + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="use_poke" targetRef="after_poke" />
{_ask("after_poke", "f3", "f4", "提醒后")}
    <bpmn:sequenceFlow id="f4" sourceRef="after_poke" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
).encode()

# A script task that leads nowhere: once it has run, nothing is ready, nothing waits and the process never
# reaches its end.
STUCK_PROBE = _process(
    "stuck_probe",
    f"""    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
{_ask("first", "f1", "f2", "第一步")}
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="dead_end" />
    <bpmn:scriptTask id="dead_end" name="死胡同">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:script>reached = True</bpmn:script>
    </bpmn:scriptTask>""",
)

# After "decide", two branches in one engine run: the left offers "left_task" to a person, the right calls
# the test operator ``probe.half_write`` (it writes an audit event, then fails).
PARALLEL_PROBE = _process(
    "parallel_probe",
    f"""    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />
{_ask("decide", "f1", "f2", "决定")}
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="fork" />
    <bpmn:parallelGateway id="fork">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f_left</bpmn:outgoing><bpmn:outgoing>f_right</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f_left" sourceRef="fork" targetRef="left_task" />
{_ask("left_task", "f_left", "f_left_end", "左支任务")}
    <bpmn:sequenceFlow id="f_left_end" sourceRef="left_task" targetRef="left_end" />
    <bpmn:endEvent id="left_end"><bpmn:incoming>f_left_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_right" sourceRef="fork" targetRef="half_write" />
    <bpmn:serviceTask id="half_write" name="写一半">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="probe.half_write" resultVariable="written">
          <spiffworkflow:parameters />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_right</bpmn:incoming><bpmn:outgoing>f_right_end</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f_right_end" sourceRef="half_write" targetRef="right_end" />
    <bpmn:endEvent id="right_end"><bpmn:incoming>f_right_end</bpmn:incoming></bpmn:endEvent>""",
)
