"""Operators' repairs of running instances: retry, skip, move the token, suspend/resume, terminate, edit a
variable (Camunda Cockpit's and spiff-arena's instance operations).

Each takes the instance lock, changes the engine state through ``repair.RepairableEngine``, keeps the human
tasks in step through the normal persistence path (``instances._persist`` / ``_sync_tasks``), resolves or
opens incidents only through ``incidents``, and records one audit event with before/after. Who may operate
is the caller's decision (``app.processes.operations``); the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.audit.services import Actor, record
from app.clock import now
from app.errors import Conflict, InvalidInput
from app.workflow import incidents, instances, operators, rows
from app.workflow.engine import EngineError
from app.workflow.models import EngineIncident, IncidentKind, InstanceStatus, ProcessInstance
from app.workflow.repair import RepairableEngine, RepairRefused

# The audit actions of the operations here (timelines label them; a resident's timeline leaves them out).
OPERATOR_ACTIONS = (
    "instance.retried",
    "instance.skipped",
    "instance.moved",
    "instance.suspended",
    "instance.resumed",
    "instance.terminated",
    "instance.variable_edited",
)

# A variable an operator may set: a plain name (names with a leading "_" belong to the engine).
VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

TerminationListener = Callable[[ProcessInstance, str, Actor | None], None]
_on_terminated: list[TerminationListener] = []


def on_terminated(listener: TerminationListener) -> TerminationListener:
    """Register a function called when an operator terminates an instance (same transaction): the cases
    package closes the instance's case (the workflow package imports no domain package)."""
    if listener not in _on_terminated:
        _on_terminated.append(listener)
    return listener


SwitchListener = Callable[[ProcessInstance, str, Actor | None, str], None]
_on_switched: list[SwitchListener] = []


def on_switched(listener: SwitchListener) -> SwitchListener:
    """Register a function called when an operator suspends or resumes an instance (same transaction), with
    the instance, its status before, the actor and the reason: its child instances follow it."""
    if listener not in _on_switched:
        _on_switched.append(listener)
    return listener


RepairListener = Callable[[ProcessInstance, Actor | None], None]
_on_repaired: list[RepairListener] = []


def on_repaired(listener: RepairListener) -> RepairListener:
    """Register a function called after an operator's retry, skip or token move (same transaction), with
    the instance as the repair left it: a parent back to running takes what its children left queued."""
    if listener not in _on_repaired:
        _on_repaired.append(listener)
    return listener


def _repaired(instance: ProcessInstance, actor: Actor | None) -> None:
    for listener in _on_repaired:
        listener(instance, actor)


# -- helpers ----------------------------------------------------------------------------------------


def _engine(instance: ProcessInstance) -> RepairableEngine:
    """A fresh restore of the locked instance's state (never the live object: repairs are rare)."""
    return RepairableEngine.restore(
        instances._loaded_spec(instance.definition_id, instance.decision_bindings), instance.state
    )


def _locked(instance_id: int, allowed: tuple[str, ...], operation: str) -> ProcessInstance:
    instance = instances.lock_instance(instance_id)
    if instance.status not in allowed:
        raise Conflict(
            f"流程实例 {instance_id} 当前状态为 {instance.status}，不能{operation}",
            {"status": instance.status, "allowed": list(allowed)},
        )
    return instance


def _open_incident(instance: ProcessInstance, operation: str) -> EngineIncident:
    incident = incidents.open_incident_of(instance.id)
    if instance.status != InstanceStatus.ERROR or incident is None:
        raise Conflict(
            f"流程实例 {instance.id} 没有未解决的异常，不能{operation}", {"status": instance.status}
        )
    return incident


def _snapshot(instance: ProcessInstance, engine: RepairableEngine) -> dict[str, Any]:
    return {
        "status": instance.status,
        "active_element_ids": sorted({e.element_id for e in engine.active_elements()}),
    }


def _audit(
    action: str,
    instance: ProcessInstance,
    actor: Actor | None,
    before: dict[str, Any],
    after: dict[str, Any],
    data: dict[str, Any],
) -> None:
    record(
        action,
        entity_type="process_instance",
        entity_id=instance.id,
        actor=actor,
        case_id=instance.case_id,
        instance_id=instance.id,
        before=before,
        after=after,
        data=data,
    )


def _refused(exc: RepairRefused) -> InvalidInput:
    return InvalidInput(str(exc), {exc.field: str(exc)})


def _run_and_persist(
    instance: ProcessInstance,
    engine: RepairableEngine,
    actor: Actor | None,
    incident: EngineIncident | None,
    resolution: str,
) -> EngineIncident | None:
    """Run the repaired engine; resolve ``incident`` as ``resolution``;
    persist (tasks in step). A run that fails again keeps what it did and ``instances._persist`` opens a new
    incident (same kind) at the failing element; returned."""
    failure: EngineError | None = None
    with operators.running_instance(instance.id, actor):
        try:
            engine.run()
        except EngineError as exc:
            failure = exc
    if incident is not None:
        incidents.resolve_incident(incident, instance, resolution=resolution, actor=actor)
    kind = incident.kind if incident is not None else IncidentKind.STEP
    return instances._persist(instance, engine, actor, failure=failure, kind=kind).incident


# -- operations -------------------------------------------------------------------------------------


def retry(instance_id: int, actor: Actor | None, reason: str | None = None) -> ProcessInstance:
    """Retry the open incident (``instances.retry_incident``: the failed task back where it failed, the
    engine run on), audited with the operator's reason. Resolved as ``retried``; a new incident when it
    fails again."""
    instance = _locked(instance_id, (InstanceStatus.ERROR,), "重试")
    incident = _open_incident(instance, "重试")
    engine = _engine(instance)
    before = _snapshot(instance, engine)
    reset = engine.failed_element_ids()
    outcome = instances.retry_incident(incident.id, actor)
    _audit(
        "instance.retried",
        instance,
        actor,
        before,
        _snapshot(instance, _engine(instance)),
        {
            "reason": reason,
            "incident_id": incident.id,
            "reset_element_ids": reset,
            "new_incident_id": outcome.incident.id if outcome.incident else None,
        },
    )
    _repaired(instance, actor)
    return instance


def skip(
    instance_id: int, actor: Actor | None, reason: str, element_id: str | None = None
) -> ProcessInstance:
    """Complete the failing element without running it (its script or call is not executed), then go on.
    ``element_id`` defaults to the open incident's element."""
    instance = _locked(instance_id, (InstanceStatus.ERROR,), "跳过")
    incident = _open_incident(instance, "跳过")
    engine = _engine(instance)
    target = element_id or incident.element_id
    if not target:
        failed = engine.failed_element_ids()
        if len(failed) != 1:
            raise InvalidInput("请指定要跳过的元素", {"element_id": "请指定要跳过的元素"})
        target = failed[0]
    before = _snapshot(instance, engine)
    try:
        engine.skip(target)
    except RepairRefused as exc:
        raise _refused(exc) from exc
    new_incident = _run_and_persist(instance, engine, actor, incident, "skipped")
    _audit(
        "instance.skipped",
        instance,
        actor,
        before,
        _snapshot(instance, engine),
        {
            "reason": reason,
            "element_id": target,
            "incident_id": incident.id,
            "new_incident_id": new_incident.id if new_incident else None,
        },
    )
    _repaired(instance, actor)
    return instance


def move_token(
    instance_id: int,
    actor: Actor | None,
    reason: str,
    to_element_id: str,
    from_element_id: str | None = None,
) -> ProcessInstance:
    """Cancel the token at ``from_element_id`` and start it before ``to_element_id``. ``from_element_id``
    defaults to the open incident's element, else to the one ready or failed task of the instance."""
    instance = _locked(instance_id, (InstanceStatus.RUNNING, InstanceStatus.ERROR), "移动令牌")
    incident = incidents.open_incident_of(instance.id) if instance.status == InstanceStatus.ERROR else None
    engine = _engine(instance)
    source = from_element_id or (incident.element_id if incident is not None else None)
    if not source:
        # Waiting timers and running sub-processes stand beside the work: the token is a ready or failed task.
        active = sorted({e.element_id for e in engine.active_elements() if e.state in ("READY", "ERROR")})
        if len(active) != 1:
            raise InvalidInput(
                "流程实例停在多个元素上，请指定从哪个元素移出",
                {"from_element_id": f"请从 {', '.join(active) or '（无）'} 中选择"},
            )
        source = active[0]
    before = _snapshot(instance, engine)
    try:
        engine.move(source, to_element_id)
    except RepairRefused as exc:
        raise _refused(exc) from exc
    new_incident = _run_and_persist(instance, engine, actor, incident, "moved")
    _audit(
        "instance.moved",
        instance,
        actor,
        before,
        _snapshot(instance, engine),
        {
            "reason": reason,
            "from_element_id": source,
            "to_element_id": to_element_id,
            "incident_id": incident.id if incident is not None else None,
            "new_incident_id": new_incident.id if new_incident else None,
        },
    )
    _repaired(instance, actor)
    return instance


def suspend(instance_id: int, actor: Actor | None, reason: str) -> ProcessInstance:
    """Stop a running instance: no task completion, timer or message until it is resumed (its timers fire
    on the first round after resuming)."""
    return _switch_status(instance_id, actor, reason, InstanceStatus.RUNNING, InstanceStatus.SUSPENDED)


def resume(instance_id: int, actor: Actor | None, reason: str) -> ProcessInstance:
    return _switch_status(instance_id, actor, reason, InstanceStatus.SUSPENDED, InstanceStatus.RUNNING)


_SWITCHES = {
    InstanceStatus.SUSPENDED: ("挂起", "instance.suspended"),
    InstanceStatus.RUNNING: ("恢复", "instance.resumed"),
}


def _switch_status(
    instance_id: int, actor: Actor | None, reason: str, before: str, after: str
) -> ProcessInstance:
    operation, action = _SWITCHES[after]
    instance = _locked(instance_id, (before,), operation)
    rows.update([instance], {"status": after, "updated_at": now()})
    _audit(action, instance, actor, {"status": before}, {"status": instance.status}, {"reason": reason})
    for listener in _on_switched:
        listener(instance, before, actor, reason)
    return instance


def terminate(instance_id: int, actor: Actor | None, reason: str) -> ProcessInstance:
    """End the instance for good: every open task cancelled, its open incident resolved as ``terminated``,
    status ``terminated``; the termination listeners (the case) follow in the same transaction."""
    instance = _locked(
        instance_id,
        (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.SUSPENDED),
        "终止",
    )
    engine = _engine(instance)
    before = _snapshot(instance, engine)
    incident = incidents.open_incident_of(instance.id)
    if incident is not None:
        incidents.resolve_incident(incident, instance, resolution="terminated", actor=actor)
    engine.cancel_all()
    timestamp = now()
    outcome = instances.StepOutcome(instance=instance, actor=actor)
    instances._sync_tasks(instance, engine, outcome, timestamp, None, None)
    rows.update(
        [instance],
        {
            "state": engine.dump(),
            "status": InstanceStatus.TERMINATED,
            "error": None,
            "next_timer_at": None,
            "completed_at": timestamp,
            "updated_at": timestamp,
        },
    )
    _audit(
        "instance.terminated",
        instance,
        actor,
        before,
        {"status": instance.status, "cancelled_task_ids": [t.id for t in outcome.cancelled_tasks]},
        {"reason": reason, "incident_id": incident.id if incident is not None else None},
    )
    for listener in _on_terminated:
        listener(instance, reason, actor)
    return instance


_MISSING = {"missing": True}


def edit_variable(
    instance_id: int, actor: Actor | None, reason: str, name: str, value: Any
) -> ProcessInstance:
    """Set variable ``name`` to ``value`` (JSON) where the next step reads it; nothing runs."""
    if not VARIABLE_NAME.match(name):
        raise InvalidInput(
            "变量名须以字母开头，只含字母、数字和下划线（至多 64 个字符）",
            {"name": "变量名须以字母开头，只含字母、数字和下划线（至多 64 个字符）"},
        )
    instance = _locked(
        instance_id,
        (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.SUSPENDED),
        "修改变量",
    )
    engine = _engine(instance)
    variables = engine.variables()
    try:
        engine.set_variable(name, value)
    except RepairRefused as exc:
        raise _refused(exc) from exc
    instances._persist(instance, engine, actor)
    _audit(
        "instance.variable_edited",
        instance,
        actor,
        {"name": name, "value": variables[name]} if name in variables else {"name": name, **_MISSING},
        {"name": name, "value": value},
        {"reason": reason},
    )
    return instance


def variables(instance: ProcessInstance) -> dict[str, Any]:
    """The instance's variables as the next step reads them (read-only: no lock)."""
    return _engine(instance).variables()


def active_elements(instance: ProcessInstance) -> list[dict[str, str]]:
    return [
        {"element_id": e.element_id, "name": e.name, "state": e.state}
        for e in _engine(instance).active_elements()
    ]


def completed_element_ids(instance: ProcessInstance) -> list[str]:
    return _engine(instance).completed_element_ids()
