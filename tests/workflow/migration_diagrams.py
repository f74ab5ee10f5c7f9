"""Versions of diagrams for the migration tests: the shipped case_handling.bpmn changed in a compatible way
or with an element removed, and a small probe whose gateway fails after a timer."""

from __future__ import annotations

import re

from app.config import PROJECT_ROOT
from tests.probes import definitions, user_task

CASE_HANDLING = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected one {old!r}"
    return text.replace(old, new)


def case_handling_compatible() -> bytes:
    """case_handling with the handle task relabelled and documented, and a script task added after the
    photo proof (after where running cases wait)."""
    text = _replace_once(
        CASE_HANDLING,
        '<bpmn:userTask id="handle" name="处置">',
        '<bpmn:userTask id="handle" name="现场处置">\n'
        "        <bpmn:documentation>到场处置并记录结果。</bpmn:documentation>",
    )
    text = _replace_once(
        text,
        '<bpmn:sequenceFlow id="flow_proof_end" sourceRef="photo_proof" targetRef="handling_end" />',
        '<bpmn:sequenceFlow id="flow_proof_end" sourceRef="photo_proof" targetRef="note_proof" />\n'
        '      <bpmn:scriptTask id="note_proof" name="记录凭证">\n'
        "        <bpmn:incoming>flow_proof_end</bpmn:incoming>\n"
        "        <bpmn:outgoing>flow_note_end</bpmn:outgoing>\n"
        "        <bpmn:script>proof_noted = True</bpmn:script>\n"
        "      </bpmn:scriptTask>\n"
        '      <bpmn:sequenceFlow id="flow_note_end" sourceRef="note_proof" targetRef="handling_end" />',
    )
    text = _replace_once(
        text,
        "<bpmn:incoming>flow_proof_end</bpmn:incoming>\n      </bpmn:endEvent>",
        "<bpmn:incoming>flow_note_end</bpmn:incoming>\n      </bpmn:endEvent>",
    )
    return text.encode("utf-8")


def case_handling_without_photo_proof() -> bytes:
    """case_handling whose handling ends right after the handle task: the photo proof task is gone."""
    text = _replace_once(
        CASE_HANDLING,
        'sourceRef="gw_handle_result" targetRef="photo_proof"',
        'sourceRef="gw_handle_result" targetRef="handling_end"',
    )
    text = re.sub(r'\s*<bpmn:userTask id="photo_proof".*?</bpmn:userTask>', "", text, flags=re.S)
    text = _replace_once(
        text,
        '\n      <bpmn:sequenceFlow id="flow_proof_end" sourceRef="photo_proof" targetRef="handling_end" />',
        "",
    )
    text = _replace_once(
        text,
        "<bpmn:incoming>flow_proof_end</bpmn:incoming>",
        "<bpmn:incoming>flow_handle_proof</bpmn:incoming>",
    )
    text = re.sub(
        r'\s*<bpmndi:BPMN(Shape|Edge) id="(photo_proof|flow_proof_end)_di".*?</bpmndi:BPMN\1>',
        "",
        text,
        flags=re.S,
    )
    return text.encode("utf-8")


def case_handling_without_warning() -> bytes:
    """case_handling without the 80 % warning (the timer on handling, its path); the overdue timer stays."""
    text = re.sub(
        r'\s*<bpmn:boundaryEvent id="timer_warn".*?<bpmn:endEvent id="end_warned".*?</bpmn:endEvent>',
        "",
        CASE_HANDLING,
        flags=re.S,
    )
    for element in ("timer_warn", "warn_due", "end_warned"):
        text = _replace_once(text, f"\n        <bpmn:flowNodeRef>{element}</bpmn:flowNodeRef>", "")
    text = re.sub(
        r'\s*<bpmndi:BPMN(Shape|Edge) id="(timer_warn|warn_due|end_warned|flow_warn|flow_warn_end)_di".*?'
        r"</bpmndi:BPMN\1>",
        "",
        text,
        flags=re.S,
    )
    assert 'id="timer_warn"' not in text and "flow_warn" not in text
    return text.encode("utf-8")


def case_handling_without_withdrawal() -> bytes:
    """case_handling without the reporter's withdrawal (the message boundary event on triage and its path):
    triage has no boundary event left."""
    text = re.sub(
        r'\s*<bpmn:boundaryEvent id="withdrawn".*?<bpmn:endEvent id="end_withdrawn".*?</bpmn:endEvent>',
        "",
        CASE_HANDLING,
        flags=re.S,
    )
    for element in ("withdrawn", "finish_withdrawn", "end_withdrawn"):
        text = _replace_once(text, f"\n        <bpmn:flowNodeRef>{element}</bpmn:flowNodeRef>", "")
    text = re.sub(
        r'\s*<bpmndi:BPMN(Shape|Edge) id="(withdrawn|finish_withdrawn|end_withdrawn|flow_withdrawn|'
        r'flow_withdrawn_end)_di".*?</bpmndi:BPMN\1>',
        "",
        text,
        flags=re.S,
    )
    assert 'id="withdrawn"' not in text and "flow_withdrawn" not in text
    return text.encode("utf-8")


def routed_probe(condition: str, *, timer: bool = True) -> bytes:
    """``fill`` (the review form), then a one-hour timer (unless ``timer`` is false), then gateway ``route``:
    ``condition`` leads to ``after``, ``review_decision == "reject"`` to ``rejected``; no default flow."""
    props = {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"}
    fill = user_task("fill", "f1", "f2", props, name="填写")
    after = user_task("after", "f4", "f6", props, name="后续处理")
    rejected = user_task("rejected", "f5", "f7", props, name="退回")
    wait = """    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait" name="等待一小时">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="route" />"""
    # Without the timer, flow f2 still leaves fill (its outgoing) and f3 reaches the gateway (its incoming).
    direct = """    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="pass" />
    <bpmn:intermediateThrowEvent id="pass" name="直接分流">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="pass" targetRef="route" />"""
    return definitions(
        "routed_definitions",
        f"""  <bpmn:process id="routed" name="分流探针" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
{fill}
{wait if timer else direct}
    <bpmn:exclusiveGateway id="route" name="分流">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f4" sourceRef="route" targetRef="after">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="route" targetRef="rejected">
      <bpmn:conditionExpression>review_decision == "reject"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
{after}
{rejected}
    <bpmn:sequenceFlow id="f6" sourceRef="after" targetRef="end" />
    <bpmn:sequenceFlow id="f7" sourceRef="rejected" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f6</bpmn:incoming><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode("utf-8")


def case_handling_warning_at_the_limit() -> bytes:
    """case_handling whose warning timer fires at the time limit itself instead of at 80 % of it."""
    text = _replace_once(
        CASE_HANDLING,
        '<bpmn:timeDate>time_limit["warn_at"]</bpmn:timeDate>',
        '<bpmn:timeDate>time_limit["due_at"]</bpmn:timeDate>',
    )
    return text.encode("utf-8")


def case_handling_handle_as_manual_task() -> bytes:
    """case_handling whose handle step is a manual task instead of a user task (another kind of element)."""
    start = CASE_HANDLING.index('<bpmn:userTask id="handle"')
    end = CASE_HANDLING.index("</bpmn:userTask>", start) + len("</bpmn:userTask>")
    block = CASE_HANDLING[start:end]
    block = re.sub(r"\s*<bpmn:extensionElements>.*?</bpmn:extensionElements>", "", block, flags=re.S)
    block = block.replace("bpmn:userTask", "bpmn:manualTask")
    return (CASE_HANDLING[:start] + block + CASE_HANDLING[end:]).encode("utf-8")
