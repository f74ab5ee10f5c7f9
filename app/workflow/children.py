"""Child instances (子流程实例): a parent's parallel work as many small instances instead of one big one.

An engine step restores and stores its whole instance. An emergency with 200 responders or a campaign over
5,000 places, run as one multi-instance activity, made every report-in or inspection cost in proportion to
the whole. Here each responder / place runs as its own instance of a small process (``parent_id`` names the
parent), so a step on it costs the same whatever the size of the whole:

- the parent's diagram calls an operator that ``spawn``\\ s the children in its own step (same transaction:
  all or nothing), then waits at a message catch event;
- each child runs alone: its own row lock (one writer per child), timers, tasks and incidents;
- a ``ProcessJoin`` row counts the children still running. A child's last step (completed or terminated)
  decrements it; the step that brings it to zero delivers the join's message to the parent, in the same
  transaction (lock order: child, then parent). Concurrent children serialize on the join row only for the
  decrement: both succeed;
- the parent's highlighted diagram merges its children's elements (``merged_elements``), kept in a column
  of each child as it steps;
- suspending, resuming or terminating a parent does the same to its children; a terminated child counts as
  ended.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from app.audit.services import Actor, record
from app.clock import now
from app.extensions import db
from app.workflow import instances, operations, rows
from app.workflow.deploy import latest_definition
from app.workflow.engine import EngineInstance
from app.workflow.models import InstanceStatus, ProcessInstance, ProcessJoin


def spawn(
    parent_id: int,
    process_key: str,
    variables: list[dict[str, Any]],
    *,
    message: str,
    actor: Actor | None,
) -> int:
    """Start one instance of ``process_key`` per entry of ``variables`` as children of ``parent_id`` (whose
    step is running: its lock is held), each run to its first wait state. Returns how many are still running:
    the parent waits for ``message`` when more than none (the last one to finish sends it)."""
    parent = db.session.get(ProcessInstance, parent_id)
    if parent is None:
        raise LookupError(f"no process instance {parent_id} to start children of")
    definition = latest_definition(process_key)
    loaded = instances.loaded_spec(definition.id)
    timestamp = now()
    base = {
        "definition_id": definition.id,
        "process_key": definition.key,
        "case_id": parent.case_id,
        "parent_id": parent.id,
        "status": InstanceStatus.RUNNING,
        "state": "",
        "started_at": timestamp,
        "updated_at": timestamp,
    }
    children: list[ProcessInstance] = rows.insert(
        ProcessInstance,
        [{**base, "business_key": parent.business_key} for _ in variables],
        unset=("next_timer_at", "error", "completed_at", "elements"),
    )
    # Recorded first, all at once: each child's own events (its operators', its tasks') follow its start.
    for child in children:
        record(
            "instance.started",
            entity_type="process_instance",
            entity_id=child.id,
            actor=actor,
            case_id=child.case_id,
            instance_id=child.id,
            after={
                "process_key": definition.key,
                "version": definition.version,
                "business_key": child.business_key,
                "parent_id": parent.id,
            },
        )
    started = (
        (child, EngineInstance.start(loaded, {**values, "instance_id": child.id, "parent_id": parent.id}))
        for child, values in zip(children, variables, strict=True)
    )
    outcomes = instances.run_new_instances(started, actor)
    running = sum(1 for outcome in outcomes if not outcome.completed)
    if running:
        db.session.add(
            ProcessJoin(
                parent_id=parent.id,
                message=message,
                total=len(children),
                pending=running,
                created_at=timestamp,
            )
        )
        db.session.flush()
    return running


def child_ended(child: ProcessInstance, actor: Actor | None) -> None:
    """``child`` has completed or was terminated: one less for its parent to wait for; the last one sends
    the join's message to the parent (in this transaction)."""
    if child.parent_id is None:
        return
    found = db.session.execute(
        update(ProcessJoin)
        .where(ProcessJoin.parent_id == child.parent_id, ProcessJoin.pending > 0)
        .values(pending=ProcessJoin.pending - 1)
        .returning(ProcessJoin.id, ProcessJoin.pending, ProcessJoin.message)
    ).first()
    if found is None:  # ended while being spawned, or the parent no longer waits (terminated)
        return
    join_id, pending, message = found
    if pending > 0:
        return
    db.session.execute(delete(ProcessJoin).where(ProcessJoin.id == join_id))
    instances.correlate_message(message, {"children": "done"}, instance_id=child.parent_id, actor=actor)


def _on_step(outcome: instances.StepOutcome) -> None:
    if outcome.completed and outcome.instance.parent_id is not None:
        child_ended(outcome.instance, outcome.actor)


def _on_terminated(instance: ProcessInstance, reason: str, actor: Actor | None) -> None:
    if instance.parent_id is not None:
        child_ended(instance, actor)
    # The parent waits no more: its running children end with it (their join row first, so their ends do
    # not message the terminated parent).
    db.session.execute(delete(ProcessJoin).where(ProcessJoin.parent_id == instance.id))
    for child_id in running_children(instance.id):
        operations.terminate(child_id, actor, reason)


def _on_switched(instance: ProcessInstance, before: str, actor: Actor | None, reason: str) -> None:
    """A suspended parent stops its children too (their timers, tasks, messages), as one instance did; a
    resumed one resumes those it suspended: those in the status it left."""
    switch = operations.suspend if instance.status == InstanceStatus.SUSPENDED else operations.resume
    children = db.session.execute(
        select(ProcessInstance.id)
        .where(ProcessInstance.parent_id == instance.id, ProcessInstance.status == before)
        .order_by(ProcessInstance.id)
    ).scalars()
    for child_id in list(children):
        switch(child_id, actor, reason)


def running_children(parent_id: int) -> list[int]:
    return list(
        db.session.execute(
            select(ProcessInstance.id)
            .where(
                ProcessInstance.parent_id == parent_id,
                ProcessInstance.status.in_(
                    (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.SUSPENDED)
                ),
            )
            .order_by(ProcessInstance.id)
        ).scalars()
    )


def merged_elements(parent_id: int) -> tuple[set[str], set[str]]:
    """(active, completed) element ids over the children of ``parent_id``: an element is active while any
    child is in it."""
    active: set[str] = set()
    done: set[str] = set()
    for (elements,) in db.session.execute(
        select(ProcessInstance.elements).where(
            ProcessInstance.parent_id == parent_id, ProcessInstance.elements.is_not(None)
        )
    ):
        active.update(elements.get("active", ()))
        done.update(elements.get("completed", ()))
    return active, done - active


instances.on_step(_on_step)
operations.on_terminated(_on_terminated)
operations.on_switched(_on_switched)
