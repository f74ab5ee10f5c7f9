"""Tests for the RestrictedPython sandbox used by BPMN scripts and conditions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from app.workflow import sandbox
from app.workflow.sandbox import (
    HELPERS,
    RestrictedEnvironment,
    SandboxError,
    add_hours,
    add_minutes,
    check_source,
    compile_eval,
    compile_exec,
    hours_between,
    is_before,
    now,
    parse_datetime,
)

FIXED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment()


@pytest.fixture
def fixed_env() -> RestrictedEnvironment:
    """An environment whose clock stands at ``FIXED`` (the engine gives its environment the app's clock)."""
    return RestrictedEnvironment(clock=lambda: FIXED)


def _data() -> dict[str, Any]:
    return {
        "decision": "reject",
        "items": [5, 3, 8],
        "time_limit": {"due_at": "2026-11-03T09:00:00+00:00", "hours": 24},
        "count": 1,
        "type": "complaint",  # a task-data key that shadows a (forbidden) builtin must still work
    }


# --------------------------------------------------------------------------------------------------
# evaluate()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('decision == "reject"', True),
        ('decision != "reject"', False),
        ("len(items) > 2", True),
        ('time_limit["due_at"]', "2026-11-03T09:00:00+00:00"),
        ('time_limit.get("missing", 7)', 7),
        ("[i * 2 for i in items if i > 3]", [10, 16]),
        ("{k: v for k, v in time_limit.items()}", _data()["time_limit"]),
        ("sorted(items)", [3, 5, 8]),
        ("min(items) + max(items)", 11),
        ("sum(items) / len(items) > 5", True),
        ("any(i > 7 for i in items) and all(i > 2 for i in items)", True),
        ("list(zip(items, range(3)))", [(5, 0), (3, 1), (8, 2)]),
        ("list(reversed(items))", [8, 3, 5]),
        ("[i for i, v in enumerate(items) if v > 4]", [0, 2]),
        ('type == "complaint"', True),
        ("round(abs(-2.345), 1)", 2.3),
        ('f"{count:03d}"', "001"),
        ("\n   count + 1\n", 2),  # BPMN conditions often carry surrounding whitespace
    ],
)
def test_evaluate_expressions(env: RestrictedEnvironment, expression: str, expected: Any) -> None:
    assert env.evaluate(expression, _data()) == expected


def test_evaluate_sees_external_context_and_task_data_wins(env: RestrictedEnvironment) -> None:
    assert env.evaluate("limit * 2", {"count": 1}, {"limit": 4}) == 8
    assert env.evaluate("count", {"count": 1}, {"count": 99}) == 1


def test_evaluate_does_not_change_context(env: RestrictedEnvironment) -> None:
    data = _data()
    env.evaluate("len(items)", data)
    assert data == _data()


def test_evaluate_unknown_name_is_name_error(env: RestrictedEnvironment) -> None:
    with pytest.raises(NameError, match="missing"):
        env.evaluate("missing > 1", {})


def test_missing_attribute_raises_instead_of_returning_none(env: RestrictedEnvironment) -> None:
    with pytest.raises(AttributeError, match="nope"):
        env.evaluate("time_limit.nope", _data())


# --------------------------------------------------------------------------------------------------
# execute()


def test_execute_assigns_variables_into_context(env: RestrictedEnvironment) -> None:
    data = {"price": 12.5, "qty": 4}
    assert env.execute("total = price * qty\nlabel = 'big' if total > 40 else 'small'", data) is True
    assert data == {"price": 12.5, "qty": 4, "total": 50.0, "label": "big"}


def test_execute_mutates_nested_dicts_and_lists(env: RestrictedEnvironment) -> None:
    data = _data()
    env.execute(
        'time_limit["hours"] = 48\ntime_limit["extended"] = True\nitems.append(1)\nitems[0] = 0\n'
        'del time_limit["due_at"]',
        data,
    )
    assert data["time_limit"] == {"hours": 48, "extended": True}
    assert data["items"] == [0, 3, 8, 1]


def test_execute_can_delete_a_variable(env: RestrictedEnvironment) -> None:
    data = {"a": 1, "b": 2}
    env.execute("del a", data)
    assert data == {"b": 2}


@pytest.mark.parametrize(
    ("script", "name", "expected"),
    [
        ("n = 10\nn += 5", "n", 15),
        ("n = 10\nn -= 3", "n", 7),
        ("n = 10\nn *= 3", "n", 30),
        ("n = 10\nn /= 4", "n", 2.5),
        ("n = 10\nn //= 4", "n", 2),
        ("n = 10\nn %= 4", "n", 2),
        ("s = 'ab'\ns += 'cd'", "s", "abcd"),
        ("s = 'ab'\ns *= 2", "s", "abab"),
        ("xs = [1]\nxs += [2, 3]", "xs", [1, 2, 3]),
        ("count += 1", "count", 2),
    ],
)
def test_execute_augmented_assignment(
    env: RestrictedEnvironment, script: str, name: str, expected: Any
) -> None:
    data = {"count": 1}
    env.execute(script, data)
    assert data[name] == expected


def test_augmented_assignment_extends_task_data_list_in_place(env: RestrictedEnvironment) -> None:
    items = [1]
    data = {"items": items}
    env.execute("items += [2]", data)
    assert data["items"] is items
    assert items == [1, 2]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("n = 2\nn **= 3", r"'\*\*=' is not supported"),
        ("n = 2\nn |= 1", r"'\|=' is not supported"),
        ("d = {}\nd += {}", "numbers, strings and lists, not dict"),
    ],
)
def test_unsupported_augmented_assignment(env: RestrictedEnvironment, script: str, message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        env.execute(script, {})


def test_augmented_assignment_of_items_is_refused_at_compile_time(env: RestrictedEnvironment) -> None:
    with pytest.raises(SandboxError, match=r"Augmented assignment of object items.*`d\[\"a\"\] \+= 1`"):
        env.execute('d = {"a": 1}\nd["a"] += 1', {})


def test_execute_supports_loops_unpacking_functions_and_star_args(env: RestrictedEnvironment) -> None:
    script = (
        "pairs = []\n"
        "for a, (b, c) in [(1, (2, 3)), (4, (5, 6))]:\n"
        "    pairs.append(a + b + c)\n"
        "first, *rest = pairs\n"
        "def total(*values, **extra):\n"
        "    return sum(values) + extra.get('bonus', 0)\n"
        "result = total(*pairs, **{'bonus': 1})\n"
        "ranked = sorted(items, key=lambda v: -v)\n"
    )
    data = _data()
    env.execute(script, data)
    assert data["pairs"] == [6, 15]
    assert (data["first"], data["rest"]) == (6, [15])
    assert data["result"] == 22
    assert data["ranked"] == [8, 5, 3]


def test_context_stays_clean_and_json_serializable(fixed_env: RestrictedEnvironment) -> None:
    data = _data()
    script = (
        "def helper(v):\n"
        "    return v + 1\n"
        "square = lambda v: v * v\n"
        "due = add_hours(now(), 24)\n"
        "bumped = helper(count)\n"
        "fn = len\n"
        "squared = square(3)\n"
    )
    fixed_env.execute(script, data, {"external_fn": lambda: 1, "external_value": 5})
    assert set(data) == set(_data()) | {"due", "bumped", "squared"}
    assert data["due"] == "2026-11-03T09:00:00+00:00"
    assert (data["bumped"], data["squared"]) == (2, 9)
    for leaked in (
        "__builtins__",
        "_getattr_",
        "_write_",
        "_inplacevar_",
        "helper",
        "square",
        "fn",
        *HELPERS,
    ):
        assert leaked not in data
    json.dumps(data)


def test_external_context_is_visible_but_not_written_back(env: RestrictedEnvironment) -> None:
    data = {"a": 1}
    env.execute("b = a + offset\noffset = 100", data, {"offset": 10})
    assert data == {"a": 1, "b": 11}


def test_check_for_overwrite_helper_name(env: RestrictedEnvironment) -> None:
    with pytest.raises(ValueError, match=r"overwrites a predefined function.*now"):
        env.execute("x = 1", {"now": "yesterday"})


def test_check_for_overwrite_external_name(env: RestrictedEnvironment) -> None:
    with pytest.raises(ValueError, match=r"overwrites a predefined function.*offset"):
        env.execute("x = 1", {"offset": 1}, {"offset": 2})


def test_extra_environment_globals_are_offered_and_checked() -> None:
    env = RestrictedEnvironment({"double": lambda v: v * 2})
    data = {"a": 2}
    env.execute("b = double(a)", data)
    assert data == {"a": 2, "b": 4}
    with pytest.raises(ValueError, match="double"):
        env.execute("x = 1", {"double": 1})


def test_failed_script_writes_nothing_back(env: RestrictedEnvironment) -> None:
    data = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("b = 2\nc = a / 0", data)
    assert data == {"a": 1}


def test_compiled_code_is_cached() -> None:
    script = "cached_probe = 41 + 1"
    assert compile_exec(script) is compile_exec(script)
    before = compile_eval.cache_info().hits
    compile_eval("cached_probe_expression + 1")
    compile_eval("cached_probe_expression + 1")
    assert compile_eval.cache_info().hits >= before + 1
    assert compile_exec.cache_info().maxsize == 1024


def test_check_source(env: RestrictedEnvironment) -> None:
    check_source("total = price * qty")
    check_source("  total > 100 ", mode="eval")
    with pytest.raises(SandboxError, match="Import statements are not allowed"):
        check_source("import os")
    with pytest.raises(SandboxError, match="SyntaxError"):
        check_source("total = ", mode="eval")
    with pytest.raises(ValueError, match="mode"):
        check_source("x", mode="single")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Helpers and clock


def test_now_uses_the_environment_clock(fixed_env: RestrictedEnvironment) -> None:
    assert fixed_env.evaluate("now()", {}) == "2026-11-02T09:00:00+00:00"


def test_now_is_in_utc_and_without_a_clock_is_the_system_clock() -> None:
    def other() -> datetime:
        return datetime(2030, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))

    assert RestrictedEnvironment(clock=other).evaluate("now()", {}) == "2030-01-01T00:00:00+00:00"
    for current in (RestrictedEnvironment().evaluate("now()", {}), now()):
        before = datetime.now(UTC)
        assert (
            before - timedelta(seconds=5) <= datetime.fromisoformat(current) <= before + timedelta(seconds=5)
        )


def test_helpers_from_designer_code(fixed_env: RestrictedEnvironment) -> None:
    data = {"reported_at": "2026-11-02T08:30:00Z"}
    fixed_env.execute(
        "due = add_hours(now(), 2)\n"
        "warn = add_minutes(due, -30)\n"
        "age = hours_between(reported_at, now())\n"
        "late = is_before(due, parse_datetime('2026-11-02T12:00:00'))\n",
        data,
    )
    assert data == {
        "reported_at": "2026-11-02T08:30:00Z",
        "due": "2026-11-02T11:00:00+00:00",
        "warn": "2026-11-02T10:30:00+00:00",
        "age": 0.5,
        "late": True,
    }
    assert fixed_env.evaluate("is_before(now(), time_limit['due_at'])", _data()) is True


def test_parse_datetime_normalises_to_utc() -> None:
    assert parse_datetime("2026-11-02T17:00:00+08:00") == "2026-11-02T09:00:00+00:00"
    assert parse_datetime("2026-11-02T09:00:00") == "2026-11-02T09:00:00+00:00"
    assert parse_datetime("2026-11-02T09:00:00Z") == "2026-11-02T09:00:00+00:00"
    assert parse_datetime("2026-11-02") == "2026-11-02T00:00:00+00:00"


def test_time_arithmetic_helpers() -> None:
    assert add_hours("2026-11-02T09:00:00Z", 1.5) == "2026-11-02T10:30:00+00:00"
    assert add_hours("2026-11-02T09:00:00Z", -24) == "2026-11-01T09:00:00+00:00"
    assert add_minutes("2026-11-02T09:00:00+08:00", 90) == "2026-11-02T02:30:00+00:00"
    assert hours_between("2026-11-02T09:00:00Z", "2026-11-02T06:00:00Z") == -3.0
    assert hours_between("2026-11-02T09:00:00Z", "2026-11-02T17:00:00+08:00") == 0.0
    assert is_before("2026-11-02T09:00:00Z", "2026-11-02T09:00:01Z") is True
    assert is_before("2026-11-02T09:00:00Z", "2026-11-02T17:00:00+08:00") is False


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: parse_datetime("tomorrow"), ValueError, "not an ISO 8601"),
        # Called through HELPERS (typed Callable[..., Any]): designer code can pass anything.
        (lambda: HELPERS["parse_datetime"](20261102), TypeError, "must be an ISO 8601 string, got int"),
        (lambda: HELPERS["add_hours"]("2026-11-02T09:00:00Z", "2"), TypeError, "must be a number, got str"),
        (lambda: add_minutes("2026-11-02T09:00:00Z", True), TypeError, "must be a number, got bool"),
        (lambda: add_hours("2026-11-02T09:00:00Z", float("nan")), ValueError, "finite"),
        (lambda: HELPERS["is_before"]("2026-11-02", None), TypeError, "got NoneType"),
    ],
)
def test_helper_input_errors(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_helpers_table_is_complete() -> None:
    assert set(HELPERS) == {"now", "parse_datetime", "add_hours", "add_minutes", "hours_between", "is_before"}
    for name in HELPERS:
        assert name in (sandbox.__doc__ or "")


# --------------------------------------------------------------------------------------------------
# Escapes that must be refused


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ("import os", SandboxError, r"Line 1: Import statements are not allowed\. -> `import os`"),
        ("from os import path", SandboxError, "Import statements are not allowed"),
        ('__import__("os")', SandboxError, '"__import__" is an invalid variable name'),
        ('open("/etc/passwd")', SandboxError, r"open\(\) is not available"),
        ("().__class__.__bases__", SandboxError, '"__class__" is an invalid attribute name'),
        ('getattr(count, "__class__")', SandboxError, r"getattr\(\) is not available"),
        ("count.__dict__", SandboxError, '"__dict__" is an invalid attribute name'),
        ('exec("1")', SandboxError, "Exec calls are not allowed"),
        ('eval("1")', SandboxError, "Eval calls are not allowed"),
        ('compile("1", "<x>", "exec")', SandboxError, r"compile\(\) is not available"),
        ("globals()", SandboxError, r"globals\(\) is not available"),
        ("locals()", SandboxError, r"locals\(\) is not available"),
        ("vars()", SandboxError, r"vars\(\) is not available"),
        ("_secret = 1", SandboxError, '"_secret" is an invalid variable name because it starts with "_"'),
        ("x = _data", SandboxError, '"_data" is an invalid variable name'),
        ("items.__len__()", SandboxError, '"__len__" is an invalid attribute name'),
        ("type(count).__subclasses__()", SandboxError, '"__subclasses__" is an invalid attribute name'),
        ("object()", SandboxError, r"object\(\) is not available"),
        ("print(count)", SandboxError, r"print\(\) is not available"),
        ("class Evil:\n    pass", SandboxError, "Class definitions are not allowed"),
        ('"{0.__class__}".format(count)', NotImplementedError, "format"),
        ("async def f():\n    pass", SandboxError, "AsyncFunctionDef statements are not allowed"),
        ("g = (i for i in items)\nframe = g.gi_frame", SandboxError, '"gi_frame" is a restricted name'),
        ("subprocess.run(['ls'])", NameError, "subprocess"),
    ],
)
def test_escapes_are_refused_in_scripts(
    env: RestrictedEnvironment, source: str, error: type[Exception], message: str
) -> None:
    data = _data()
    with pytest.raises(error, match=message):
        env.execute(source, data)
    assert data == _data()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('__import__("os").system("true")', '"__import__" is an invalid variable name'),
        ('open("/etc/passwd").read()', r"open\(\) is not available"),
        ("().__class__.__bases__[0].__subclasses__()", '"__subclasses__" is an invalid attribute name'),
        ("getattr(items, '__class__')", r"getattr\(\) is not available"),
        ('eval("1")', "Eval calls are not allowed"),
        ("globals()", r"globals\(\) is not available"),
        ("type(items)", r"type\(\) is not available"),
        ("[c for c in ().__class__.__mro__]", '"__mro__" is an invalid attribute name'),
    ],
)
def test_escapes_are_refused_in_expressions(
    env: RestrictedEnvironment, expression: str, message: str
) -> None:
    with pytest.raises(SandboxError, match=message):
        env.evaluate(expression, {"items": []})


def test_compile_error_names_line_and_source(env: RestrictedEnvironment) -> None:
    script = "a = 1\nb = 2\nimport os\nc = 3"
    with pytest.raises(SandboxError) as info:
        env.execute(script, {})
    assert info.value.lineno == 3
    assert info.value.line == "import os"
    assert info.value.errors == ("Line 3: Import statements are not allowed.",)
    assert (
        str(info.value)
        == "Script rejected by sandbox: Line 3: Import statements are not allowed. -> `import os`"
    )


def test_syntax_errors_are_sandbox_errors(env: RestrictedEnvironment) -> None:
    with pytest.raises(SandboxError, match="SyntaxError"):
        env.execute("total = price *", {"price": 1})


# --------------------------------------------------------------------------------------------------
# SpiffWorkflow integration

_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="https://gridcase.example/test">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="Compute total">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="f_small">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute" />
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gw" />
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="mark_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        total &gt; 100 and len(tags) &gt;= 1
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="mark_small" />
    <bpmn:scriptTask id="mark_big">
      <bpmn:incoming>f_big</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>route = "big"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="mark_small">
      <bpmn:incoming>f_small</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>route = "small"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="mark_big" targetRef="end_big" />
    <bpmn:sequenceFlow id="f4" sourceRef="mark_small" targetRef="end_small" />
    <bpmn:endEvent id="end_big"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(data: dict[str, Any], script: str = "total = price * qty") -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_BPMN.format(script=script).encode("utf-8"), filename="order.bpmn")
    engine = PythonScriptEngine(environment=RestrictedEnvironment())
    workflow = BpmnWorkflow(parser.get_spec("order"), script_engine=engine)
    start = workflow.get_tasks(state=TaskState.READY)[0]
    start.data.update(data)
    return workflow


def _completed_ids(workflow: BpmnWorkflow) -> set[str]:
    return {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)}


@pytest.mark.parametrize(
    ("price", "qty", "tags", "route"),
    [(30, 4, ["urgent"], "big"), (30, 3, ["urgent"], "small"), (30, 4, [], "small")],
)
def test_spiff_workflow_runs_scripts_and_conditions_in_sandbox(
    price: int, qty: int, tags: list[str], route: str
) -> None:
    workflow = _workflow({"price": price, "qty": qty, "tags": tags})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.last_task is not None
    data = workflow.last_task.data
    assert data["total"] == price * qty
    assert data["route"] == route
    assert f"mark_{route}" in _completed_ids(workflow)
    assert f"end_{route}" in _completed_ids(workflow)
    assert "__builtins__" not in data and "now" not in data
    json.dumps(data)


def test_spiff_workflow_import_in_script_fails_the_step() -> None:
    workflow = _workflow({"price": 1, "qty": 1}, script="import os\ntotal = price * qty")
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert "Import statements are not allowed" in str(info.value)
    assert not workflow.is_completed()
    assert workflow.get_tasks(state=TaskState.ERROR)


def test_spiff_workflow_runtime_violation_reports_script_line() -> None:
    workflow = _workflow({"price": 1, "qty": 1}, script='total = price * qty\nsecret = open("/etc/passwd")')
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert "open() is not available" in str(info.value)
    assert info.value.line_number == 2
    assert info.value.error_line == 'secret = open("/etc/passwd")'
