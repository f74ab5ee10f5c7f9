"""Service-task operators: the Python capabilities that BPMN service tasks call by name.

A diagram says *what* happens (``<spiffworkflow:serviceTaskOperator id="case.finish">``); the domain
packages register *how* at start-up. The workflow package never imports a domain package: domains
register here, and deployment rejects a diagram that names an operator nobody registered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app import metrics
from app.audit.services import Actor
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
_current_instance: ContextVar[tuple[int, Any] | None] = ContextVar("gridcase_current_instance", default=None)


def register(name: str, description: str) -> Callable[[OperatorFunc], OperatorFunc]:
    """Decorator: make ``func`` callable from BPMN service tasks as ``name``."""

    def decorate(func: OperatorFunc) -> OperatorFunc:
        _registry[name] = Operator(name, func, description)
        return func

    return decorate


def names() -> set[str]:
    return set(_registry)


def catalogue() -> list[Operator]:
    return sorted(_registry.values(), key=lambda op: op.name)


@contextmanager
def running_instance(instance_id: int, actor: Actor | None = None) -> Iterator[None]:
    """Mark which process instance (and whose action) the engine steps inside this block belong to; the
    block is one engine run, counted and timed (``gridcase_engine_steps``) with its outcome."""
    token = _current_instance.set((instance_id, actor))
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
    instance_id, actor = current
    # In a savepoint: an operator that fails half way leaves none of its writes behind (the step that
    # called it may still be kept, as an incident), and a database error leaves the transaction usable.
    with db.session.begin_nested():
        return operator.func(OperatorCall(instance_id=instance_id, data=data, params=params, actor=actor))
