"""Deploy checks, all at once: every problem of a diagram in one answer (element id and name, the reason in
English and in the reader's language), DMN cells, literal timers, unit tests, pre-scripts; and the warnings
that do not refuse a deploy."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from app.web.i18n import LANG_COOKIE
from tests.helpers import fingerprint

DIAGRAMS = Path(__file__).parent / "diagrams"
DEPLOY = "/api/v1/process-definitions"


def _deploy(client: Any, headers: dict[str, str], name: str, content: bytes) -> Any:
    return client.post(
        DEPLOY,
        data={"file": (io.BytesIO(content), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_five_problems_come_back_in_one_answer(client, auth, users):
    headers = auth("designer")
    before = fingerprint()
    response = _deploy(client, headers, "five_problems.bpmn", (DIAGRAMS / "five_problems.bpmn").read_bytes())
    assert response.status_code == 422
    body = response.get_json()
    problems = body["details"]["problems"]
    found = {(p["element_id"], p["element_name"], p["severity"]) for p in problems}
    assert found == {
        ("check", "现场核查", "error"),
        ("late", "两小时未核查", "error"),
        ("score", "计算分数", "error"),
    }
    reasons = sorted(p["reason"] for p in problems)
    assert len(reasons) == 5, reasons
    assert any("form 'no_such_form.schema.json' does not exist" in r for r in reasons)
    assert any("night_watch" in r for r in reasons)
    assert any(r.startswith("pre-script is not allowed") for r in reasons)
    assert any(r.startswith("timer value PT2H is not quoted") for r in reasons)
    assert any(r.startswith("unit test 'doubles' failed: expected") for r in reasons)
    messages = sorted(p["message"] for p in problems)
    assert "表单库中没有表单 no_such_form.schema.json" in messages
    assert any(m.startswith("定时器的值 PT2H 没有加引号") for m in messages)
    assert any(m.startswith("单元测试 doubles 未通过:期望") for m in messages)
    assert any(m.startswith("前置脚本不能通过检查") for m in messages)
    assert "and 4 more problems" in body["message"]
    assert fingerprint() == before


def test_the_problems_speak_english_on_request(client, auth, users):
    headers = auth("designer")
    client.set_cookie(LANG_COOKIE, "en")
    response = _deploy(client, headers, "five_problems.bpmn", (DIAGRAMS / "five_problems.bpmn").read_bytes())
    problems = response.get_json()["details"]["problems"]
    assert all(p["message"] == p["reason"] for p in problems)


def test_dmn_cells_are_checked_at_deploy(client, auth, users):
    headers = auth("designer")
    before = fingerprint()
    response = _deploy(
        client, headers, "severity_grading.dmn", (DIAGRAMS / "severity_grading.dmn").read_bytes()
    )
    assert response.status_code == 422
    problems = response.get_json()["details"]["problems"]
    assert [(p["element_id"], p["element_name"]) for p in problems] == [
        ("severity_grading", "严重程度分级"),
        ("severity_grading", "严重程度分级"),
    ]
    assert "rule 1, input 1: '[1..3]' is not a Python expression (FEEL ranges" in problems[0]["reason"]
    assert "1 <= ? <= 3" in problems[0]["message"]
    assert "rule 3, output 1" in problems[1]["reason"]
    assert fingerprint() == before
    fixed = (
        (DIAGRAMS / "severity_grading.dmn")
        .read_text()
        .replace("[1..3]", "1 &lt;= ? &lt;= 3")
        .replace('"green<', '"green"<')
    )
    assert _deploy(client, headers, "severity_grading.dmn", fixed.encode()).status_code == 201


def _minimal(body: str, *, extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="probe_definitions" targetNamespace="x">
  {extra}
  <bpmn:process id="probe" name="探针" isExecutable="true">{body}</bpmn:process>
</bpmn:definitions>""".encode()


def test_a_quoted_timer_that_is_not_iso_8601_is_refused(client, auth, users):
    body = """
    <bpmn:startEvent id="s"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait" name="等两小时"><bpmn:incoming>a</bpmn:incoming>
      <bpmn:outgoing>b</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration>"two hours"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="b" sourceRef="wait" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>b</bpmn:incoming></bpmn:endEvent>"""
    response = _deploy(client, auth("designer"), "probe.bpmn", _minimal(body))
    assert response.status_code == 422
    [problem] = response.get_json()["details"]["problems"]
    assert problem["element_id"] == "wait"
    assert "is not an ISO 8601 date, duration or cycle" in problem["reason"]
    ok = _deploy(client, auth("designer"), "probe.bpmn", _minimal(body.replace('"two hours"', '"PT2H"')))
    assert ok.status_code == 201, ok.get_json()


def test_warnings_do_not_refuse_a_deploy(client, auth, users):
    """A case process with no closing step, and a payload sent to a catch event that keeps no variable."""
    body = """
    <bpmn:startEvent id="s"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="limit" />
    <bpmn:serviceTask id="limit" name="计算时限">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="case.set_time_limit" resultVariable="time_limit">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="hours" type="int" value="4" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="b" sourceRef="limit" targetRef="notify" />
    <bpmn:intermediateThrowEvent id="notify" name="通知"><bpmn:incoming>b</bpmn:incoming>
      <bpmn:outgoing>c</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="m_note">
        <bpmn:extensionElements><spiffworkflow:messagePayload>{"n": 1}</spiffworkflow:messagePayload>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="c" sourceRef="notify" targetRef="heard" />
    <bpmn:intermediateCatchEvent id="heard" name="收到回复"><bpmn:incoming>c</bpmn:incoming>
      <bpmn:outgoing>d</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="m_note" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="d" sourceRef="heard" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>d</bpmn:incoming></bpmn:endEvent>"""
    response = _deploy(
        client,
        auth("designer"),
        "probe.bpmn",
        _minimal(body, extra='<bpmn:message id="m_note" name="note" />'),
    )
    assert response.status_code == 201, response.get_json()
    warnings = response.get_json()[0]["warnings"]
    assert {(w["element_id"], w["severity"]) for w in warnings} == {
        ("heard", "warning"),
        ("probe", "warning"),
    }
    texts = " ".join(w["message"] for w in warnings)
    assert "messageVariable" in texts and "流程中没有结案步骤" in texts
