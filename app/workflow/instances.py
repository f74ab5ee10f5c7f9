"""Running instances with persistence: start, complete tasks, deliver messages, fire timers.

Every operation here runs inside the caller's transaction, holding the instance row lock
(``SELECT ... FOR UPDATE``), so there is one writer per instance. State and human tasks are written with
SQLAlchemy Core as the step goes (``rows``), audit events just before commit; the caller commits once. The
workflow object a committed step leaves is kept for the next step on the instance (``live``).

An engine failure does not undo what led to it: the step is stored as SpiffWorkflow left it (the failing
task in ERROR) and the instance is parked with an incident in the same transaction (``_persist``); a parked
instance takes no task completion and no timer until ``retry_incident`` (or an operation) repairs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import undefer

from app import runtime
from app.audit.services import Actor, record
from app.clock import as_utc, now
from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.extensions import db
from app.workflow import decisions, form_versions, incidents, notices, operators, publication, rows
from app.workflow.deploy import latest_definition
from app.workflow.engine import EngineError, EngineInstance, FailedElement, LoadedSpec, ReadyUserTask
from app.workflow.live import live_workflows
from app.workflow.models import (
    TEST_RUN_GROUP,
    EngineIncident,
    HumanTask,
    IncidentKind,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskStatus,
)


@dataclass
class StepOutcome:
    """What one engine step changed; domain listeners (case status, notifications) read it."""

    instance: ProcessInstance
    created_tasks: list[HumanTask] = field(default_factory=list)
    cancelled_tasks: list[HumanTask] = field(default_factory=list)
    open_tasks: list[HumanTask] = field(default_factory=list)
    completed: bool = False
    actor: Actor | None = None
    incident: EngineIncident | None = None  # opened by this step: the instance is parked


StepListener = Callable[[StepOutcome], None]
_listeners: list[StepListener] = []


def on_step(listener: StepListener) -> StepListener:
    """Register a function called after every persisted step (same transaction)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


class InstanceParked(Conflict):
    """A task of a parked instance (an open incident, suspended or terminated) cannot be completed."""

    def __init__(self, status: str) -> None:
        super().__init__(notices.why_parked(status), {"instance_status": status})
        self.instance_status = status


# -- loading and locking ----------------------------------------------------------------------------


def _loaded_spec(definition_id: int, decision_bindings: dict[str, int] | None = None) -> LoadedSpec:
    if decision_bindings:  # the DMN versions bound at the instance's start (app.workflow.decisions)
        return decisions.bound_spec(
            definition_id,
            decision_bindings,
            lambda: _loaded_spec(definition_id),
            lambda: _document(definition_id),
        )
    cache = runtime.spec_cache()  # per app: ids are per database
    cache_key = f"definition:{definition_id}"
    cached = cache.get(cache_key)  # checked first: avoids loading the large JSON column
    if cached is not None:
        return cached
    return cache.load(cache_key, _document(definition_id))


def _document(definition_id: int) -> dict[str, Any]:
    document: dict[str, Any] = db.session.execute(
        select(ProcessDefinition.spec_document).where(ProcessDefinition.id == definition_id)
    ).scalar_one()
    return document


_WITH_STATE = undefer(ProcessInstance.state)


def lock_instance_where(instance_id: Any) -> ProcessInstance | None:
    """Take an instance's row lock for the rest of the transaction (one writer per instance).

    ``instance_id`` may be a scalar subquery, so callers that know only a task id lock in one round trip.
    """
    return db.session.execute(
        select(ProcessInstance)
        .options(_WITH_STATE)
        .where(ProcessInstance.id == instance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


# The hot path's statements are built once: building a statement costs more than running it (SQLAlchemy
# caches only the compiled form).
_LOCK_BY_ID = (
    select(ProcessInstance)
    .options(_WITH_STATE)
    .where(ProcessInstance.id == bindparam("instance_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_LOCK_BY_TASK = (
    select(ProcessInstance)
    .options(_WITH_STATE)
    .where(
        ProcessInstance.id
        == select(HumanTask.instance_id).where(HumanTask.id == bindparam("task_id")).scalar_subquery()
    )
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_instance_of_task(task_id: int) -> ProcessInstance | None:
    """``lock_instance_where`` for the instance of human task ``task_id`` (one round trip)."""
    return db.session.execute(_LOCK_BY_TASK, {"task_id": task_id}).scalar_one_or_none()


def lock_instance(instance_id: int) -> ProcessInstance:
    instance = db.session.execute(_LOCK_BY_ID, {"instance_id": instance_id}).scalar_one_or_none()
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def _engine(instance: ProcessInstance) -> EngineInstance:
    """The instance's workflow at its persisted state, for a step: the object that wrote that very state
    when the live cache has it (the caller holds the lock), else restored from the state."""
    engine = live_workflows().take(db.session(), instance.id, instance.definition_id, instance.state)
    if engine is None:
        engine = EngineInstance.restore(
            _loaded_spec(instance.definition_id, instance.decision_bindings), instance.state
        )
    return engine


def _read_engine(instance: ProcessInstance) -> EngineInstance:
    """A restored copy for reading (no lock held): never the live object another step may be using."""
    return EngineInstance.restore(
        _loaded_spec(instance.definition_id, instance.decision_bindings), instance.state
    )


def _run_engine(
    instance: ProcessInstance, actor: Actor | None, work: Callable[[], Any], *, persons_step: bool = True
) -> EngineError | None:
    """Run ``work`` (engine calls) for ``instance`` on behalf of ``actor``; the engine failure it met, if any.

    A failure is not the person's: ``_persist`` keeps what the step did and parks the instance with an
    incident. Only an operator's refusal of a person's input (a ``DomainError``: an unknown handler, a time
    limit that cannot be computed) stays the person's to fix: a 4xx, and nothing of the step is kept.
    Without a person (a timer, a job, an operator's retry) a refusal is an incident like any failure.
    """
    with operators.running_instance(instance.id, actor, test=instance.is_test):
        try:
            work()
        except EngineError as exc:
            if persons_step and actor is not None and isinstance(exc.__cause__, DomainError):
                raise _refused(exc) from exc
            return exc
    return None


def _refused(exc: EngineError) -> InvalidInput:
    """A 422 naming the element and the fields the operator's refusal gives."""
    where = f" at '{exc.element_id}'" if exc.element_id else ""
    details: dict[str, Any] = {"element_id": exc.element_id}
    if isinstance(exc.__cause__, DomainError) and isinstance(exc.__cause__.details, dict):
        details.update(exc.__cause__.details)
    return InvalidInput(f"the process could not continue{where}: {exc}", details)


def audit_task(action: str, task: HumanTask, actor: Actor | None = None, **fields: Any) -> None:
    """Record an audit event about a human task (``fields``: before, after, data)."""
    record(
        action,
        entity_type="human_task",
        entity_id=task.id,
        actor=actor,
        case_id=task.case_id,
        instance_id=task.instance_id,
        **fields,
    )


# -- operations -------------------------------------------------------------------------------------


def _new_instance(
    definition: ProcessDefinition,
    business_key: str | None,
    case_id: int | None,
    actor: Actor | None,
    is_test: bool = False,
    **started: Any,
) -> ProcessInstance:
    timestamp = now()
    # Decided now: the published DMN version of each decision the process calls decides for this instance
    # for its whole life; a table deployed later applies to the next instance (app.workflow.decisions).
    bindings = decisions.bind(definition.id, _loaded_spec(definition.id))
    if bindings:
        started["decision_bindings"] = bindings
    instance = ProcessInstance(
        definition_id=definition.id,
        decision_bindings=bindings,
        process_key=definition.key,
        business_key=business_key,
        case_id=case_id,
        is_test=is_test,
        status=InstanceStatus.RUNNING,
        state="",
        started_at=timestamp,
        updated_at=timestamp,
    )
    db.session.add(instance)
    db.session.flush()
    record(
        "instance.started",
        entity_type="process_instance",
        entity_id=instance.id,
        actor=actor,
        case_id=case_id,
        instance_id=instance.id,
        after={
            "process_key": definition.key,
            "version": definition.version,
            "business_key": business_key,
            **started,
        },
    )
    return instance


def start_instance(
    process_key: str,
    *,
    business_key: str | None,
    variables: dict[str, Any],
    case_id: int | None = None,
    actor: Actor | None = None,
) -> StepOutcome:
    definition = latest_definition(process_key)
    instance = _new_instance(definition, business_key, case_id, actor)
    engine = EngineInstance.start(
        _loaded_spec(definition.id, instance.decision_bindings), {**variables, "instance_id": instance.id}
    )
    # What starts a process (a report, a launch, a filing) is stored whatever the process then does: even an
    # operator's refusal is an incident here, never a lost report.
    failure = _run_engine(instance, actor, engine.run, persons_step=False)
    return _persist(instance, engine, actor, failure=failure)


def start_test_instance(
    definition: ProcessDefinition, variables: dict[str, Any], actor: Actor
) -> StepOutcome:
    """Start a test instance of version ``definition`` (any version, not only the one new instances start
    on) for a designer's test run (``test_runs``): no case, no business key, ``is_test`` set. The caller
    runs it under the run's simulated clock."""
    instance = _new_instance(definition, None, None, actor, is_test=True, test_run=True)
    engine = EngineInstance.start(
        _loaded_spec(definition.id, instance.decision_bindings), {**variables, "instance_id": instance.id}
    )
    failure = _run_engine(instance, actor, engine.run, persons_step=False)
    return _persist(instance, engine, actor, failure=failure)


def run_new_instances(
    started: Iterable[tuple[ProcessInstance, EngineInstance]], actor: Actor | None
) -> list[StepOutcome]:
    """Run just-created instances (``children.spawn``: up to thousands of places) to their first wait state
    and persist them, as ``start_instance`` does, writing in bulk: their states in one executemany UPDATE,
    their tasks in one multi-row INSERT, one query for the named candidates, instead of some six round trips
    each. One that fails, completes, is left stuck or has a task that cannot be assigned is persisted
    alone (``_persist``: incidents, listeners). They have no task rows yet, and their workflows are not kept
    live: a spawn makes thousands, most of which wait days for their next step."""
    timestamp = now()
    waiting: list[_NewStep] = []
    outcomes: list[StepOutcome] = []
    for instance, engine in started:
        failure = _run_engine(instance, actor, engine.run, persons_step=False)
        step = None if failure is not None else _waiting_step(instance, engine, actor, timestamp)
        if step is not None:
            waiting.append(step)
        else:
            outcomes.append(_persist(instance, engine, actor, [], failure=failure, keep_live=False))
    _claim_for_named([row for step in waiting for row in step.rows], timestamp, actor)
    rows.update_each([step.outcome.instance for step in waiting], [step.changes for step in waiting])
    created: list[HumanTask] = rows.insert(
        HumanTask, [row for step in waiting for row in step.rows], unset=_UNSET_ON_NEW_TASK
    )
    tasks = iter(created)
    for step in waiting:
        step.outcome.created_tasks = [next(tasks) for _ in step.rows]
        step.outcome.open_tasks = list(step.outcome.created_tasks)
        for row in step.outcome.created_tasks:
            _audit_created(row)
        for listener in _listeners:
            listener(step.outcome)
        outcomes.append(step.outcome)
    return outcomes


@dataclass
class _NewStep:
    """A new instance waiting after its first run, not yet written: its columns and its new task rows."""

    outcome: StepOutcome
    changes: dict[str, Any]
    rows: list[dict[str, Any]]


def _waiting_step(
    instance: ProcessInstance, engine: EngineInstance, actor: Actor | None, timestamp: datetime
) -> _NewStep | None:
    """What ``_persist`` would write for a new instance that now waits (every new task assignable), or
    None when it needs ``_persist``'s other paths (completed, stuck, a task that cannot be evaluated)."""
    if engine.completed or engine.stuck:
        return None
    values = []
    for task in engine.ready_user_tasks():
        try:
            row = _new_row(instance, engine, task, timestamp)
        except EngineError:
            return None
        if task.properties.get("assigneeFrom"):
            _assign_from(instance, engine, row, task, actor, None)
        values.append(row)
    changes: dict[str, Any] = {
        "state": engine.dump(reuse_after=False),
        "next_timer_at": engine.next_timer_at(),
        "updated_at": timestamp,
    }
    if instance.parent_id is not None:
        active, done = engine.element_ids()
        changes["elements"] = {"active": active, "completed": done}
    return _NewStep(StepOutcome(instance=instance, actor=actor), changes, values)


def complete_task(
    task: HumanTask,
    data: dict[str, Any],
    actor: Actor,
    instance: ProcessInstance,
    open_tasks: list[HumanTask] | None = None,
) -> StepOutcome:
    """Complete ``task`` for ``actor``: validated and authorized by the caller, who holds ``instance``'s lock
    (``lock_instance``). An unclaimed task is claimed by ``actor`` in the same step."""
    if task.status not in TaskStatus.OPEN:
        raise Conflict(f"task {task.id} is already {task.status}", {"status": task.status})
    if instance.status != InstanceStatus.RUNNING:
        raise InstanceParked(instance.status)
    # Recorded before the engine step so the timeline reads in the order things happened: the person
    # completes the task, then the process reacts.
    before = {"status": task.status, "assignee_id": task.assignee_id}
    timestamp = now()
    changes: dict[str, Any] = {}
    if task.status == TaskStatus.READY:
        changes.update(assignee_id=actor.id, claimed_at=timestamp)
    changes.update(
        status=TaskStatus.COMPLETED, completed_at=timestamp, completed_by_id=actor.id, submitted_data=data
    )
    # Written now, as the ORM's autoflush did before the step's first query: operators see it.
    rows.update([task], changes)
    audit_task(
        "task.completed",
        task,
        actor,
        before=before,
        after={"status": task.status},
        data={"element_id": task.element_id, "name": task.name, "form_data": data},
    )
    engine = _engine(instance)
    failure = _run_engine(instance, actor, lambda: engine.complete_user_task(task.spiff_task_id, data))
    return _persist(instance, engine, actor, open_tasks, completed=task, failure=failure)


def correlate_message(
    name: str, payload: dict[str, Any], *, instance_id: int, actor: Actor | None = None
) -> StepOutcome:
    """Deliver message ``name`` to one waiting instance; 409 when it is not waiting for it."""
    instance = lock_instance(instance_id)
    if instance.status != InstanceStatus.RUNNING:
        raise Conflict(f"process instance {instance_id} is {instance.status}", {"status": instance.status})
    engine = _engine(instance)
    delivered: list[bool] = []
    failure = _run_engine(instance, actor, lambda: delivered.append(engine.receive_message(name, payload)))
    if failure is None and not delivered[0]:  # a failure means it was caught: the run after it failed
        raise Conflict(
            f"process instance {instance_id} is not waiting for message '{name}'", {"message": name}
        )
    record(
        "message.correlated",
        entity_type="process_instance",
        entity_id=instance.id,
        actor=actor,
        case_id=instance.case_id,
        instance_id=instance.id,
        data={"message": name, "payload": payload},
    )
    return _persist(instance, engine, actor, failure=failure, kind=IncidentKind.MESSAGE)


def start_by_message(
    name: str, payload: dict[str, Any], *, business_key: str | None, actor: Actor | None = None
) -> StepOutcome:
    """Start the published process whose start event catches message ``name`` (a draft never does)."""
    published = publication.published_definitions("bpmn")
    listening = [d for d in published if name in (d.start_messages or [])]
    if not listening:
        raise NotFound(f"no deployed process starts on message '{name}'", {"message": name})
    if len(listening) > 1:
        keys = sorted(d.key for d in listening)
        raise Conflict(f"several processes start on message '{name}': {keys}", {"message": name})
    definition = listening[0]
    instance = _new_instance(definition, business_key, None, actor, message=name)
    engine = EngineInstance.start(
        _loaded_spec(definition.id, instance.decision_bindings), {"instance_id": instance.id}
    )

    def start() -> None:
        engine.run()
        if not engine.receive_message(name, payload):
            raise EngineError(f"the start event did not catch message '{name}'")

    failure = _run_engine(instance, actor, start)
    return _persist(instance, engine, actor, failure=failure, kind=IncidentKind.MESSAGE)


def start_by_timer(definition: ProcessDefinition, element_id: str, due: datetime) -> StepOutcome:
    """Start ``definition`` by its timer start event ``element_id``, due at ``due`` (the scheduler's round:
    ``timer_starts``). The process reads the due time as ``timer_due_at``. A failure of what the process then
    does parks the new instance with a timer incident, as a failing timer of a running instance does."""
    instance = _new_instance(definition, None, None, None, timer=element_id, due_at=due.isoformat())
    engine = EngineInstance.start(
        _loaded_spec(definition.id, instance.decision_bindings),
        {"instance_id": instance.id, "timer_due_at": due.isoformat()},
    )

    def start() -> None:
        engine.pass_start_timer(element_id)
        engine.run()

    failure = _run_engine(instance, None, start, persons_step=False)
    return _persist(instance, engine, None, failure=failure, kind=IncidentKind.TIMER)


def fire_due_timers(instance_id: int) -> StepOutcome | None:
    """Run the instance's due timers. None when nothing was due (another worker got there first)."""
    instance = lock_instance(instance_id)
    if instance.is_test and not runtime.clock_is_simulated():
        return None  # a test run's timers follow its simulated clock only (test_runs.advance_clock)
    current = now()
    if (
        instance.status != InstanceStatus.RUNNING
        or instance.next_timer_at is None
        or as_utc(instance.next_timer_at) > current
    ):
        return None
    engine = _engine(instance)
    due = as_utc(instance.next_timer_at)
    failure = _run_engine(instance, None, engine.run)
    record(
        "timer.fired",
        entity_type="process_instance",
        entity_id=instance.id,
        case_id=instance.case_id,
        instance_id=instance.id,
        data={"due_at": due.isoformat(), "fired_at": current.isoformat()},
    )
    return _persist(instance, engine, None, failure=failure, kind=IncidentKind.TIMER)


def move_timers(
    instance_id: int, element_ids: set[str], move: Callable[[datetime], datetime], actor: Actor | None
) -> dict[str, datetime]:
    """Move the waiting date timers ``element_ids`` of the instance to ``move(old due)`` (a time limit
    extended while it runs), in the caller's transaction; the instance's next timer follows. Returns the
    new due time of each timer moved (none: they fired already, or the instance waits on none of them)."""
    instance = lock_instance(instance_id)
    if instance.status != InstanceStatus.RUNNING:
        raise InstanceParked(instance.status)
    engine = _engine(instance)
    moved = engine.move_timers(element_ids, move)
    _persist(instance, engine, actor)
    return moved


def due_instance_ids(limit: int = 500) -> list[int]:
    rows = db.session.execute(
        select(ProcessInstance.id)
        .where(
            ProcessInstance.status == InstanceStatus.RUNNING,
            ProcessInstance.next_timer_at <= now(),
            # A test run's timers are due on its simulated clock, not this one (test_runs.advance_clock).
            ProcessInstance.is_test.is_(False),
        )
        .order_by(ProcessInstance.next_timer_at)
        .limit(limit)
    ).scalars()
    return list(rows)


def mark_failed(instance_id: int, kind: str, reason: str, element_id: str | None = None) -> None:
    """Park an instance whose step failed in a way the step itself could not record (its transaction had to
    be rolled back) with an incident, in a fresh transaction; its state stays the last one stored."""
    incidents.open_incident(lock_instance(instance_id), kind=kind, reason=reason, element_id=element_id)


def retry_incident(incident_id: int, actor: Actor | None) -> StepOutcome:
    """Retry the failed element of an open incident, after its cause was repaired: the task in ERROR back
    where it failed and the engine run on. The incident is resolved as ``retried``; a failure again opens a
    new incident (same kind) at the element it meets. In the caller's transaction."""
    found = db.session.get(EngineIncident, incident_id)
    if found is None:
        raise NotFound(f"incident {incident_id} does not exist")
    instance = lock_instance(found.instance_id)
    incident = db.session.get(EngineIncident, incident_id, populate_existing=True)  # read under the lock
    assert incident is not None
    if incident.resolved_at is not None:
        raise Conflict(f"incident {incident_id} is resolved already", {"resolution": incident.resolution})
    if instance.status != InstanceStatus.ERROR:
        raise Conflict(f"process instance {instance.id} is {instance.status}", {"status": instance.status})
    incidents.resolve_incident(incident, instance, resolution="retried", actor=actor)
    engine = _engine(instance)
    failure = _run_engine(instance, actor, engine.retry_failed, persons_step=False)
    return _persist(instance, engine, actor, failure=failure, kind=incident.kind)


def instance_state(instance: ProcessInstance) -> dict[str, Any]:
    if instance.status == InstanceStatus.COMPLETED and not instance.state:
        return _state_from_tasks(instance)
    engine = _read_engine(instance)
    active, completed = engine.element_ids()
    if instance.parent_id is None:  # a parent shows its children's elements too (``children``)
        from app.workflow.children import merged_elements  # children builds on this module

        child_active, child_done = merged_elements(instance.id)
        if child_active or child_done:
            merged_active = set(active) | child_active
            active = sorted(merged_active)
            completed = sorted((set(completed) | child_done) - merged_active)
    return {"active_element_ids": active, "completed_element_ids": completed}


# -- replacing an instance's state (migration to another version, its undo) ----------------------------


def loaded_spec(definition_id: int) -> LoadedSpec:
    """The deployed version ``definition_id``, restored once per app (``SpecCache``)."""
    return _loaded_spec(definition_id)


def restored_engine(definition_id: int, state: str) -> EngineInstance:
    """A new workflow object for ``state`` on version ``definition_id``: never the live one a step may use."""
    return EngineInstance.restore(_loaded_spec(definition_id), state)


def persist_replaced_state(
    instance: ProcessInstance, engine: EngineInstance, actor: Actor | None
) -> StepOutcome:
    """Persist ``engine`` as the state of ``instance`` (locked by the caller, ``definition_id`` already set
    to the version ``engine`` runs on) as a step does: timers, human tasks, listeners. The live workflow
    kept for the instance is dropped: the next step restores from the new state."""
    outcome = _persist(instance, engine, actor)
    live_workflows().forget(db.session(), instance.id)
    return outcome


def _state_from_tasks(instance: ProcessInstance) -> dict[str, Any]:
    """A completed instance loaded in bulk (``flask seed-city``) keeps no engine state: its completed
    elements are those of its completed tasks."""
    done = db.session.execute(
        select(HumanTask.element_id)
        .where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.COMPLETED)
        .distinct()
    ).scalars()
    return {"active_element_ids": [], "completed_element_ids": sorted(done)}


# -- persistence ------------------------------------------------------------------------------------


def _persist(
    instance: ProcessInstance,
    engine: EngineInstance,
    actor: Actor | None,
    open_tasks: list[HumanTask] | None = None,
    completed: HumanTask | None = None,
    failure: EngineError | None = None,
    kind: str = IncidentKind.STEP,
    keep_live: bool = True,
) -> StepOutcome:
    """Store what the step left: state, task rows, completion; after a ``failure`` (or when the instance is
    left stuck) the instance is parked with an incident in the same transaction.

    At a failure the state stored is what SpiffWorkflow left (the work before the failing element kept,
    that element's task in ``TaskState.ERROR``) and the task rows match it, so a retry goes on from there.
    """
    timestamp = now()
    failed = engine.mark_failed(failure.element_id) if failure is not None else None
    outcome = StepOutcome(instance=instance, actor=actor)
    # Before dumping: a new task whose properties cannot be evaluated is marked failed in the state.
    unassignable = _sync_tasks(instance, engine, outcome, timestamp, open_tasks, completed)
    if failure is None and unassignable is not None:
        failure, failed = unassignable
    state = engine.dump(reuse_after=keep_live)
    changes: dict[str, Any] = {
        "state": state,
        "next_timer_at": engine.next_timer_at(),
        "updated_at": timestamp,
    }
    if instance.parent_id is not None:  # a child: its parent's diagram shows its elements
        active, done = engine.element_ids()
        changes["elements"] = {"active": active, "completed": done}
    if engine.completed and instance.status != InstanceStatus.COMPLETED:
        changes.update(status=InstanceStatus.COMPLETED, completed_at=timestamp, next_timer_at=None)
        outcome.completed = True
        record(
            "instance.completed",
            entity_type="process_instance",
            entity_id=instance.id,
            actor=actor,
            case_id=instance.case_id,
            instance_id=instance.id,
        )
    rows.update([instance], changes)
    if failure is not None and failed is not None:
        outcome.incident = incidents.open_incident(
            instance,
            kind=kind,
            reason=str(failure),
            element_id=failed.element_id,
            element_name=failed.name,
            actor=actor,
            details={"error": type(failure.__cause__ or failure).__name__},
        )
    elif not outcome.completed and engine.stuck:
        outcome.incident = incidents.open_incident(
            instance,
            kind=IncidentKind.STUCK,
            reason="not completed, yet no task is ready and nothing is awaited (timer, message, join)",
            actor=actor,
        )
    elif not outcome.completed and keep_live:  # a finished workflow takes no more steps: nothing to keep
        live_workflows().stage(db.session(), instance.id, instance.definition_id, state, engine)
    # No flush here: what the ORM still holds (case columns set by operators, then by the listeners) goes
    # out in one UPDATE at the next query or at commit, instead of two.
    for listener in _listeners:
        listener(outcome)
    return outcome


def _sync_tasks(
    instance: ProcessInstance,
    engine: EngineInstance,
    outcome: StepOutcome,
    timestamp: datetime,
    known_open: list[HumanTask] | None,
    completed: HumanTask | None,
) -> tuple[EngineError, FailedElement] | None:
    """Make the human_task rows match the engine's ready user tasks: new ones in, gone ones cancelled.

    ``known_open``: the instance's open rows, when the caller read them after taking the lock (saves a
    query). Rows are written with one statement each way (see ``rows``), then audited. A new task whose
    properties (candidate, due time, …) fail to evaluate gets no row: it is marked failed in the engine,
    and the first such failure is returned for the incident.
    """
    if known_open is None:
        known_open = list(
            db.session.execute(
                select(HumanTask).where(
                    HumanTask.instance_id == instance.id, HumanTask.status.in_(TaskStatus.OPEN)
                )
            ).scalars()
        )
    open_rows = {row.spiff_task_id: row for row in known_open if row.status in TaskStatus.OPEN}
    ready = {t.task_id: t for t in engine.ready_user_tasks()}
    new_tasks: list[ReadyUserTask] = []
    values: list[dict[str, Any]] = []
    unassignable: tuple[EngineError, FailedElement] | None = None
    for spiff_id, task in ready.items():
        if spiff_id in open_rows:
            continue
        try:
            values.append(_new_row(instance, engine, task, timestamp))
            new_tasks.append(task)
        except EngineError as exc:
            failed = engine.mark_task_failed(spiff_id)
            unassignable = unassignable or (exc, failed)
    if unassignable is not None:
        ready = {t.task_id: t for t in engine.ready_user_tasks()}
    outcome.cancelled_tasks.extend(row for spiff_id, row in open_rows.items() if spiff_id not in ready)
    rows.update(outcome.cancelled_tasks, {"status": TaskStatus.CANCELLED, "completed_at": timestamp})
    if values and instance.is_test:
        for row in values:  # a test run's tasks are offered to nobody: the designer completes them
            row.update(candidate_user=None, candidate_group=TEST_RUN_GROUP, grid_code=None)
    elif values:
        pairs = list(zip(values, new_tasks, strict=True))
        _assign_named_candidates(instance, engine, pairs, timestamp, outcome.actor, completed)
    created: list[HumanTask] = rows.insert(HumanTask, values, unset=_UNSET_ON_NEW_TASK)
    outcome.created_tasks.extend(created)
    outcome.open_tasks = [row for spiff_id, row in open_rows.items() if spiff_id in ready] + created
    for row in outcome.cancelled_tasks:
        audit_task(
            "task.cancelled",
            row,
            None,
            data={"element_id": row.element_id, "name": row.name},
        )
    for row in created:
        _audit_created(row)
    return unassignable


def _audit_created(row: HumanTask) -> None:
    audit_task(
        "task.created",
        row,
        None,
        after={
            "status": row.status,
            "candidate_roles": row.roles,
            "candidate_user": row.candidate_user,
            "candidate_group": row.candidate_group,
            "assignee_id": row.assignee_id,
        },
        data={
            "element_id": row.element_id,
            "name": row.name,
            "due_at": row.due_at.isoformat() if row.due_at else None,
        },
    )


def _evaluate_property(engine: EngineInstance, task: ReadyUserTask, name: str) -> Any:
    expression = task.properties.get(name)
    if not expression:
        return None
    return engine.evaluate(task.task_id, expression)


# Columns a new task row leaves NULL (submitted_data is JSON: given None it would store JSON null).
_UNSET_ON_NEW_TASK = ("completed_at", "completed_by_id", "submitted_data")


def _new_row(
    instance: ProcessInstance, engine: EngineInstance, task: ReadyUserTask, timestamp: datetime
) -> dict[str, Any]:
    """The column values of a new human_task row (every column but the id and ``_UNSET_ON_NEW_TASK``)."""
    due_value = _evaluate_property(engine, task, "dueAt")
    form_key = task.properties.get("formJsonSchemaFilename")
    return {
        "instance_id": instance.id,
        "case_id": instance.case_id,
        "spiff_task_id": task.task_id,
        "element_id": task.element_id,
        "name": task.name,
        "form_key": form_key,
        # frozen by the deployment the task comes from: the instance's, or a callee's bound at its call
        "form_version_id": form_versions.version_id(task.definition_id or instance.definition_id, form_key),
        "lane": task.lane,
        "candidate_roles": HumanTask.join_roles(
            [r.strip() for r in task.properties.get("candidateRoles", "").split(",") if r.strip()]
        ),
        "candidate_user": _evaluate_property(engine, task, "candidateUser") or None,
        "candidate_group": _evaluate_property(engine, task, "candidateGroup") or None,
        "grid_code": _evaluate_property(engine, task, "gridCode") or None,
        "assignee_id": None,
        "claimed_at": None,
        "status": TaskStatus.READY,
        "case_status": task.properties.get("caseStatus"),
        "created_at": timestamp,
        "due_at": as_utc(datetime.fromisoformat(due_value))
        if isinstance(due_value, str) and due_value
        else None,
    }


def _assign_named_candidates(
    instance: ProcessInstance,
    engine: EngineInstance,
    pairs: list[tuple[dict[str, Any], ReadyUserTask]],
    timestamp: datetime,
    actor: Actor | None,
    completed: HumanTask | None,
) -> None:
    """Tasks for a named person are theirs without a claim step; ``assigneeFrom`` names whoever completed
    an earlier task (the handler sends the proof of their own work)."""
    for row, task in pairs:
        if task.properties.get("assigneeFrom"):
            _assign_from(instance, engine, row, task, actor, completed)
    _claim_for_named([row for row, _ in pairs], timestamp, actor)


def _assign_from(
    instance: ProcessInstance,
    engine: EngineInstance,
    row: dict[str, Any],
    task: ReadyUserTask,
    actor: Actor | None,
    completed: HumanTask | None,
) -> None:
    """The new task ``row`` is for whoever completed the element its ``assigneeFrom`` names."""
    assignee_from = task.properties["assigneeFrom"]
    if completed is not None and completed.element_id == assignee_from and actor is not None:
        row["candidate_user"] = actor.username  # completed in this very step: no lookup needed
    elif engine.has_completed(assignee_from):
        previous = db.session.execute(
            _user_statements()[0], {"instance_id": instance.id, "element_id": assignee_from}
        ).scalar_one_or_none()
        row["candidate_user"] = previous or row["candidate_user"]


def _claim_for_named(values: list[dict[str, Any]], timestamp: datetime, actor: Actor | None) -> None:
    """New task rows naming an active user are that user's (claimed): one query for all of them, none when
    the only one named is the active person taking this step (a handler sending the proof of their work)."""
    users: dict[str, int] = {}
    if actor is not None and getattr(actor, "active", None) is True:
        users[actor.username] = actor.id
    named = {row["candidate_user"] for row in values if row["candidate_user"]} - set(users)
    if named:
        users.update(dict(db.session.execute(_user_statements()[1], {"usernames": sorted(named)}).all()))
    for row in values:
        if row["candidate_user"] in users:
            row.update(
                assignee_id=users[row["candidate_user"]], status=TaskStatus.CLAIMED, claimed_at=timestamp
            )


@cache
def _user_statements() -> tuple[Any, Any]:
    """(whoever last completed an element of an instance, the ids of active users by name), built once."""
    from app.auth.models import User  # the workflow package does not import domain packages at import time

    previous_completer = (
        select(User.username)
        .join(HumanTask, HumanTask.completed_by_id == User.id)
        .where(
            HumanTask.instance_id == bindparam("instance_id"),
            HumanTask.element_id == bindparam("element_id"),
            HumanTask.status == TaskStatus.COMPLETED,
        )
        .order_by(HumanTask.id.desc())
        .limit(1)
    )
    active_user_ids = select(User.username, User.id).where(
        User.username.in_(bindparam("usernames", expanding=True)), User.active.is_(True)
    )
    return previous_completer, active_user_ids


def task_data(instance_id: int, spiff_task_id: str) -> dict[str, Any]:
    instance = db.session.execute(
        select(ProcessInstance)
        .options(undefer(ProcessInstance.state))
        .where(ProcessInstance.id == instance_id)
    ).scalar_one()
    data = _read_engine(instance).task_data(spiff_task_id)
    return {k: v for k, v in data.items() if isinstance(k, str) and not k.startswith("_")}
