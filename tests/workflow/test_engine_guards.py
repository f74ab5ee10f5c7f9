"""Engine guards without a database: the sandbox's time budget and operator bounds, what designer code may
raise, values that cannot be stored, the step bound of a run, and loops past SpiffWorkflow's depth limit
(app/workflow/guards.py, sandbox.py, engine.py, history.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from SpiffWorkflow.util.task import TaskState

from app.clock import FrozenClock
from app.workflow import engine as engine_module
from app.workflow import history
from app.workflow.engine import (
    EngineError,
    EngineInstance,
    LoadedSpec,
    SpecCache,
    ValidationRules,
    parse_documents,
)
from app.workflow.guards import MAX_LENGTH, GuardError, ScriptBudgetExceeded
from app.workflow.sandbox import SANDBOX_BUILTINS, RestrictedEnvironment, SandboxError, check_source
from tests.conftest import START
from tests.workflow import guard_diagrams as diagrams

BUDGET = 0.3
MARGIN = 1.5  # seconds on a loaded 2-CPU machine
# Durations here are this thread's CPU time, as the budget is: a machine busy with other work stretches the
# wall clock (a 0.3 s budget once took 2.8 s of it on a machine running three suites), not what a script uses.
cpu_seconds = time.thread_time


def _environment(**kwargs: Any) -> RestrictedEnvironment:
    return RestrictedEnvironment(budget=lambda: BUDGET, **kwargs)


# -- the time budget ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "while True:\n    pass",
        "n = 0\nwhile True:\n    n = n + 1",
        "try:\n    while True:\n        pass\nexcept Exception:\n    stopped = False",
        "def spin():\n    while True:\n        pass\nspin()",
        "total = sum(x for x in range(10**6) for y in range(10**6))",
        "while True:\n    try:\n        pass\n    except Exception:\n        pass",
    ],
)
def test_a_script_that_never_ends_stops_at_its_budget(script):
    context: dict[str, Any] = {"kept": 1}
    started = cpu_seconds()
    with pytest.raises(ScriptBudgetExceeded, match=r"time budget of 0\.3 s"):
        _environment().execute(script, context)
    elapsed = cpu_seconds() - started
    print(f"stopped after {elapsed:.3f} s (budget {BUDGET} s)")
    assert BUDGET <= elapsed < BUDGET + MARGIN
    assert context == {"kept": 1}  # nothing written back


def test_the_collectors_pauses_are_not_the_scripts_time():
    """A full garbage collection of a large heap runs in whatever code allocates when it is due; late in a
    long-lived worker it took a one-line script (``n = n + 1``) past its budget. Five real collections of a
    2-million-object heap (about 0.7 s of CPU) inside a script with a 0.3 s budget: the script completes."""
    import gc

    heap = [[] for _ in range(2_000_000)]
    context: dict[str, Any] = {"collect": gc.collect}
    started = time.thread_time()
    _environment().execute("for round in range(5):\n    collect()\ndone = True", context)
    assert time.thread_time() - started > BUDGET  # the collections did take longer than the budget
    assert context["done"] is True
    assert len(heap) == 2_000_000


def test_a_condition_that_never_ends_stops_at_its_budget():
    started = cpu_seconds()
    with pytest.raises(ScriptBudgetExceeded):
        _environment().evaluate("any(x < 0 for x in range(10**6) for y in range(10**6))", {})
    assert cpu_seconds() - started < BUDGET + MARGIN


def test_the_budget_stop_cannot_be_caught_or_outlived():
    with pytest.raises(SandboxError, match="bare `except:`"):
        check_source("try:\n    x = 1\nexcept:\n    x = 2")
    with pytest.raises(SandboxError, match="finally"):
        check_source("try:\n    x = 1\nfinally:\n    x = 2")
    assert "BaseException" not in SANDBOX_BUILTINS
    with pytest.raises(NameError, match="BaseException"):
        _environment().execute("try:\n    x = 1 / 0\nexcept BaseException:\n    x = 2", {})


def test_the_trace_is_gone_after_the_script():
    import sys

    before = sys.gettrace()
    _environment().execute("x = 1", {})
    with pytest.raises(ScriptBudgetExceeded):
        _environment().execute("while True:\n    pass", {})
    assert sys.gettrace() is before


# -- what designer code may raise ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "script, name",
    [
        ("raise SystemExit", "SystemExit"),
        ("raise SystemExit('bye')", "SystemExit: bye"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        ("raise GeneratorExit", "GeneratorExit"),
    ],
)
def test_base_exceptions_leave_the_sandbox_as_errors(script, name):
    with pytest.raises(SandboxError, match=f"script raised {name}"):
        _environment().execute(script, {})


def test_a_base_exception_from_a_function_in_a_condition_is_an_error_too():
    def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(SandboxError, match="script raised SystemExit: 3"):
        _environment(environment_globals={"leave": leave}).evaluate("leave()", {})


# -- operators that would freeze the process or fill its memory ---------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "2 ** 10 ** 9",
        "10 ** 10 ** 9",
        "pow(2, 10 ** 9)",
        "'x' * 10 ** 10",
        "10 ** 10 * 'x'",
        "[0] * 10 ** 10",
        "1 << 10 ** 10",
        "sum(range(10 ** 12))",
        "len(range(10 ** 7))",
        "'x'.ljust(10 ** 10)",
        "'ab'.center(10 ** 9)",
        "'1'.zfill(10 ** 9)",
        "('x' * 1000).replace('x', 'y' * 10 ** 5)",
        "'-'.join(['ab'] * 600000)",
        "('\\t' * 1000).expandtabs(10 ** 6)",
        "'x' * 600000 + 'y' * 600000",
        "(2 ** 60000) * (2 ** 60000)",
        "'%0999999999d' % 1",
        "'%.2000000f' % 1.5",
        "'%*d' % (10 ** 9, 1)",
        "'%(a)1000000000s' % {'a': 1}",
        "f'{1:>1000000000}'",
        "f'{1:>{10 ** 9}}'",
        "f'{1.5:.{10 ** 7}f}'",
        "f'{\"x\"!r:>99999999999}'",
    ],
)
def test_huge_values_are_refused_before_they_are_computed(expression):
    started = cpu_seconds()
    with pytest.raises(GuardError, match="too large"):
        _environment().evaluate(expression, {})
    assert cpu_seconds() - started < 0.5


def test_augmented_assignment_is_bounded_too():
    with pytest.raises(GuardError, match="too large"):
        _environment().execute("s = 'x' * 1000\nwhile True:\n    s += s", {})


@pytest.mark.parametrize(
    "expression, value",
    [
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("(-1) ** 10 ** 9", 1),
        ("pow(2, 10 ** 9, 7)", pow(2, 10**9, 7)),
        ("'ab' * 3", "ababab"),
        ("[1] * 3 + [2]", [1, 1, 1, 2]),
        ("1 << 4", 16),
        ("'a' + 'b'", "ab"),
        ("1.5 + 2", 3.5),
        ("list(range(3))", [0, 1, 2]),
        ("'7'.zfill(3)", "007"),
        ("'a-b'.replace('-', '--')", "a--b"),
        ("', '.join(['a', 'b'])", "a, b"),
        ("len('x' * MAX)", MAX_LENGTH),
        ("10 % 3", 1),
        ("-7 % 3", 2),
        ("'%05.1f' % 3.14159", "003.1"),
        ("'%s-%s' % ('a', 'b')", "a-b"),
        ("'%*d' % (4, 7)", "   7"),
        ("f'{7:03d}'", "007"),
        ("f'{\"x\"!r:>5}'", "  'x'"),
        ("f'{2.5:.{2}f} {1}'", "2.50 1"),
        ("f'{[1]}'", "[1]"),
    ],
)
def test_ordinary_operations_still_work(expression, value):
    assert _environment().evaluate(expression, {"MAX": MAX_LENGTH}) == value


# -- values that cannot be stored ---------------------------------------------------------------------


def _refuse_non_json(name: str, value: Any) -> None:
    json.dumps(value)


@pytest.mark.parametrize(
    "script, kind",
    [
        ("leftover = range(3)", "range"),
        ("leftover = {1, 2}", "set"),
        ("leftover = (x for x in [1])", "generator"),
        ("leftover = [1, map(abs, [1])]", "list"),
        ("leftover = {'a': {'b': range(2)}}", "dict"),
    ],
)
def test_a_value_that_cannot_be_stored_fails_the_script_and_writes_nothing(script, kind):
    context: dict[str, Any] = {"kept": [1]}
    with pytest.raises(SandboxError, match=f"variable 'leftover' cannot be stored \\({kind}"):
        _environment(check_value=_refuse_non_json).execute(f"kept = [2]\n{script}", context)
    assert context == {"kept": [1]}


# -- through the engine -------------------------------------------------------------------------------


@pytest.fixture
def engine_app() -> Iterator[FrozenClock]:
    """A bare app holding only a frozen clock: the engine's timers and scripts ask the current app's clock,
    and the guards' settings fall back to their defaults."""
    clock = FrozenClock(START)
    app = Flask("guards")
    app.extensions["gridcase.clock"] = clock
    with app.app_context():
        yield clock


def _load(file_name: str, content: bytes) -> LoadedSpec:
    rules = ValidationRules(operator_names=set(), form_exists=lambda _: True, known_roles={"supervisor"})
    [parsed] = parse_documents(file_name, {file_name: content}, rules)
    return SpecCache().load(file_name, parsed.spec_document)


def _error_tasks(engine: EngineInstance) -> list[str]:
    workflow = engine._workflow
    return [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.ERROR)]


@pytest.mark.parametrize("kind", diagrams.BAD_KINDS)
def test_each_misbehaving_script_is_an_engine_error_at_its_element(engine_app, kind):
    loaded = _load("guarded_task.bpmn", diagrams.risky_after_task_bpmn())
    engine = EngineInstance.start(loaded, {"kind": kind})
    engine.run()
    [go] = engine.ready_user_tasks()
    started = cpu_seconds()
    with pytest.raises(EngineError) as failure:
        engine.complete_user_task(go.task_id, {})
    elapsed = cpu_seconds() - started
    print(f"{kind}: {failure.value} ({elapsed:.3f} s)")
    assert failure.value.element_id == "risky"
    assert elapsed < 1.0 + MARGIN  # the default budget is 1 s
    # The state contract: the work before is kept, the failing task is in ERROR, and that state can be stored.
    assert _error_tasks(engine) == ["risky"]
    assert engine.has_completed("go")
    state = failure.value.failure_state()
    assert state is not None
    restored = EngineInstance.restore(loaded, state)
    assert _error_tasks(restored) == ["risky"]
    assert "leftover" not in json.dumps(json.loads(state))


def test_the_canary_passes_the_same_script(engine_app):
    loaded = _load("guarded_task.bpmn", diagrams.risky_after_task_bpmn())
    engine = EngineInstance.start(loaded, {"kind": "ok"})
    engine.run()
    [go] = engine.ready_user_tasks()
    engine.complete_user_task(go.task_id, {})
    assert [t.element_id for t in engine.ready_user_tasks()] == ["after"]
    engine.dump()


def test_the_step_bound_ends_a_run_and_a_retry_continues(engine_app, monkeypatch):
    monkeypatch.setattr(engine_module, "DEFAULT_MAX_STEPS_PER_RUN", 50)
    loaded = _load("script_loop.bpmn", diagrams.script_loop_bpmn())
    engine = EngineInstance.start(loaded, {"rounds": 40})
    with pytest.raises(EngineError, match="stopped after 50 engine steps") as failure:
        engine.run()
    assert failure.value.element_id in ("step", "more")
    [stopped] = engine._workflow.get_tasks(state=TaskState.ERROR)
    assert stopped.task_spec.bpmn_id == failure.value.element_id
    state = engine.failure_state()
    assert state is not None
    # Retry (what the operations page does): the task in ERROR back to READY, and the engine runs again.
    retried = EngineInstance.restore(loaded, state)
    [task] = retried._workflow.get_tasks(state=TaskState.ERROR)
    task._set_state(TaskState.READY)
    retried.run()
    assert [t.element_id for t in retried.ready_user_tasks()] == ["look"]
    [look] = retried.ready_user_tasks()
    assert retried.task_data(look.task_id)["n"] == 40


def test_a_loop_of_thousands_of_script_rounds_reaches_its_next_task(engine_app):
    """10,000 rounds through the services: test_guard_incidents.py."""
    loaded = _load("script_loop.bpmn", diagrams.script_loop_bpmn())
    engine = EngineInstance.start(loaded, {"rounds": 3_000})
    started = cpu_seconds()
    engine.run()
    elapsed = cpu_seconds() - started
    [look] = engine.ready_user_tasks()
    assert look.element_id == "look"
    assert engine.task_data(look.task_id)["n"] == 3_000
    state = engine.dump()
    tasks = len(engine._workflow.tasks)
    print(f"3,000 rounds in {elapsed:.1f} s; stored state {len(state)} bytes, {tasks} tasks")
    assert len(state) < 40_000  # a few rounds' worth, not 3,000 rounds' (some 400 bytes a task)
    assert engine.reusable
    # What the diagram highlights: the pruned rounds count as completed.
    active, done = engine.element_ids()
    assert active == ["look"]
    assert {"start", "init", "step", "more"} <= set(done)
    assert engine.has_completed("init")
    # A restore of the pruned state carries on like the live object.
    restored = EngineInstance.restore(loaded, state)
    restored.complete_user_task(look.task_id, {})
    assert restored.completed


def test_the_stored_state_stays_small_however_many_rounds(engine_app):
    loaded = _load("script_loop.bpmn", diagrams.script_loop_bpmn())
    sizes = []
    for rounds in (200, 2_000):
        engine = EngineInstance.start(loaded, {"rounds": rounds})
        engine.run()
        sizes.append(len(engine.dump()))
    print(f"state after 200 rounds: {sizes[0]} bytes; after 2,000: {sizes[1]} bytes")
    assert abs(sizes[1] - sizes[0]) < 5_000


def test_a_polling_timer_loop_keeps_firing_past_the_depth_limit(engine_app):
    clock = engine_app
    loaded = _load("polling_loop.bpmn", diagrams.polling_loop_bpmn())
    engine = EngineInstance.start(loaded, {"rounds": 1_200})
    engine.run()
    for _ in range(1_200):
        due = engine.next_timer_at()
        assert due is not None
        clock.set(due)
        engine.run()
    [look] = engine.ready_user_tasks()
    assert engine.task_data(look.task_id)["n"] == 1_200
    assert len(engine.dump()) < 40_000


def _parallel_loop_data(loaded: LoadedSpec, rounds: int) -> tuple[dict[str, Any], int]:
    engine = EngineInstance.start(loaded, {"rounds": rounds})
    engine.run()
    [look] = engine.ready_user_tasks()
    return engine.task_data(look.task_id), len(engine._workflow.tasks)


def test_a_loop_through_a_parallel_fork_and_join_ends_as_without_pruning(engine_app, monkeypatch):
    loaded = _load("parallel_loop.bpmn", diagrams.parallel_loop_bpmn())
    pruned, pruned_tasks = _parallel_loop_data(loaded, 40)
    monkeypatch.setattr(history, "PRUNE_DEPTH", 10**9)
    whole, whole_tasks = _parallel_loop_data(loaded, 40)  # some 240 deep: below SpiffWorkflow's limit
    assert pruned == whole
    assert pruned["n"] == 40
    assert pruned_tasks < 100 < whole_tasks
    monkeypatch.undo()
    # Unpruned, this loop stalled after about 165 rounds (some 6 tasks deeper each round).
    past_the_limit, _ = _parallel_loop_data(loaded, 300)
    assert past_the_limit["n"] == 300


def test_pruning_leaves_a_shallow_process_alone(engine_app):
    loaded = _load("script_loop.bpmn", diagrams.script_loop_bpmn())
    # A few rounds: less deep than history.PRUNE_DEPTH (12 ancestors)
    engine = EngineInstance.start(loaded, {"rounds": 3})
    engine.run()
    assert history.completed_history(engine._workflow) == []
    assert history.prune(engine._workflow) == 0


def test_a_rework_loop_with_a_reminder_timer_keeps_working_past_the_depth_limit(engine_app):
    """A person's task with a non-interrupting boundary timer, done 700 times (some 6 tasks deeper each
    round: unpruned it stalled after about 165); the reminder still fires in a late round."""
    clock = engine_app
    loaded = _load("rework_loop.bpmn", diagrams.rework_loop_bpmn())
    engine = EngineInstance.start(loaded, {"rounds": 700})
    engine.run()
    for number in range(700):
        [review] = engine.ready_user_tasks()
        assert review.element_id == "review"
        if number in (3, 650):  # let the reminder fire before the review is done
            due = engine.next_timer_at()
            assert due is not None
            clock.set(due)
            engine.run()
            reminded = engine._workflow.get_tasks(spec_name="remind", state=TaskState.COMPLETED)
            assert len(reminded) == (1 if number == 3 else 2)
        state = engine.dump()
        if number % 100 == 99:  # now and then through a restore, as another process would
            engine = EngineInstance.restore(loaded, state)
        engine.complete_user_task(review.task_id, {"review_decision": "approve"})
    [look] = engine.ready_user_tasks()
    assert look.element_id == "look"
    assert engine.task_data(look.task_id)["n"] == 700
    state = engine.dump()
    print(f"700 rework rounds: stored state {len(state)} bytes")
    assert len(state) < 40_000
    _, done = engine.element_ids()
    assert {"init", "review", "count", "more", "remind", "reminder"} <= set(done)
    engine.complete_user_task(look.task_id, {"review_decision": "approve"})
    assert engine.completed  # the end join kept from round 3 did not hold the process


def test_the_guards_settings_come_from_the_environment(monkeypatch):
    from app.config import ConfigError, Settings

    defaults = Settings.from_env(database_url="sqlite://")
    assert (defaults.engine_script_budget_seconds, defaults.engine_max_steps_per_run) == (1.0, 100_000)
    monkeypatch.setenv("ENGINE_SCRIPT_BUDGET_SECONDS", "2.5")
    monkeypatch.setenv("ENGINE_MAX_STEPS_PER_RUN", "5000")
    settings = Settings.from_env(database_url="sqlite://")
    assert (settings.engine_script_budget_seconds, settings.engine_max_steps_per_run) == (2.5, 5000)
    monkeypatch.setenv("ENGINE_SCRIPT_BUDGET_SECONDS", "0")
    with pytest.raises(ConfigError, match="ENGINE_SCRIPT_BUDGET_SECONDS must be between"):
        Settings.from_env(database_url="sqlite://")
    monkeypatch.setenv("ENGINE_SCRIPT_BUDGET_SECONDS", "1")
    monkeypatch.setenv("ENGINE_MAX_STEPS_PER_RUN", "3")
    with pytest.raises(ConfigError, match="ENGINE_MAX_STEPS_PER_RUN must be >= 10"):
        Settings.from_env(database_url="sqlite://")


def test_the_apps_budget_is_what_scripts_get(make_app):
    app = make_app("sqlite", engine_script_budget_seconds=0.2)
    with app.app_context():
        loaded = _load("guarded_task.bpmn", diagrams.risky_after_task_bpmn())
        engine = EngineInstance.start(loaded, {"kind": "spin"})
        engine.run()
        [go] = engine.ready_user_tasks()
        started = cpu_seconds()
        with pytest.raises(EngineError, match=r"time budget of 0\.2 s"):
            engine.complete_user_task(go.task_id, {})
        assert cpu_seconds() - started < 0.2 + MARGIN
