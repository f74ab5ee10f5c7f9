"""Service-task operators: the Python capabilities that BPMN service tasks call by name.

A diagram says *what* happens (``<spiffworkflow:serviceTaskOperator id="case.finish">``); the domain
packages register *how* at start-up. The workflow package never imports a domain package: domains
register here, and deployment rejects a diagram that names an operator nobody registered.

A test instance (a designer's test run, ``ProcessInstance.is_test``) never runs an operator: it runs the
operator's *simulation* (``simulation``), which reads what it likes but writes nothing, and returns a result
of the operator's shape; the call and its result go into the run's log (an audit event of the instance).
An operator with no simulation stops the test run with an incident naming it (the designer may skip the
element and set its result variable on the instance's operations page).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app import metrics
from app.audit.services import Actor, record
from app.extensions import db


@dataclass(frozen=True)
class OperatorCall:
    """What an operator gets: the instance it runs for, the task data it sees, its evaluated parameters."""

    instance_id: int
    data: dict[str, Any]
    params: dict[str, Any]
    actor: Actor | None = None  # the person whose action made the engine step (None: a timer or the system)


OperatorFunc = Callable[[OperatorCall], Any]


@dataclass(frozen=True)
class Operator:
    name: str
    func: OperatorFunc
    description: str


class UnknownOperator(LookupError):
    pass


_registry: dict[str, Operator] = {}
_simulations: dict[str, OperatorFunc] = {}
# (instance id, actor, is a test instance) of the engine run in progress
_current_instance: ContextVar[tuple[int, Any, bool] | None] = ContextVar(
    "gridcase_current_instance", default=None
)

SIMULATED_ACTION = "testrun.operator_simulated"


class NotSimulated(RuntimeError):
    """A test instance reached an operator that has no simulation: running it would touch real data."""


def register(name: str, description: str) -> Callable[[OperatorFunc], OperatorFunc]:
    """Decorator: make ``func`` callable from BPMN service tasks as ``name``."""

    def decorate(func: OperatorFunc) -> OperatorFunc:
        _registry[name] = Operator(name, func, description)
        return func

    return decorate


def simulation(name: str) -> Callable[[OperatorFunc], OperatorFunc]:
    """Decorator: what operator ``name`` does in a test instance. It gets the same ``OperatorCall`` and
    returns what the operator would return; it only reads (one that adds or changes a row fails the step)."""

    def decorate(func: OperatorFunc) -> OperatorFunc:
        _simulations[name] = func
        return func

    return decorate


def simulated_names() -> set[str]:
    return set(_simulations)


def names() -> set[str]:
    return set(_registry)


def catalogue() -> list[Operator]:
    return sorted(_registry.values(), key=lambda op: op.name)


@contextmanager
def running_instance(instance_id: int, actor: Actor | None = None, *, test: bool = False) -> Iterator[None]:
    """Mark which process instance (and whose action, and whether it is a test instance) the engine steps
    inside this block belong to; the block is one engine run, counted and timed (``gridcase_engine_steps``)
    with its outcome."""
    token = _current_instance.set((instance_id, actor, test))
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        _current_instance.reset(token)
        metrics.ENGINE_STEPS.labels(outcome).inc()
        metrics.ENGINE_STEP_LATENCY.observe(time.perf_counter() - started)


def invoke(name: str, data: dict[str, Any], params: dict[str, Any]) -> Any:
    operator = _registry.get(name)
    if operator is None:
        raise UnknownOperator(f"no service-task operator named {name!r}")
    current = _current_instance.get()
    if current is None:
        raise RuntimeError(f"operator {name!r} called outside a process instance step")
    instance_id, actor, test = current
    if test:
        return _simulate(name, OperatorCall(instance_id=instance_id, data=data, params=params, actor=actor))
    # In a savepoint: an operator that fails half way leaves none of its writes behind (the step that
    # called it may still be kept, as an incident), and a database error leaves the transaction usable.
    with db.session.begin_nested():
        return operator.func(OperatorCall(instance_id=instance_id, data=data, params=params, actor=actor))


def _simulate(name: str, call: OperatorCall) -> Any:
    """A test instance's service task: the simulation's result, logged; nothing it might write is kept."""
    simulate = _simulations.get(name)
    if simulate is None:
        raise NotSimulated(
            f"试运行不执行服务任务 '{name}'（它会改动真实数据，且没有模拟实现）/ operator {name!r} has no "
            "simulation for test runs: skip the element and set its result variable instead"
        )
    touched = _unsaved_changes()
    with db.session.begin_nested():
        result = simulate(call)
        if _unsaved_changes() - touched:  # a simulation that changed a row would change real data
            raise RuntimeError(f"the simulation of {name!r} changed rows; simulations must only read")
    record(
        SIMULATED_ACTION,
        entity_type="process_instance",
        entity_id=call.instance_id,
        actor=call.actor,
        instance_id=call.instance_id,
        data={"operator": name, "params": call.params, "result": result},
    )
    return result


def _unsaved_changes() -> set[int]:
    session = db.session()
    return {id(obj) for obj in (*session.new, *session.dirty, *session.deleted)}
