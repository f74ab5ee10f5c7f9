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
from app.jobs import ENGINE_QUEUE, enqueue
from app.workflow import instances, operations, rows
from app.workflow.deploy import latest_definition
from app.workflow.engine import EngineInstance
from app.workflow.models import InstanceStatus, ProcessDefinition, ProcessInstance, ProcessJoin


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
        "is_test": parent.is_test,  # a test run's children are test instances too (no scheduler, no inbox)
        "status": InstanceStatus.RUNNING,
        "state": "",
        "started_at": timestamp,
        "updated_at": timestamp,
    }
    children: list[ProcessInstance] = rows.insert(
        ProcessInstance,
        [{**base, "business_key": parent.business_key} for _ in variables],
        unset=("next_timer_at", "error", "completed_at", "elements", "decision_bindings"),
    )
    # Recorded first, all at once: each child's own events (its operators', its tasks') follow its start.
    for child in children:
        record_child_started(child, definition, parent, actor)
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


def record_child_started(
    child: ProcessInstance,
    definition: ProcessDefinition,
    parent: ProcessInstance,
    actor: Actor | None,
    **more: Any,
) -> None:
    """Audit ``instance.started`` of a child of ``parent`` (a spawn's, or one converted by ``relayout``)."""
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
            **more,
        },
    )


def child_ended(child: ProcessInstance, actor: Actor | None) -> None:
    """``child`` has completed or was terminated: one less for its parent to wait for; the last one sends
    the join's message to the parent (in this transaction) when it can, else leaves it queued.

    The child's lock is held here, and an operator suspending or terminating the parent holds the parent's
    and waits for the children's: so the parent is only taken when free (``SKIP LOCKED``), never waited
    for (that wait was the deadlock). Queued (the join row stays, ``pending`` 0): the parent is busy (a job
    delivers once it is free), or parked (suspended, or with an incident: a 409 used to undo the child's
    step; it is delivered when the parent is resumed or repaired, ``deliver_queued``)."""
    if child.parent_id is None:
        return
    found = db.session.execute(
        update(ProcessJoin)
        .where(ProcessJoin.parent_id == child.parent_id, ProcessJoin.pending > 0)
        .values(pending=ProcessJoin.pending - 1)
        .returning(ProcessJoin.id, ProcessJoin.pending)
    ).first()
    if found is None:  # ended while being spawned, or the parent no longer waits (terminated)
        return
    join_id, pending = found
    if pending > 0:
        return
    parent = _parent_if_free(child.parent_id)
    if parent is None:
        enqueue(ENGINE_QUEUE, deliver_queued_job, child.parent_id, instance_id=child.parent_id)
        _audit_queued(child, join_id, "busy", actor)
    elif parent.status != InstanceStatus.RUNNING:
        _audit_queued(child, join_id, parent.status, actor)
    else:
        _deliver(parent.id, join_id, actor)


def _parent_if_free(parent_id: int) -> ProcessInstance | None:
    """The parent, locked, unless another transaction holds it (None: do not wait, see ``child_ended``)."""
    return db.session.execute(
        select(ProcessInstance)
        .where(ProcessInstance.id == parent_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _deliver(parent_id: int, join_id: int, actor: Actor | None) -> None:
    message = db.session.execute(
        delete(ProcessJoin).where(ProcessJoin.id == join_id).returning(ProcessJoin.message)
    ).scalar_one()
    instances.correlate_message(message, {"children": "done"}, instance_id=parent_id, actor=actor)


def _audit_queued(child: ProcessInstance, join_id: int, why: str, actor: Actor | None) -> None:
    # Recorded on the child: a row naming the parent would wait for the parent's lock (its foreign key).
    record(
        "instance.children_done_queued",
        entity_type="process_instance",
        entity_id=child.id,
        actor=actor,
        case_id=child.case_id,
        instance_id=child.id,
        data={"join_id": join_id, "parent_id": child.parent_id, "parent": why},
    )


def deliver_queued(parent_id: int, actor: Actor | None) -> bool:
    """Deliver the queued join message of ``parent_id`` (its children all ended while it was busy or
    parked) if it runs now; waits for the parent's lock (call it holding no child's). Whether delivered."""
    parent = instances.lock_instance(parent_id)
    if parent.status != InstanceStatus.RUNNING:
        return False
    join_id = db.session.execute(
        select(ProcessJoin.id).where(ProcessJoin.parent_id == parent_id, ProcessJoin.pending == 0)
    ).scalar_one_or_none()
    if join_id is None:
        return False
    _deliver(parent_id, join_id, actor)
    return True


def deliver_queued_job(parent_id: int) -> bool:
    """Job: ``deliver_queued`` in its own transaction, once the transaction that queued it has committed."""
    delivered = deliver_queued(parent_id, None)
    db.session.commit()
    return delivered


def deliver_all_queued() -> int:
    """The scheduler round's safety net: queued joins of running parents (a job lost, a repair path that
    did not deliver), each delivered in its own transaction."""
    parent_ids = list(
        db.session.execute(
            select(ProcessJoin.parent_id)
            .join(ProcessInstance, ProcessInstance.id == ProcessJoin.parent_id)
            .where(ProcessJoin.pending == 0, ProcessInstance.status == InstanceStatus.RUNNING)
            .order_by(ProcessJoin.parent_id)
            .limit(1000)
        ).scalars()
    )
    delivered = 0
    for parent_id in parent_ids:
        delivered += deliver_queued(parent_id, None)
        db.session.commit()
    return delivered


def _on_step(outcome: instances.StepOutcome) -> None:
    if outcome.completed and outcome.instance.parent_id is not None:
        child_ended(outcome.instance, outcome.actor)


def _on_terminated(instance: ProcessInstance, reason: str, actor: Actor | None) -> None:
    if instance.parent_id is not None:
        child_ended(instance, actor)
    # The parent waits no more: its running children end with it. Lock order parent, children, join row
    # (a child's last step takes child, join row, never waits for the parent): their locks first, then the
    # join row goes, so their ends do not message the terminated parent.
    child_ids = _lock_children(instance.id, _UNFINISHED)
    db.session.execute(delete(ProcessJoin).where(ProcessJoin.parent_id == instance.id))
    for child_id in child_ids:
        operations.terminate(child_id, actor, reason)


def _on_switched(instance: ProcessInstance, before: str, actor: Actor | None, reason: str) -> None:
    """A suspended parent stops its children too (their timers, tasks, messages), as one instance did; a
    resumed one resumes those it suspended (those in the status it left), then takes the message its
    children left queued while it was suspended."""
    switch = operations.suspend if instance.status == InstanceStatus.SUSPENDED else operations.resume
    for child_id in _lock_children(instance.id, (before,)):
        switch(child_id, actor, reason)
    if instance.status == InstanceStatus.RUNNING:
        deliver_queued(instance.id, actor)


def _on_repaired(instance: ProcessInstance, actor: Actor | None) -> None:
    """An operator's retry, skip or token move may have put a parked parent back to running."""
    if instance.parent_id is None and instance.status == InstanceStatus.RUNNING:
        deliver_queued(instance.id, actor)


_UNFINISHED = (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.SUSPENDED)


def _lock_children(parent_id: int, statuses: tuple[str, ...]) -> list[int]:
    """Lock the children of ``parent_id`` (whose lock the caller holds) in id order, waiting for any in a
    step; those in ``statuses`` once their step is over (one may have ended meanwhile)."""
    return list(
        db.session.execute(
            select(ProcessInstance.id)
            .where(ProcessInstance.parent_id == parent_id, ProcessInstance.status.in_(statuses))
            .order_by(ProcessInstance.id)
            .with_for_update()
        ).scalars()
    )


def running_children(parent_id: int) -> list[int]:
    return list(
        db.session.execute(
            select(ProcessInstance.id)
            .where(
                ProcessInstance.parent_id == parent_id,
                ProcessInstance.status.in_(_UNFINISHED),
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
operations.on_repaired(_on_repaired)
