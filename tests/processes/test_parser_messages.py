"""SpiffWorkflow's parser refusals in the designer's language: each broken diagram below is one family of
messages a designer meets. The deploy answer names the element (id and name), says the reason in zh-CN,
keeps a stable English reason and SpiffWorkflow's own text (``original``), and stores nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest

from app.web.i18n import LANG_COOKIE
from tests.helpers import fingerprint

DEPLOY = "/api/v1/process-definitions"


def _deploy(client: Any, headers: dict[str, str], content: bytes, name: str = "probe.bpmn") -> Any:
    return client.post(
        DEPLOY,
        data={"file": (io.BytesIO(content), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def _diagram(body: str, *, extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="probe_definitions" targetNamespace="x">
  {extra}
  <bpmn:process id="probe" name="探针" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>""".encode()


START = """<bpmn:startEvent id="s" name="开始"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>"""
END = """<bpmn:endEvent id="e" name="结束"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>"""


def _between(element: str) -> str:
    """``element`` (which takes ``f1`` in and gives ``f2`` out) between a start and an end."""
    return f"""{START}
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    {element}
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />
    {END}"""


@dataclass(frozen=True)
class Broken:
    xml: bytes
    element_id: str
    element_name: str
    reason: str  # the English reason starts with this
    message: str  # the zh-CN message starts with this
    original: str | None  # SpiffWorkflow's own text contains this (None: one of our own checks)


FAMILIES = {
    "missing start event": Broken(
        _diagram(
            """<bpmn:task id="t" name="任务"><bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />"""
            + END
        ),
        "probe",
        "探针",
        "the process has no start event",
        "流程没有开始事件",
        "No start event found",
    ),
    "unknown element (BPMN schema)": Broken(
        _diagram(
            START
            + """
    <bpmn:frobnicate id="odd" name="怪东西" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>"""
        ),
        "odd",
        "怪东西",
        "element bpmn:frobnicate is not allowed here by the BPMN schema",
        "BPMN 规范不允许在此处出现元素 bpmn:frobnicate",
        "This element is not expected",
    ),
    "missing attribute (BPMN schema)": Broken(
        _diagram(
            START
            + """
    <bpmn:sequenceFlow id="f1" name="去结束" sourceRef="s" />
    <bpmn:endEvent id="e"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>"""
        ),
        "f1",
        "去结束",
        "element bpmn:sequenceFlow lacks its required attribute 'targetRef'",
        "元素 bpmn:sequenceFlow 缺少必填属性 targetRef",
        "is required but missing",
    ),
    "gateway flow without condition": Broken(
        _diagram(
            START
            + """
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
    <bpmn:exclusiveGateway id="g" name="是否通过">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f2" name="通过" sourceRef="g" targetRef="e">
      <bpmn:conditionExpression>approved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" name="不通过" sourceRef="g" targetRef="e" />
    <bpmn:endEvent id="e">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming>
    </bpmn:endEvent>"""
        ),
        "f3",
        "不通过",
        "sequence flow out of an exclusive gateway has no condition",
        "排他网关的这条出口连线既没有条件,也不是网关的默认连线",
        "Non-default exclusive outgoing sequence flow without condition",
    ),
    "gateway default that is not its flow": Broken(
        _diagram(
            START
            + """
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
    <bpmn:exclusiveGateway id="g" name="是否通过" default="gone">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e">
      <bpmn:conditionExpression>approved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""
            + END
        ),
        "g",
        "是否通过",
        "the default flow 'gone' is not an outgoing flow of the gateway",
        "网关的默认连线 gone 不是它的出口连线",
        None,
    ),
    "script syntax": Broken(
        _diagram(
            _between(
                """<bpmn:scriptTask id="t" name="计算分数" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>score = = 1</bpmn:script>
    </bpmn:scriptTask>"""
            )
        ),
        "t",
        "计算分数",
        "script is not allowed",
        "脚本不能通过检查",
        None,
    ),
    "call activity without calledElement": Broken(
        _diagram(
            _between(
                """<bpmn:callActivity id="t" name="调用子流程">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>"""
            )
        ),
        "t",
        "调用子流程",
        "call activity names no called process",
        "调用活动没有指定被调用的流程",
        'No "calledElement" attribute',
    ),
    "called process not deployed": Broken(
        _diagram(
            _between(
                """<bpmn:callActivity id="t" name="调用子流程" calledElement="no_such_process">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>"""
            )
        ),
        "t",  # SpiffWorkflow names no element: the call activity naming the process is found
        "调用子流程",
        "called process 'no_such_process' was not found",
        "找不到被调用的流程 no_such_process",
        "The process 'no_such_process' was not found",
    ),
    "decision not deployed": Broken(
        _diagram(
            _between(
                """<bpmn:businessRuleTask id="t" name="严重程度分级">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>no_such_decision</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:businessRuleTask>"""
            )
        ),
        "t",
        "严重程度分级",
        "decision 'no_such_decision' was not found",
        "找不到决策 no_such_decision",
        "No DMN Diagram available",
    ),
    "service task without operator": Broken(
        _diagram(
            _between(
                """<bpmn:serviceTask id="t" name="自动派单">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>"""
            )
        ),
        "t",
        "自动派单",
        "service task names no operator",
        "服务任务没有指定算子",
        "A Service Task must have an operator",
    ),
    "timer without time": Broken(
        _diagram(
            _between(
                """<bpmn:intermediateCatchEvent id="t" name="等待两小时">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition />
    </bpmn:intermediateCatchEvent>"""
            )
        ),
        "t",
        "等待两小时",
        "timer has no date, duration or cycle",
        "定时器没有设置日期、时长或周期",
        "Time Specification Error",
    ),
    "undefined message": Broken(
        _diagram(
            _between(
                """<bpmn:intermediateCatchEvent id="t" name="等待回复">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="no_such_message" />
    </bpmn:intermediateCatchEvent>"""
            )
        ),
        "t",
        "等待回复",
        "message 'no_such_message' is not defined in the file",
        "消息事件引用的消息 no_such_message 在文件中没有定义",
        "unexpected keyword argument",  # SpiffWorkflow 3.2 trips over its own call here
    ),
    "flow to a missing element": Broken(
        _diagram(
            START
            + """
    <bpmn:sequenceFlow id="f1" name="去处置" sourceRef="s" targetRef="ghost" />
    <bpmn:endEvent id="e" />"""
        ),
        "f1",
        "去处置",
        "a sequence flow connects 'ghost', which is no element of the diagram",
        "连线连接的 ghost 不是图中的元素",
        "perhaps a form has the same ID?",
    ),
    "sub-process without start": Broken(
        _diagram(
            _between(
                """<bpmn:subProcess id="t" name="现场处置">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:endEvent id="t_end" />
    </bpmn:subProcess>"""
            )
        ),
        "t",
        "现场处置",
        "a sub-process needs exactly one start event (it has 0)",
        "子流程必须恰好有一个开始事件(现有 0 个)",
        "Exactly one start event is required",
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_parser_refusal_names_the_element_in_chinese(client, auth, users, family):
    broken, headers = FAMILIES[family], auth("designer")
    before = fingerprint()
    response = _deploy(client, headers, broken.xml)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    [problem] = body["details"]["problems"]
    assert (problem["element_id"], problem["element_name"]) == (broken.element_id, broken.element_name)
    assert problem["reason"].startswith(broken.reason), problem
    assert problem["message"].startswith(broken.message), problem
    if broken.original is None:
        assert "original" not in problem
    else:
        assert broken.original in problem["original"], problem
        assert "{http" not in problem["original"]  # the schema's namespaces are shortened to bpmn:
    assert fingerprint() == before


def test_bad_xml_names_the_line_in_chinese(client, auth, users):
    xml = _diagram(START + "\n    <bpmn:endEvent id='e'>\n  ").replace(b"</bpmn:process>", b"")
    response = _deploy(client, auth("designer"), xml)
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert details["reason"].startswith("not well-formed XML")
    assert details["message"].startswith("XML 格式错误")
    assert isinstance(details["line"], int) and details["line"] > 1


def test_an_unknown_parser_message_still_reads_as_chinese_with_the_original():
    from lxml import etree

    from app.workflow import check_messages, parser_problems

    root = etree.fromstring(_diagram(_between("<bpmn:task id='t' />")))
    explained = parser_problems.explain(RuntimeError("Something new went wrong. "), root)
    assert explained.reason == "the engine cannot read the diagram: Something new went wrong"
    assert check_messages.in_chinese(explained.reason) == "流程引擎无法解析该图:Something new went wrong"


def test_the_parser_refusals_speak_english_on_request(client, auth, users):
    client.set_cookie(LANG_COOKIE, "en")
    response = _deploy(client, auth("designer"), FAMILIES["missing start event"].xml)
    [problem] = response.get_json()["details"]["problems"]
    assert problem["message"] == problem["reason"] == "the process has no start event"
