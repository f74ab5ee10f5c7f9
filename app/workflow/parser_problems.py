"""SpiffWorkflow's own parser refusals, made readable: the element they are about and a stable reason.

Our checks (``checks.py``) gather every problem of a diagram; SpiffWorkflow's parser stops at the first one
it meets (``ValidationException``: the BPMN schema, a missing start event, a gateway flow without condition,
an unknown called process …) with an English text that often names no element, or misleads (a flow to a
missing element reads "perhaps a form has the same ID?"). ``explain`` turns one into the element it is
about (found in the XML when the parser names none), a short stable English reason that ``ZH_PATTERNS``
says in Chinese (``check_messages``), and the parser's own text kept as ``original`` for the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.workflow.checks import Finding

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NS = {"bpmn": _BPMN}


@dataclass(frozen=True)
class ParserProblem:
    element_id: str | None
    reason: str  # English, stable (tools, tests and the properties panel match it)
    line: int | None
    original: str  # SpiffWorkflow's own text


def _short_tags(text: str) -> str:
    return text.replace("{" + _BPMN + "}", "bpmn:")


def _text_of(exc: BaseException) -> str:
    """The parser's message without the ``". "`` SpiffWorkflow appends for its notes."""
    text = str(exc).strip().split("\n")[0].strip()
    while text.endswith((".", " ")) and len(text) > 1:
        text = text[:-1]
    return _short_tags(text) or type(exc).__name__


def _ids(root: Any) -> set[str]:
    return {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}


def _element_at_line(root: Any, line: int | None, tag: str | None = None) -> str | None:
    """Schema errors carry a line, not an element: the element of that line (of ``tag`` when several share
    it), else the nearest one with an id around it."""
    if line is None:
        return None
    on_line = [e for e in root.iter() if isinstance(e.tag, str) and getattr(e, "sourceline", None) == line]
    if tag:
        on_line = [e for e in on_line if _short_tags(e.tag) == tag] or on_line
    for element in on_line[:1]:
        while element is not None and not element.get("id"):
            element = element.getparent()
        return element.get("id") if element is not None else None
    return None


# -- the schema's messages (lxml's XSD validator, run by SpiffWorkflow on every file) -----------------

_SCHEMA = re.compile(r"Element '(?P<tag>[^']+)'(?:, attribute '(?P<attr>[^']+)')?: (?P<rest>.*)", re.DOTALL)


def _expected(rest: str) -> str:
    names = re.findall(r"bpmn:(\w+)", rest)
    return ", ".join(n for n in names if n not in ("documentation", "extensionElements")) or "?"


def _schema_reason(tag: str, attr: str | None, rest: str) -> str:
    if rest.startswith("This element is not expected"):
        return f"element {tag} is not allowed here by the BPMN schema"
    missing = re.match(r"The attribute '([^']+)' is required but missing", rest)
    if missing:
        return f"element {tag} lacks its required attribute '{missing.group(1)}'"
    if attr == "id" and "xs:ID" in rest:
        value = re.match(r"'([^']*)'", rest)
        return f"id '{value.group(1) if value else '?'}' is used twice or is not a valid id"
    if rest.startswith("Missing child element"):
        return f"element {tag} lacks a required child element (one of: {_expected(rest)})"
    return f"element {tag} breaks the BPMN schema: {rest}"


# -- the parser's own messages -----------------------------------------------------------------------

# (pattern over the parser's text, the English reason) in order; a reason may use the pattern's groups.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), reason)
    for pattern, reason in (
        (r"No start event found.*", "the process has no start event"),
        (
            r"Non-default exclusive outgoing sequence flow without condition.*",
            "sequence flow out of an exclusive gateway has no condition and is not its default flow",
        ),
        (r'No "calledElement" attribute for Call Activity.*', "call activity names no called process"),
        (r"The process '(?P<a>[^']+)' was not found.*", "called process '{a}' was not found"),
        (r"A Service Task must have an operator.*", "service task names no operator"),
        (r"Time Specification Error.*", "timer has no date, duration or cycle"),
        (r'No DMN Diagram available with id "(?P<a>[^"]*)".*', "decision '{a}' was not found"),
        (
            r"Exactly one start event is required in a SubWorkflow Task; found (?P<a>\d+).*",
            "a sub-process needs exactly one start event (it has {a})",
        ),
        (r"A SubWorkflow Must contain an End event.*", "a sub-process needs an end event"),
        (r"Duplicate process ID: (?P<a>\S+).*", "process id '{a}' is defined twice"),
        (
            r"There is no support implemented for this task type.*",
            "the engine cannot run this kind of element",
        ),
        (r"Conditional event definition with missing condition.*", "conditional event has no condition"),
        (
            r"Cannot resolve data(?:Input|Output)Association (?P<a>\S+).*",
            "data association names '{a}', which is no data object of the process",
        ),
        (r"Invalid Script Task.*No Script Provided.*", "script task has no script"),
        (r"No decisions found.*", "the DMN file defines no decision"),
        (
            r"Multiple decision tables are not current supported.*",
            "a decision may hold one decision table only",
        ),
        (
            r"Malformed Output Expression '(?P<a>.*?)'.*",
            "decision table output '{a}' is not a valid expression",
        ),
        (r"Unknown type in decision table: (?P<a>.+)", "decision table holds an unknown element {a}"),
        (
            r"(?:Message|Signal|Error|Escalation|Correlation|Data Store) identifier is missing.*",
            "a message, signal, error, escalation or data store of the file has no id",
        ),
    )
)


def _caller_of(root: Any, process_key: str) -> str | None:
    found = root.xpath("//*[@calledElement=$name]/@id", name=process_key)
    return str(found[0]) if found else None


def _undefined_message(root: Any, element_id: str | None) -> str | None:
    """SpiffWorkflow 3.2 fails with a TypeError of its own on a message event naming an undefined message:
    the message it names, if so."""
    defined = {m.get("id") for m in root.xpath("//bpmn:message", namespaces=_NS)}
    events = root.xpath("//*[@id=$id]", id=element_id) if element_id else root.iter()
    for event in events:
        if not isinstance(event.tag, str):
            continue
        for definition in event.xpath(".//bpmn:messageEventDefinition[@messageRef]", namespaces=_NS):
            if definition.get("messageRef") not in defined:
                return str(definition.get("messageRef"))
    return None


def _dangling_flow(root: Any, missing: str) -> str | None:
    flows = root.xpath(
        "//bpmn:sequenceFlow[@targetRef=$id or @sourceRef=$id]/@id", namespaces=_NS, id=missing
    )
    return str(flows[0]) if flows else None


def explain(exc: BaseException, root: Any) -> ParserProblem:
    """``exc`` (raised by SpiffWorkflow's parser on the file whose XML is ``root``) as a problem a designer
    can act on."""
    original = _text_of(exc)
    element_id = getattr(exc, "id", None) or None
    raw_line = getattr(exc, "line_number", None)
    line = raw_line if isinstance(raw_line, int) else None
    schema = _SCHEMA.fullmatch(original)
    if schema:
        tag = schema.group("tag")
        reason = _schema_reason(tag, schema.group("attr"), schema.group("rest"))
        return ParserProblem(element_id or _element_at_line(root, line, tag), reason, line, original)
    if "unexpected keyword argument" in original or original.startswith("Could not find messageRef"):
        message = _undefined_message(root, element_id)
        if message is not None:
            return ParserProblem(
                element_id, f"message '{message}' is not defined in the file", line, original
            )
    looked_for = re.fullmatch(r"When looking for a task spec, we found two items.*\((?P<a>[^)]+)\)", original)
    if looked_for:
        ref = looked_for.group("a")
        if ref not in _ids(root):
            reason = f"a sequence flow connects '{ref}', which is no element of the diagram"
            return ParserProblem(_dangling_flow(root, ref) or element_id, reason, line, original)
        return ParserProblem(element_id, f"id '{ref}' is used twice or is not a valid id", line, original)
    for pattern, template in _REASONS:
        match = pattern.fullmatch(original)
        if match:
            reason = template.format(**match.groupdict())
            if pattern.pattern.startswith("The process") and element_id is None:
                element_id = _caller_of(root, match.group("a"))
            return ParserProblem(element_id, reason, line, original)
    return ParserProblem(element_id, f"the engine cannot read the diagram: {original}", line, original)


# -- in Chinese (check_messages.in_chinese reads these after its own) ----------------------------------

_ZH: tuple[tuple[str, str], ...] = (
    (r"element (?P<a>\S+) is not allowed here by the BPMN schema", "BPMN 规范不允许在此处出现元素 {a}"),
    (r"element (?P<a>\S+) lacks its required attribute '(?P<b>[^']+)'", "元素 {a} 缺少必填属性 {b}"),
    (
        r"id '(?P<a>[^']*)' is used twice or is not a valid id",
        "ID {a} 重复或不是有效的 ID(ID 须唯一,且以字母开头)",
    ),
    (
        r"element (?P<a>\S+) lacks a required child element \(one of: (?P<b>.+)\)",
        "元素 {a} 缺少必需的子元素(应为 {b} 之一)",
    ),
    (r"element (?P<a>\S+) breaks the BPMN schema: (?P<b>.+)", "元素 {a} 不符合 BPMN 规范:{b}"),
    (r"the process has no start event", "流程没有开始事件:请从工具栏放入一个开始事件"),
    (
        r"sequence flow out of an exclusive gateway has no condition and is not its default flow",
        "排他网关的这条出口连线既没有条件,也不是网关的默认连线:请为它写条件,或把它设为默认连线",
    ),
    (r"call activity names no called process", "调用活动没有指定被调用的流程(calledElement)"),
    (r"called process '(?P<a>[^']+)' was not found", "找不到被调用的流程 {a}:它尚未部署,也不在本文件中"),
    (r"service task names no operator", "服务任务没有指定算子"),
    (r"timer has no date, duration or cycle", "定时器没有设置日期、时长或周期"),
    (r"decision '(?P<a>[^']*)' was not found", "找不到决策 {a}:请先部署定义它的 DMN 决策表"),
    (
        r"a sub-process needs exactly one start event \(it has (?P<a>\d+)\)",
        "子流程必须恰好有一个开始事件(现有 {a} 个)",
    ),
    (r"a sub-process needs an end event", "子流程必须有结束事件"),
    (r"process id '(?P<a>[^']+)' is defined twice", "流程 ID {a} 被定义了两次"),
    (r"the engine cannot run this kind of element", "流程引擎不支持这种元素"),
    (r"conditional event has no condition", "条件事件没有设置条件"),
    (
        r"data association names '(?P<a>[^']+)', which is no data object of the process",
        "数据关联引用的 {a} 不是本流程的数据对象",
    ),
    (r"script task has no script", "脚本任务没有脚本"),
    (r"the DMN file defines no decision", "DMN 文件中没有决策"),
    (r"a decision may hold one decision table only", "一个决策只能包含一张决策表"),
    (r"decision table output '(?P<a>.*)' is not a valid expression", "决策表输出 {a} 不是有效的表达式"),
    (r"decision table holds an unknown element (?P<a>.+)", "决策表中有无法识别的元素 {a}"),
    (
        r"a message, signal, error, escalation or data store of the file has no id",
        "文件中有消息、信号、错误、升级或数据存储缺少 ID",
    ),
    (r"message '(?P<a>[^']+)' is not defined in the file", "消息事件引用的消息 {a} 在文件中没有定义"),
    (
        r"a sequence flow connects '(?P<a>[^']+)', which is no element of the diagram",
        "连线连接的 {a} 不是图中的元素:请重新连接这条连线",
    ),
    (
        r"the default flow '(?P<a>[^']+)' is not an outgoing flow of the gateway",
        "网关的默认连线 {a} 不是它的出口连线:请在网关的出口连线中重新选择默认连线",
    ),
    (r"the engine cannot read the diagram: (?P<a>.+)", "流程引擎无法解析该图:{a}"),
)
ZH_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), template) for pattern, template in _ZH
)


def in_chinese(reason: str) -> str | None:
    """``reason`` (one of ``explain``'s) in Chinese; None when it is not one of them."""
    for pattern, template in ZH_PATTERNS:
        match = pattern.fullmatch(reason)
        if match:
            return template.format(**match.groupdict())
    return None


# -- what the parser lets through but breaks at run time -----------------------------------------------


def default_flow_findings(process: Any) -> list[Finding]:
    """A gateway's ``default`` must name one of its outgoing flows: SpiffWorkflow parses any id there, and
    the instance then stops at the gateway when no condition holds."""
    findings = []
    for gateway in process.xpath(".//*[@default]", namespaces=_NS):
        default = gateway.get("default")
        outgoing = gateway.xpath(
            "../bpmn:sequenceFlow[@sourceRef=$id]/@id", namespaces=_NS, id=gateway.get("id")
        )
        if default not in outgoing:
            findings.append(
                Finding(
                    gateway.get("id"), f"the default flow '{default}' is not an outgoing flow of the gateway"
                )
            )
    return findings
