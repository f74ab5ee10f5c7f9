"""The live-workflow cache (app/workflow/live.py, reuse.py): a step may reuse the object that wrote the state
it finds, and must then behave exactly as if it had restored that state.

The probe process below is built to catch the differences a reused object could have: nested data changed
in place by scripts (shared differently in memory than after a restore), a parallel join merging data, two
timers due at the same moment, a message, and expressions evaluated after the state was dumped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.clock import FrozenClock
from app.extensions import db
from app.tasks import services as tasks
from app.workflow import deploy, instances, scheduler
from app.workflow.engine import EngineInstance, LoadedSpec, SpecCache, ValidationRules, parse_documents
from app.workflow.forms import FormRegistry
from app.workflow.live import LiveWorkflows, live_workflows
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.conftest import PASSWORD, START, AppFactory
from tests.probes import definitions, user_task

PROBE = """  <bpmn:message id="msg_probe_go" name="probe_go" />
  <bpmn:process id="live_probe" name="live probe" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare" />
    <bpmn:scriptTask id="prepare">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>info = {"tags": ["a"], "count": 0}
grid = [[1, 2], [3]]
due = add_hours(now(), 1)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="mark" />
    <bpmn:scriptTask id="mark">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>info["marked"] = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="mark" targetRef="first" />
{first}
    <bpmn:sequenceFlow id="f4" sourceRef="first" targetRef="after_first" />
    <bpmn:scriptTask id="after_first">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:script>info["tags"].append("first")
grid[1].append(0)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f5" sourceRef="after_first" targetRef="fork" />
    <bpmn:parallelGateway id="fork">
      <bpmn:incoming>f5</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing><bpmn:outgoing>f7</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f6" sourceRef="fork" targetRef="left" />
    <bpmn:sequenceFlow id="f7" sourceRef="fork" targetRef="right" />
{left}
{right}
    <bpmn:sequenceFlow id="f8" sourceRef="left" targetRef="join" />
    <bpmn:sequenceFlow id="f9" sourceRef="right" targetRef="join" />
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>f8</bpmn:incoming><bpmn:incoming>f9</bpmn:incoming><bpmn:outgoing>f10</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f10" sourceRef="join" targetRef="after_join" />
    <bpmn:scriptTask id="after_join">
      <bpmn:incoming>f10</bpmn:incoming><bpmn:outgoing>f11</bpmn:outgoing>
      <bpmn:script>summary = sorted(info["tags"])
grid[1].append(len(summary))</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f11" sourceRef="after_join" targetRef="wait_go" />
    <bpmn:intermediateCatchEvent id="wait_go">
      <bpmn:incoming>f11</bpmn:incoming><bpmn:outgoing>f12</bpmn:outgoing>
      <bpmn:messageEventDefinition id="wait_go_message" messageRef="msg_probe_go">
        <bpmn:extensionElements>
          <spiffworkflow:messageVariable>go</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f12" sourceRef="wait_go" targetRef="final" />
{final}
    <bpmn:sequenceFlow id="f13" sourceRef="final" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f13</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>"""


def _task(task_id: str, incoming: str, outgoing: str, **extra: str) -> str:
    """A probe user task: the probe form, offered to supervisors, due at ``due``."""
    properties = {
        "formJsonSchemaFilename": "probe.schema.json",
        "candidateRoles": "supervisor",
        "dueAt": "due",
        **extra,
    }
    return user_task(task_id, incoming, outgoing, properties)


# A sub-process whose script changes nested data in place, with a non-interrupting timer due at ``due``
# (both sides' timers are due at the same moment).
SIDE = """    <bpmn:subProcess id="{side}">
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
      <bpmn:startEvent id="{side}_start"><bpmn:outgoing>{side}_f1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:sequenceFlow id="{side}_f1" sourceRef="{side}_start" targetRef="{side}_task" />
{task}
      <bpmn:sequenceFlow id="{side}_f2" sourceRef="{side}_task" targetRef="{side}_script" />
      <bpmn:scriptTask id="{side}_script">
        <bpmn:incoming>{side}_f2</bpmn:incoming><bpmn:outgoing>{side}_f3</bpmn:outgoing>
        <bpmn:script>info["tags"].append("{side}")
grid[0].append(len(items))
check = 1 / (0 if note == "boom" else 1)
{side}_seen = len(info["tags"])</bpmn:script>
      </bpmn:scriptTask>
      <bpmn:sequenceFlow id="{side}_f3" sourceRef="{side}_script" targetRef="{side}_end" />
      <bpmn:endEvent id="{side}_end"><bpmn:incoming>{side}_f3</bpmn:incoming></bpmn:endEvent>
    </bpmn:subProcess>
    <bpmn:boundaryEvent id="{side}_timer" cancelActivity="false" attachedToRef="{side}">
      <bpmn:outgoing>{side}_ft1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="{side}_timer_definition">
        <bpmn:timeDate>due</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="{side}_ft1" sourceRef="{side}_timer" targetRef="{side}_late" />
    <bpmn:scriptTask id="{side}_late">
      <bpmn:incoming>{side}_ft1</bpmn:incoming><bpmn:outgoing>{side}_ft2</bpmn:outgoing>
      <bpmn:script>info["count"] = info["count"] * 10 + {weight}
late_{side} = info["count"]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="{side}_ft2" sourceRef="{side}_late" targetRef="{side}_late_end" />
    <bpmn:endEvent id="{side}_late_end"><bpmn:incoming>{side}_ft2</bpmn:incoming></bpmn:endEvent>"""

BOSS = "&quot;boss&quot; if info[&quot;count&quot;] else None"  # candidateUser: the boss once counted


def probe_bpmn() -> bytes:
    """prepare → mark → first → after_first → (left ‖ right, each with a timer) → after_join → message
    probe_go → final."""
    parts = {
        "first": _task("first", "f3", "f4"),
        "final": _task("final", "f12", "f13"),
        "left": SIDE.format(
            side="left",
            incoming="f6",
            outgoing="f8",
            weight=1,
            task=_task("left_task", "left_f1", "left_f2"),
        ),
        "right": SIDE.format(
            side="right",
            incoming="f7",
            outgoing="f9",
            weight=2,
            task=_task("right_task", "right_f1", "right_f2", candidateUser=BOSS),
        ),
    }
    text = PROBE
    for name, part in parts.items():
        text = text.replace("{" + name + "}", part)
    return definitions("probe_definitions", text).encode()


PROBE_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {"note": {"type": "string"}, "items": {"type": "array", "items": {"type": "integer"}}},
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical(state: str) -> tuple[str, dict[str, str]]:
    """``state`` with task ids named by their place in the task tree (new tasks get random ids) and without
    the wall-clock ``last_state_change``; and the names given to the ids."""
    document = json.loads(state)
    names: dict[str, str] = {}
    seen: dict[tuple[str, str], int] = {}

    def name_tasks(tasks: dict[str, Any], root: str, prefix: str) -> None:
        queue = [root]
        while queue:
            task = tasks[queue.pop(0)]
            key = (prefix, task["task_spec"])
            seen[key] = seen.get(key, 0) + 1
            names[task["id"]] = f"{prefix}{task['task_spec']}#{seen[key]}"
            queue.extend(task["children"])

    name_tasks(document["tasks"], document["root"], "")
    pending = dict(document["subprocesses"])
    while pending:
        for owner in [owner for owner in pending if owner in names]:
            sub = pending.pop(owner)
            name_tasks(sub["tasks"], sub["root"], names[owner] + "/")

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "last_state_change"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    text = json.dumps(strip(document), ensure_ascii=False)
    return UUID.sub(lambda match: names.get(match.group(0), "?"), text), names


# -- the engine alone -----------------------------------------------------------------------------------


@pytest.fixture
def probe() -> Iterator[tuple[LoadedSpec, FrozenClock]]:
    """The probe process, parsed, with the engine's clocks on a frozen clock: timers and scripts' ``now()``
    ask the current app's clock, so a bare app holding only the clock is enough."""
    clock = FrozenClock(START)
    app = Flask("probe")
    app.extensions["gridcase.clock"] = clock
    rules = ValidationRules(operator_names=set(), form_exists=lambda _: True, known_roles={"supervisor"})
    [parsed] = parse_documents("live_probe.bpmn", {"live_probe.bpmn": probe_bpmn()}, rules)
    with app.app_context():
        yield SpecCache().load("probe", parsed.spec_document), clock


def _ready(engine: EngineInstance, element_id: str) -> str:
    return next(t.task_id for t in engine.ready_user_tasks() if t.element_id == element_id)


def _complete(element_id: str, data: dict[str, Any]) -> Any:
    return lambda engine: engine.complete_user_task(_ready(engine, element_id), data)


ENGINE_STEPS: list[tuple[str, Any]] = [
    ("first", _complete("first", {"note": "1", "items": []})),
    ("left_task", _complete("left_task", {"note": "l", "items": [1, 2]})),
    ("timers", lambda engine: engine.run()),  # with the clock one hour on: both timers are due
    ("right_task", _complete("right_task", {"note": "r", "items": [3]})),
    ("go", lambda engine: engine.receive_message("probe_go", {"items": [4, [5]]})),
    ("final", _complete("final", {"note": "f", "items": []})),
]


def _step_both(loaded: LoadedSpec, clock: FrozenClock) -> Iterator[tuple[str, str, str]]:
    """Walk the probe with one reused object; before each step restore a twin from the dumped state and
    give it the same step. Yields (step, reused object's state, twin's state), both canonical."""
    engine = EngineInstance.start(loaded, {"who": "probe"})
    engine.run()
    for name, step in ENGINE_STEPS:
        state = engine.dump()
        assert engine.reusable, name
        twin = EngineInstance.restore(loaded, state)
        if name == "timers":
            clock.advance(hours=1)
        step(engine)
        step(twin)
        yield name, canonical(engine.dump())[0], canonical(twin.dump())[0]
    assert engine.completed


def test_a_reused_workflow_steps_exactly_like_a_restored_one(probe):
    for name, reused, restored in _step_both(*probe):
        assert reused == restored, name


def test_without_the_rebuild_from_its_state_a_live_workflow_would_differ(probe, monkeypatch):
    """Why ``reuse`` rebuilds the data: a script changing a list in place reaches, in memory, tasks that a
    restore has given a list of their own (the probe's after_first step)."""
    from app.workflow import reuse

    monkeypatch.setattr(reuse, "_adopt_data", lambda *_: None)
    assert any(reused != restored for _, reused, restored in _step_both(*probe))


@pytest.mark.parametrize("value", [(1, 2), {1, 2}, {1: "a"}, datetime(2026, 1, 1, tzinfo=UTC)])
def test_data_json_does_not_keep_is_never_reused(probe, value):
    loaded, _ = probe
    engine = EngineInstance.start(loaded, {"who": "probe"})
    engine.run()
    engine.dump()
    assert engine.reusable
    engine.complete_user_task(_ready(engine, "first"), {"note": "1", "items": [], "odd": value})
    engine.dump()
    assert not engine.reusable


def test_an_expression_cannot_change_a_workflow_that_will_be_reused(probe):
    loaded, _ = probe
    engine = EngineInstance.start(loaded, {"who": "probe"})
    engine.run()
    state = engine.dump()
    assert (
        engine.evaluate(_ready(engine, "first"), 'grid[0].append(7) or info["tags"].append(8) or "x"') == "x"
    )
    assert engine.dump() == state
    assert engine.reusable


def test_the_cache_is_bounded_and_drops_what_does_not_match(probe):
    loaded, _ = probe

    class Session:  # what LiveWorkflows uses of a session
        def __init__(self) -> None:
            self.info: dict[str, Any] = {}

        def in_nested_transaction(self) -> bool:
            return False

    from app.workflow.live import _after_commit

    cache, session = LiveWorkflows(capacity=2), Session()
    engines = {}
    for instance_id in (1, 2, 3):
        engine = EngineInstance.start(loaded, {"who": instance_id})
        engine.run()
        engines[instance_id] = (engine.dump(), engine)
        cache.stage(session, instance_id, 7, *engines[instance_id])  # type: ignore[arg-type]
        assert len(cache) == 0  # staged only: nothing before the commit
    _after_commit(session)  # type: ignore[arg-type]
    assert len(cache) == 2  # the least recently put went
    assert cache.take(session, 1, 7, engines[1][0]) is None  # type: ignore[arg-type]
    assert cache.take(session, 2, 7, engines[3][0]) is None  # type: ignore[arg-type]  # another state: dropped
    assert cache.take(session, 2, 7, engines[2][0]) is None  # type: ignore[arg-type]
    assert cache.take(session, 3, 8, engines[3][0]) is None  # type: ignore[arg-type]  # another definition
    assert len(cache) == 0


# -- through the services, on SQLite and PostgreSQL ----------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _open_probe_app(factory: AppFactory, backend: str, forms: Path, capacity: int | None = None) -> Flask:
    """An app with the probe deployed (forms from ``forms``) and its two users; ``capacity`` 0: no cache."""
    app = factory(backend)
    with app.app_context():
        _use_probe(app, forms, capacity)
        rules = deploy.default_rules(app.extensions["gridcase.forms"].exists, {"supervisor"})
        deploy.deploy_file("live_probe.bpmn", probe_bpmn(), rules)
        create_user("supervisor", PASSWORD, "supervisor")
        create_user("boss", PASSWORD, "supervisor")
        db.session.commit()
    return app


def _use_probe(app: Flask, forms: Path, capacity: int | None) -> None:
    app.extensions["gridcase.forms"] = FormRegistry(forms)
    if capacity is not None:
        app.extensions["gridcase.live_workflows"] = LiveWorkflows(capacity)


@pytest.fixture
def probe_forms(tmp_path: Path) -> Path:
    folder = tmp_path / "probe-forms"
    folder.mkdir()
    (folder / "probe.schema.json").write_text(json.dumps(PROBE_FORM))
    return folder


def _supervisor() -> Any:
    from app.auth.models import User

    return db.session.execute(select(User).where(User.username == "supervisor")).scalar_one()


def _instance_id() -> int:
    return db.session.execute(select(ProcessInstance.id)).scalar_one()


def _complete_task(element_id: str, data: dict[str, Any], commit: bool = True) -> instances.StepOutcome:
    """What the API does for POST /tasks/<id>/complete: one service call, then commit."""
    task_id = db.session.execute(
        select(HumanTask.id).where(HumanTask.element_id == element_id, HumanTask.status.in_(TaskStatus.OPEN))
    ).scalar_one()
    outcome = tasks.complete(_supervisor(), task_id, data)
    if commit:
        db.session.commit()
    return outcome


def _start() -> None:
    instances.start_instance(
        "live_probe", business_key="probe-1", variables={"who": "probe"}, actor=_supervisor()
    )
    db.session.commit()


def _walk(app: Flask, start_at: int = 0, with_failures: bool = False) -> None:
    """The probe through the services, from step ``start_at``: tasks, two timers at once, a message."""
    clock: FrozenClock = app.extensions["gridcase.clock"]
    steps: list[Any] = [
        _start,
        lambda: _complete_task("first", {"note": "1", "items": []}),
        lambda: _complete_task("left_task", {"note": "l", "items": [1, 2]}),
        lambda: (clock.advance(hours=1), scheduler.tick()),
        lambda: _complete_task("right_task", {"note": "r", "items": [3]}),
        lambda: (
            instances.correlate_message("probe_go", {"items": [4, [5]]}, instance_id=_instance_id()),
            db.session.commit(),
        ),
        lambda: _complete_task("final", {"note": "f", "items": []}),
    ]
    for number, step in enumerate(steps[start_at:], start=start_at):
        if with_failures and number == 2:
            # The left script divides by zero: the step parks the instance with an incident, and its
            # transaction is rolled back here (a commit that failed): the cache must not keep any of it.
            failed = _complete_task("left_task", {"note": "boom", "items": [9]}, commit=False)
            assert failed.incident is not None
            db.session.rollback()
            _complete_task("right_task", {"note": "r", "items": [9]}, commit=False)
            db.session.rollback()  # a step that succeeded, then rolled back
        step()


def _snapshot() -> dict[str, Any]:
    """What the probe leaves in the database, with task ids named by their place in the task tree."""
    db.session.expire_all()
    instance = db.session.execute(select(ProcessInstance)).scalar_one()
    state, names = canonical(instance.state)
    tasks_rows = db.session.execute(select(HumanTask).order_by(HumanTask.id)).scalars()
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.instance_id.is_not(None)).order_by(AuditEvent.id)
    ).scalars()
    # Ids are left out: on PostgreSQL a rolled-back insert still uses up its id.
    columns = [c.key for c in HumanTask.__table__.columns if c.key not in ("id", "spiff_task_id")]
    tasks_rows = list(tasks_rows)
    task_names = {str(t.id): names[t.spiff_task_id] for t in tasks_rows}
    return {
        "instance": (
            instance.status,
            state,
            instance.next_timer_at,
            instance.updated_at,
            instance.completed_at,
        ),
        "tasks": [(names[t.spiff_task_id], *(getattr(t, c) for c in columns)) for t in tasks_rows],
        "audit": [
            (
                e.action,
                e.entity_type,
                task_names[e.entity_id] if e.entity_type == "human_task" else e.entity_id,
                e.actor_label,
                e.before,
                e.after,
                e.data,
                e.occurred_at,
            )
            for e in events
        ],
    }


def test_results_are_the_same_with_and_without_the_cache(make_app, backend, probe_forms, tmp_path, request):
    snapshots = {}
    for label, capacity, failures in [
        ("cache", None, False),
        ("no cache", 0, False),
        ("failures", None, True),
    ]:
        folder = tmp_path / label.replace(" ", "-")
        folder.mkdir()
        app = _open_probe_app(AppFactory(folder, request), backend, probe_forms, capacity)
        with app.app_context():
            _walk(app, with_failures=failures)
            snapshots[label] = _snapshot()
            assert snapshots[label]["instance"][0] == "completed"
            db.session.remove()
            db.engine.dispose()
    assert snapshots["cache"] == snapshots["no cache"]
    assert snapshots["failures"] == snapshots["no cache"]


@pytest.fixture
def probe_app(make_app, backend, probe_forms) -> Iterator[Flask]:
    app = _open_probe_app(make_app, backend, probe_forms)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The states restored from (a step that reuses an object restores nothing)."""
    restored: list[str] = []
    original = EngineInstance.restore.__func__  # type: ignore[attr-defined]

    def restore(cls: Any, loaded: LoadedSpec, state: str) -> EngineInstance:
        restored.append(state)
        return original(cls, loaded, state)  # type: ignore[no-any-return]

    monkeypatch.setattr(EngineInstance, "restore", classmethod(restore))
    return restored


def test_each_step_reuses_what_the_last_one_committed(probe_app, restores):
    _walk(probe_app)
    assert restores == []
    assert len(live_workflows()) == 0  # a finished instance is not kept


def test_a_rolled_back_step_leaves_nothing_behind(probe_app, restores):
    _start()
    _complete_task("first", {"note": "1", "items": []}, commit=False)
    db.session.rollback()
    assert len(live_workflows()) == 0  # taken by the step, and the step did not commit
    _complete_task("first", {"note": "1", "items": []})
    assert len(restores) == 1  # from the committed state
    assert len(live_workflows()) == 1
    _walk(probe_app, start_at=2)
    assert len(restores) == 1


def test_two_steps_in_one_transaction_share_the_object(probe_app, restores):
    _start()
    _complete_task("first", {"note": "1", "items": []}, commit=False)
    _complete_task("left_task", {"note": "l", "items": [1, 2]}, commit=False)
    assert restores == []  # the second step took what the first staged
    assert len(live_workflows()) == 0  # nothing is kept before the commit
    db.session.commit()
    assert len(live_workflows()) == 1


def test_a_savepoint_released_is_not_a_commit(probe_app, restores):
    _start()
    savepoint = db.session.begin_nested()
    _complete_task("first", {"note": "1", "items": []}, commit=False)
    savepoint.commit()
    assert len(live_workflows()) == 0  # the outer transaction may still roll back
    db.session.rollback()
    assert len(live_workflows()) == 0
    _complete_task("first", {"note": "1", "items": []})
    assert len(restores) == 1  # the object the start left was taken by the rolled-back step


def test_a_step_written_elsewhere_makes_the_kept_object_miss(probe_app, probe_forms, restores):
    """Another process (here: another app on the same database) completes a task: this process's kept
    object is one state behind, so the next step here must restore, and must not lose that completion."""
    from app import create_app

    _start()
    _complete_task("first", {"note": "1", "items": []})
    assert len(live_workflows()) == 1
    other = create_app(
        probe_app.extensions["gridcase.settings"], clock=probe_app.extensions["gridcase.clock"]
    )
    with other.app_context():
        _use_probe(other, probe_forms, None)
        _complete_task("left_task", {"note": "l", "items": [1, 2]})
        db.session.remove()
        db.engine.dispose()
    assert len(restores) == 1  # the other app restored: it had nothing kept
    _complete_task("right_task", {"note": "r", "items": [3]})
    assert len(restores) == 2  # the kept object missed
    db.session.expire_all()
    statuses = db.session.execute(select(HumanTask.element_id, HumanTask.status).order_by(HumanTask.id)).all()
    assert [tuple(row) for row in statuses] == [
        ("first", TaskStatus.COMPLETED),
        ("left_task", TaskStatus.COMPLETED),
        ("right_task", TaskStatus.COMPLETED),
    ]
    state = json.loads(db.session.execute(select(ProcessInstance.state)).scalar_one())
    assert "left_seen" in json.dumps(state) and "right_seen" in json.dumps(state)
