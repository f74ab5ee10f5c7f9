"""Deploy checks that look at one element (or one DMN table) and report every problem they find.

``app/workflow/engine.py`` parses a diagram and runs these over every element; the deploy is refused with all
the problems at once (a designer fixes them in one round, not one per attempt). Everything here runs at
deploy time on the designer's text: expressions and scripts are compiled by the same sandbox rules as at run
time, literal timer values are parsed as the engine will parse them, and the diagram's own unit tests run.

Warnings (``severity="warning"``) do not refuse the deploy: a message caught without a variable, a case
process that can end without closing its case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from app.workflow.sandbox import RestrictedEnvironment, SandboxError, check_source


@dataclass(frozen=True)
class Finding:
    """One problem of one element: what ``engine.DeploymentError`` is built from."""

    element_id: str | None
    reason: str
    severity: str = "error"  # error: refuses the deploy | warning: reported, deployed anyway


# An ISO 8601 duration, date-time or cycle written bare: a Python expression it is not (PT2H is a name).
_ISO_LITERAL = re.compile(r"^(R\d*/)?(P[0-9YMWDTHS.]+|\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]+)?)(/P[0-9YMWDTHS.]+)?$")


def expression_findings(task_spec: Any, *, timers: bool = True) -> Iterator[Finding]:
    """Every designer expression and script of ``task_spec``, compiled as the engine will run it. Not its
    timer with ``timers=False``: a process's timer start event has rules of its own
    (``timer_start_events``)."""
    element_id = getattr(task_spec, "bpmn_id", None)
    for what, source, mode in _sources(task_spec):
        if what == "timer" and not timers:
            continue
        if what == "timer" and _ISO_LITERAL.match(source.strip()):
            yield Finding(
                element_id,
                f"timer value {source.strip()} is not quoted: timer values are Python expressions, write "
                f"'{source.strip()}'",
            )
            continue
        try:
            check_source(source, mode=mode)
        except SandboxError as exc:
            yield Finding(element_id, f"{what} is not allowed: {exc}")
            continue
        if what == "timer":
            yield from _literal_timer_findings(element_id, task_spec.event_definition, source)
    yield from unit_test_findings(task_spec)


def _sources(task_spec: Any) -> Iterator[tuple[str, str, Literal["exec", "eval"]]]:
    """(what, source, compile mode) of each expression and script of the element."""
    script = getattr(task_spec, "script", None)
    if script:
        yield "script", script, "exec"
    for attribute, what in (("prescript", "pre-script"), ("postscript", "post-script")):
        source = getattr(task_spec, attribute, None)
        if source:
            yield what, source, "exec"
    # Gateways keep their outgoing conditions as (condition, target name) pairs; the condition (None for a
    # default flow) holds the expression as its first argument.
    for condition, _target in getattr(task_spec, "cond_task_specs", None) or []:
        expression = condition.args[0] if condition is not None and getattr(condition, "args", None) else None
        if isinstance(expression, str) and expression:
            yield "condition", expression, "eval"
    event_definition = getattr(task_spec, "event_definition", None)
    if isinstance(event_definition, TimerEventDefinition):
        yield "timer", event_definition.expression, "eval"
    for pname, param in (getattr(task_spec, "operation_params", None) or {}).items():
        yield f"parameter '{pname}'", param["value"], "eval"
    properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    for pname in ("candidateUser", "candidateGroup", "gridCode", "dueAt"):
        if properties.get(pname):
            yield f"property '{pname}'", properties[pname], "eval"


def _literal_timer_findings(element_id: str | None, definition: Any, source: str) -> Iterator[Finding]:
    """A timer written as a string literal is parsed now, as the engine would when the timer starts."""
    try:
        value = RestrictedEnvironment().evaluate(source, {})
    except (SandboxError, NameError, KeyError, TypeError):
        return  # it reads process data: checked when it runs
    if not isinstance(value, str):
        yield Finding(element_id, f"timer value {source} is not text (an ISO 8601 date, duration or cycle)")
        return
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_time_or_duration(value)
        else:
            TimerEventDefinition.get_datetime(value)
    except Exception:  # the library raises ValueError, TypeError or its own exceptions alike
        yield Finding(element_id, f"timer value {value!r} is not an ISO 8601 date, duration or cycle")


def unit_test_findings(task_spec: Any) -> Iterator[Finding]:
    """The script's own unit tests (``spiffworkflow:unitTests``): each input, run in the sandbox, must give
    exactly the expected output."""
    script = getattr(task_spec, "script", None)
    tests = (getattr(task_spec, "extensions", None) or {}).get("unitTests") or []
    element_id = getattr(task_spec, "bpmn_id", None)
    for test in tests:
        name = test.get("id", "?")
        try:
            data = json.loads(test.get("inputJson") or "{}")
            expected = json.loads(test.get("expectedOutputJson") or "{}")
        except json.JSONDecodeError as exc:
            yield Finding(element_id, f"unit test '{name}': its JSON is not valid ({exc.msg})")
            continue
        if not script:
            continue
        try:
            RestrictedEnvironment().execute(script, data)
        except SandboxError as exc:
            yield Finding(element_id, f"unit test '{name}' failed: the script raised ({exc})")
            continue
        except Exception as exc:  # a designer's script may raise anything: that is the test failing
            yield Finding(element_id, f"unit test '{name}' failed: the script raised {type(exc).__name__}")
            continue
        if data != expected:
            yield Finding(
                element_id,
                f"unit test '{name}' failed: expected {json.dumps(expected, ensure_ascii=False)}, "
                f"got {json.dumps(data, ensure_ascii=False, default=str)}",
            )


# -- XML-level checks ------------------------------------------------------------------------------

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _local(node: Any) -> str:
    tag = node.tag if isinstance(node.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def dmn_findings(root: Any) -> Iterator[Finding]:
    """Every cell of every decision table: input expressions and output entries are Python expressions,
    input entries are Python tests (``"red"``, ``> 5``, ``1 <= ? <= 3``); FEEL is not."""
    for table in root.iter():
        if _local(table) != "decisionTable":
            continue
        decision = table.getparent()
        decision_id = decision.get("id") if decision is not None else None
        inputs = [child for child in table if _local(child) == "input"]
        yield from _unnamed_columns(decision_id, table, inputs)
        for index, column in enumerate(inputs, start=1):
            for node in column.iter():
                if _local(node) == "text" and node.text and _local(node.getparent()) == "inputExpression":
                    yield from _cell(decision_id, f"input {index} expression", node.text, test=False)
        for row_number, rule in enumerate((c for c in table if _local(c) == "rule"), start=1):
            entries = [c for c in rule if _local(c) in ("inputEntry", "outputEntry")]
            input_index = output_index = 0
            for entry in entries:
                text = next((t.text for t in entry if _local(t) == "text"), None)
                if _local(entry) == "inputEntry":
                    input_index += 1
                    where = f"rule {row_number}, input {input_index}"
                    yield from _cell(decision_id, where, text, test=True)
                else:
                    output_index += 1
                    where = f"rule {row_number}, output {output_index}"
                    yield from _cell(decision_id, where, text, test=False)


def _unnamed_columns(decision_id: str | None, table: Any, inputs: list[Any]) -> Iterator[Finding]:
    """An input needs an expression (what it reads), an output a name (the variable the decision sets)."""
    for index, column in enumerate(inputs, start=1):
        texts = [
            n.text
            for n in column.iter()
            if _local(n) == "text" and _local(n.getparent()) == "inputExpression"
        ]
        if not any((t or "").strip() for t in texts):
            yield Finding(decision_id, f"decision table input {index} has no expression")
    outputs = [child for child in table if _local(child) == "output"]
    for index, column in enumerate(outputs, start=1):
        if not (column.get("name") or "").strip():
            yield Finding(decision_id, f"decision table output {index} has no name (the variable it sets)")


def _cell(decision_id: str | None, where: str, text: str | None, *, test: bool) -> Iterator[Finding]:
    source = (text or "").strip()
    if not source or (test and source == "-"):
        return
    if test:
        # What SpiffWorkflow's DMN engine does: '?' is the input; a bare value is compared with '=='; an
        # operator first ("> 5") is appended to the input expression.
        candidates = [re.sub(r"\?", "dmninputexpr", source)] if "?" in source else [source, f"v {source}"]
    else:
        candidates = [source]
    errors = []
    for candidate in candidates:
        try:
            check_source(candidate, mode="eval")
        except SandboxError as exc:
            errors.append(str(exc))
            continue
        if candidate.startswith("v ") and re.match(r"[A-Za-z_]", source):
            # The engine joins the cell to the input expression without a space: "severity" + "not in (…)"
            # is the unknown name "severitynot", an error only when the rule is tried.
            yield Finding(
                decision_id,
                f"decision table {where}: {source!r} starts with a word, which the engine joins to the input "
                f"without a space: write it with ? for the input (? {source})",
            )
        return
    hint = " (FEEL ranges like [1..3] are not Python: write 1 <= ? <= 3)" if ".." in source else ""
    yield Finding(decision_id, f"decision table {where}: {source!r} is not a Python expression{hint}")


def message_variable_findings(process: Any) -> Iterator[Finding]:
    """A message sent with a payload (``spiffworkflow:messagePayload`` on a throw event of this file) and
    caught without ``spiffworkflow:messageVariable`` loses its payload (a warning: a message that only
    signals, like a withdrawal, needs no variable)."""
    root = process.getroottree().getroot()
    with_payload = {
        definition.get("messageRef")
        for definition in root.iter(f"{{{BPMN_NS}}}messageEventDefinition")
        if any(_local(child) == "messagePayload" for child in definition.iter())
    }
    for node in process.iter(f"{{{BPMN_NS}}}intermediateCatchEvent", f"{{{BPMN_NS}}}boundaryEvent"):
        definition = node.find(f"{{{BPMN_NS}}}messageEventDefinition")
        if definition is None or definition.get("messageRef") not in with_payload:
            continue
        if definition.get(f"{{{SPIFF_NS}}}messageVariable") or any(
            _local(child) == "messageVariable" for child in definition.iter()
        ):
            continue
        yield Finding(
            node.get("id"),
            "this message event keeps no payload: set spiffworkflow:messageVariable to keep what the message "
            "carries",
            severity="warning",
        )


# The operators that give a case its final status.
CASE_CLOSING_OPERATORS = frozenset({"case.finish", "case.mark_duplicate", "sensor.resolve"})


def case_closing_findings(process: Any) -> Iterator[Finding]:
    """A case process (one that calls ``case.*`` operators) with no closing operator (``case.finish`` …)
    anywhere, nor a call activity that might close it, leaves every case it runs open for ever. A warning on
    the process: which end closes is a matter of data the check cannot follow, so only the sure case is
    reported."""
    operators = [op.get("id") or "" for op in process.iter(f"{{{SPIFF_NS}}}serviceTaskOperator")]
    if not any(name.startswith("case.") for name in operators):
        return
    if any(name in CASE_CLOSING_OPERATORS for name in operators):
        return
    if process.find(f".//{{{BPMN_NS}}}callActivity") is not None:
        return
    yield Finding(
        process.get("id"),
        "the process never closes its case (no case.finish): every case it runs would stay open",
        severity="warning",
    )
