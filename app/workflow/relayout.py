"""Converting instances started before the child layout (``children``) into it: the Alembic migration
``*_children`` runs ``convert_all``.

Before, an emergency's responders (a campaign's places) ran as the branches of one multi-instance activity
inside the instance's own state. The new version of the same file has, at that element, a sub-process that
starts one child instance per responder and waits for the join's message; the child process has the same
elements as a branch. An instance standing at that activity is converted in place:

- each unfinished branch becomes a child instance whose state *is* the branch's (its tasks, ids, data,
  waiting timers and nested sub-processes moved over as they are, the variables a new child gets added):
  the same task waits with the same due time; the human tasks of the branch are re-pointed to the child;
- finished branches are the join's ``total`` minus its ``pending``: their results are in their rows
  (``EmergencyResponder``, ``CampaignItem``), where the new layout keeps them too;
- the parent moves to the new version with the activity restarted as the new sub-process, whose starting
  service task is completed with what it would have returned (not run: the children exist already), so it
  waits for the join's message. Its other branches (the command's control, the campaign's deadline) stay.

Instances that have not reached the activity move to the new version by the ordinary migration
(``migration.migrate_instance``) when they can; those past it have nothing to split and keep their version.
A branch parked with an incident cannot be converted (its incident belongs to the parent's state): such
instances are reported, and ``convert_all`` refuses to convert anything while one is left (repair or
terminate them, or name them in ``keep`` to leave them on their version). Everything in the caller's
transaction, audited (``instance.relayout`` on the parent, ``instance.started`` on each child).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from app.audit.services import Actor, record
from app.clock import now
from app.errors import NotFound
from app.extensions import db
from app.workflow import instances, migration, operators, rows
from app.workflow.children import record_child_started
from app.workflow.deploy import latest_definition
from app.workflow.engine import EngineInstance
from app.workflow.models import (
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    ProcessJoin,
    TaskStatus,
)

UNFINISHED = (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.SUSPENDED)


@dataclass(frozen=True)
class Layout:
    """How one process moved its parallel part into child instances (registered by its domain package)."""

    process_key: str
    element_id: str  # the multi-instance activity before; the sub-process starting the children now
    child_key: str  # the child process (a second pool of the same file)
    spawn_element: str  # the service task that starts the children, in that sub-process
    result_variable: str  # where that task puts {"started": n, "running": m}
    message: str  # the join's message the sub-process waits for
    # A branch task's data → the variables a child started by the new layout has and the branch may lack
    # (besides the instance and parent ids).
    child_variables: Callable[[dict[str, Any]], dict[str, Any]]
    dropped: tuple[str, ...] = ()  # the parent's collections a child need not carry


_LAYOUTS: dict[str, Layout] = {}


def register(layout: Layout) -> Layout:
    _LAYOUTS[layout.process_key] = layout
    return layout


def layouts() -> list[Layout]:
    return list(_LAYOUTS.values())


class CannotConvert(RuntimeError):
    """Some instances cannot be converted safely: nothing was converted. ``blocked``: (id, reason)."""

    def __init__(self, blocked: list[tuple[int, str]]) -> None:
        self.blocked = blocked
        listed = "\n".join(f"  - process instance {i}: {reason}" for i, reason in blocked)
        super().__init__(
            f"{len(blocked)} running instance(s) cannot be converted to child instances; nothing was "
            f"converted:\n{listed}\nRepair (retry the incident) or terminate them, or leave them on their "
            "version with GRIDCASE_KEEP_OLD_LAYOUT=<id>,<id>, then run `flask db upgrade` again "
            "(`flask instances children-layout` lists them)."
        )


@dataclass
class Plan:
    """What converting one instance would do."""

    instance_id: int
    process_key: str
    action: str  # "convert" | "migrate" | "keep" | "blocked"
    reason: str = ""
    branches: int = 0
    unfinished: int = 0


@dataclass
class Report:
    converted: list[int] = field(default_factory=list)
    migrated: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    children: int = 0


# -- the stored state ------------------------------------------------------------------------------------

_COMPLETED, _ERROR, _FUTURE = int(TaskState.COMPLETED), int(TaskState.ERROR), int(TaskState.FUTURE)
_DONE = int(TaskState.COMPLETED | TaskState.CANCELLED)


@dataclass
class _Branch:
    task_id: str
    state: dict[str, Any]  # its sub-workflow as stored
    nested: dict[str, dict[str, Any]]  # sub-processes it entered (by task id), as stored
    finished: bool


def _multi_instance(state: dict[str, Any], layout: Layout) -> dict[str, Any] | None:
    """The activity's task while it runs its branches (started, not finished), or None."""
    for task in state["tasks"].values():
        if (
            task["task_spec"] == layout.element_id
            and not task["state"] & _DONE
            and any(state["tasks"][c]["task_spec"] == _branch_spec(layout) for c in task["children"])
        ):
            return dict(task)
    return None


def _branch_spec(layout: Layout) -> str:
    return f"{layout.element_id} [child]"  # SpiffWorkflow's name for a multi-instance activity's branch


def _nested(task_ids: Iterable[str], subprocesses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    todo = [t for t in task_ids if t in subprocesses]
    while todo:
        key = todo.pop()
        found[key] = subprocesses[key]
        todo.extend(t for t in subprocesses[key]["tasks"] if t in subprocesses and t not in found)
    return found


def _branches(state: dict[str, Any], mi_task: dict[str, Any], layout: Layout) -> list[_Branch]:
    branches = []
    for child_id in mi_task["children"]:
        task = state["tasks"][child_id]
        if task["task_spec"] != _branch_spec(layout):
            continue
        sub = state["subprocesses"].get(child_id)
        finished = bool(task["state"] & _DONE)
        if sub is None and not finished:
            raise ValueError(f"branch {child_id} has no stored sub-workflow")
        nested = _nested(sub["tasks"], state["subprocesses"]) if sub is not None else {}
        branches.append(_Branch(child_id, sub or {}, nested, finished))
    return branches


def _failed_in(branch: _Branch) -> bool:
    workflows = [branch.state, *branch.nested.values()]
    return any(task["state"] == _ERROR for wf in workflows for task in wf.get("tasks", {}).values())


# -- planning --------------------------------------------------------------------------------------------


def plan_all(keep: Iterable[int] = ()) -> list[Plan]:
    """What ``convert_all`` would do with every unfinished top-level instance of a registered process."""
    kept = set(keep)
    plans = []
    for layout in layouts():
        target = _target(layout, deploy_missing=False)
        for instance in _candidates(layout, target):
            plans.append(_plan(instance, layout, target, kept))
    return plans


def _candidates(layout: Layout, target: ProcessDefinition | None) -> list[ProcessInstance]:
    query = (
        select(ProcessInstance)
        .where(
            ProcessInstance.process_key == layout.process_key,
            ProcessInstance.parent_id.is_(None),
            ProcessInstance.status.in_(UNFINISHED),
        )
        .order_by(ProcessInstance.id)
    )
    if target is not None:
        query = query.where(ProcessInstance.definition_id != target.id)
    return list(db.session.execute(query.options(instances._WITH_STATE)).scalars())


def _plan(
    instance: ProcessInstance, layout: Layout, target: ProcessDefinition | None, kept: set[int]
) -> Plan:
    plan = Plan(instance.id, layout.process_key, "keep")
    if not _is_old_layout(instance.definition_id, layout):
        plan.reason = "already on a version with child instances"
        return plan
    if instance.id in kept:
        plan.reason = "kept on its version (GRIDCASE_KEEP_OLD_LAYOUT)"
        return plan
    state = json.loads(instance.state)
    mi_task = _multi_instance(state, layout)
    if mi_task is None:
        if any(
            t["task_spec"] == layout.element_id and t["state"] == _COMPLETED for t in state["tasks"].values()
        ):
            plan.reason = f"past '{layout.element_id}': nothing to split"
            return plan
        plan.action, plan.reason = "migrate", f"before '{layout.element_id}': moved to the new version"
        return plan
    try:
        branches = _branches(state, mi_task, layout)
    except ValueError as exc:  # a state this code does not know how to read: never guessed at
        plan.action, plan.reason = "blocked", str(exc)
        return plan
    plan.branches, plan.unfinished = len(branches), sum(not b.finished for b in branches)
    failed = [b.task_id for b in branches if not b.finished and _failed_in(b)]
    if failed:
        plan.action = "blocked"
        plan.reason = f"{len(failed)} branch(es) of '{layout.element_id}' parked with an incident"
    elif target is not None and layout.child_key not in _pools(target):
        plan.action, plan.reason = "blocked", f"version {target.version} has no process '{layout.child_key}'"
    else:
        plan.action = "convert"
    return plan


def _is_old_layout(definition_id: int, layout: Layout) -> bool:
    spec = instances.loaded_spec(definition_id).spec
    return _branch_spec(layout) in spec.task_specs


def _pools(definition: ProcessDefinition) -> set[str]:
    """The processes deployed from the same file version as ``definition``."""
    return set(
        db.session.execute(
            select(ProcessDefinition.key).where(
                ProcessDefinition.file_name == definition.file_name,
                ProcessDefinition.content_hash == definition.content_hash,
            )
        ).scalars()
    )


def _target(layout: Layout, *, deploy_missing: bool) -> ProcessDefinition | None:
    """The version new instances start on, when it has the child layout; else (the migration runs before
    the diagrams are deployed) the shipped file is deployed first when ``deploy_missing``."""
    try:
        definition: ProcessDefinition | None = latest_definition(layout.process_key)
    except NotFound:
        definition = None
    if definition is not None and not _is_old_layout(definition.id, layout):
        return definition
    if not deploy_missing:
        return None
    from flask import current_app

    from app.workflow import deploy

    settings = current_app.extensions["gridcase.settings"]
    rules = current_app.extensions["gridcase.deploy_rules"]()
    path = settings.bpmn_folder / f"{layout.process_key}.bpmn"
    deploy.deploy_file(path.name, path.read_bytes(), rules)
    definition = latest_definition(layout.process_key)
    if _is_old_layout(definition.id, layout):
        raise RuntimeError(f"{path} does not have the child layout of '{layout.process_key}'")
    return definition


# -- converting ------------------------------------------------------------------------------------------


def convert_all(keep: Iterable[int] = (), actor: Actor | None = None) -> Report:
    """Convert every instance ``plan_all`` says can be, in the caller's transaction; nothing at all when one
    is blocked (``CannotConvert`` lists them)."""
    plans = plan_all(keep)
    blocked = [(p.instance_id, p.reason) for p in plans if p.action == "blocked"]
    if blocked:
        raise CannotConvert(blocked)
    report = Report()
    for plan in plans:
        if plan.action == "keep":
            report.kept.append(plan.instance_id)
            continue
        layout = _LAYOUTS[plan.process_key]
        target = _target(layout, deploy_missing=True)
        assert target is not None
        if plan.action == "migrate":
            result = migration.migrate_instance(plan.instance_id, target, actor)
            (report.migrated if result.ok else report.kept).append(plan.instance_id)
            continue
        report.children += convert(plan.instance_id, layout, target, actor)
        report.converted.append(plan.instance_id)
    return report


def convert(instance_id: int, layout: Layout, target: ProcessDefinition, actor: Actor | None) -> int:
    """Convert one instance standing at the multi-instance activity; returns how many children it got."""
    parent = instances.lock_instance(instance_id)
    from_definition_id = parent.definition_id
    state = json.loads(parent.state)
    mi_task = _multi_instance(state, layout)
    if mi_task is None:
        raise ValueError(f"process instance {instance_id} is not at '{layout.element_id}'")
    branches = _branches(state, mi_task, layout)
    open_branches = [b for b in branches if not b.finished]
    child_definition = latest_definition(layout.child_key)

    # The parent first (its engine proves the new state runs), then the children.
    engine = _parent_engine(parent, state, mi_task, branches, layout, target, len(open_branches))
    children = _insert_children(parent, child_definition, len(open_branches))
    for child, branch in zip(children, open_branches, strict=True):
        _adopt(child, branch, parent, layout, child_definition, actor, state)
    if open_branches:
        rows.insert(
            ProcessJoin,
            [
                {
                    "parent_id": parent.id,
                    "message": layout.message,
                    "total": len(branches),
                    "pending": len(open_branches),
                    "created_at": now(),
                }
            ],
        )
    rows.update([parent], {"definition_id": target.id})
    instances.persist_replaced_state(parent, engine, actor)
    migration.relabel_open_tasks(_open_rows(parent.id), engine, target.id)
    record(
        "instance.relayout",
        entity_type="process_instance",
        entity_id=parent.id,
        actor=actor,
        case_id=parent.case_id,
        instance_id=parent.id,
        before={"definition_id": from_definition_id, "layout": "multi_instance"},
        after={"definition_id": target.id, "version": target.version, "layout": "child_instances"},
        data={
            "element_id": layout.element_id,
            "branches": len(branches),
            "finished": len(branches) - len(open_branches),
            "child_ids": [c.id for c in children],
        },
    )
    return len(children)


def _parent_engine(
    parent: ProcessInstance,
    state: dict[str, Any],
    mi_task: dict[str, Any],
    branches: list[_Branch],
    layout: Layout,
    target: ProcessDefinition,
    running: int,
) -> EngineInstance:
    """The parent's state on ``target``: the branches taken out, the activity entered anew as the
    sub-process, its spawning task completed with what it would have returned, run to the join's wait."""
    gone = {b.task_id for b in branches}
    for branch in branches:
        gone.update(branch.nested)
        gone.update(branch.state.get("tasks", {}))
    state["tasks"] = {k: v for k, v in state["tasks"].items() if k not in gone}
    state["subprocesses"] = {k: v for k, v in state["subprocesses"].items() if k not in gone}
    task = state["tasks"][mi_task["id"]]
    task["children"] = [c for c in task["children"] if c not in gone]
    task["state"], task["internal_data"] = _FUTURE, {}
    if state.get("last_task") in gone:
        state["last_task"] = mi_task["id"]
    engine = EngineInstance.restore(instances.loaded_spec(target.id), json.dumps(state))
    workflow = engine._workflow
    activity = workflow.get_task_from_id(UUID(mi_task["id"]))
    activity.task_spec._update(activity)  # enters the sub-process (SubWorkflowTask creates, starts it)
    sub = workflow.subprocesses.get(activity.id)
    if sub is None:
        raise ValueError(f"'{layout.element_id}' of version {target.version} is not a sub-process")
    spawn = _run_until(sub, layout.spawn_element)
    spawn.data[layout.result_variable] = {"started": len(branches), "running": running}
    spawn.complete()  # not run: its children are the branches
    with operators.running_instance(parent.id, None):
        engine.run()
    waiting = {t.task_spec.bpmn_id for t in sub.get_tasks(state=TaskState.WAITING)}
    if running and not waiting:
        raise ValueError(f"the new '{layout.element_id}' does not wait for '{layout.message}'")
    return engine


def _run_until(sub: Any, element_id: str) -> Any:
    """Run the sub-process's engine tasks (its start event) until ``element_id`` is ready."""
    for _ in range(20):
        ready = sub.get_tasks(state=TaskState.READY)
        found = next((t for t in ready if t.task_spec.bpmn_id == element_id), None)
        if found is not None:
            return found
        runnable = [t for t in ready if not t.task_spec.manual]
        if not runnable:
            break
        runnable[0].run()
    raise ValueError(f"'{element_id}' is not reached at the start of the new sub-process")


def _insert_children(
    parent: ProcessInstance, definition: ProcessDefinition, count: int
) -> list[ProcessInstance]:
    timestamp = now()
    status = InstanceStatus.SUSPENDED if parent.status == InstanceStatus.SUSPENDED else InstanceStatus.RUNNING
    base = {
        "definition_id": definition.id,
        "process_key": definition.key,
        "case_id": parent.case_id,
        "parent_id": parent.id,
        "business_key": parent.business_key,
        "status": status,
        "state": "",
        "started_at": timestamp,
        "updated_at": timestamp,
    }
    created: list[ProcessInstance] = rows.insert(
        ProcessInstance,
        [dict(base) for _ in range(count)],
        unset=("next_timer_at", "error", "completed_at", "elements"),
    )
    return created


def _adopt(
    child: ProcessInstance,
    branch: _Branch,
    parent: ProcessInstance,
    layout: Layout,
    definition: ProcessDefinition,
    actor: Actor | None,
    parent_state: dict[str, Any],
) -> None:
    """Make ``branch`` the state of ``child``: same tasks and timers; its human tasks re-pointed."""
    top = branch.state
    ids = {"instance_id": child.id, "parent_id": parent.id}
    for workflow in [top, *branch.nested.values()]:
        for task in workflow["tasks"].values():
            _child_data(task["data"], ids, layout)
        _child_data(workflow.get("data", {}), {}, layout)
    end_join = f"{layout.element_id}.EndJoin"
    for task in top["tasks"].values():
        if task["task_spec"] == end_join:
            task["task_spec"] = f"{layout.child_key}.EndJoin"
    state = {
        "data": top.get("data", {}),
        "correlations": top.get("correlations", {}),
        "last_task": top.get("last_task"),
        "success": top.get("success", True),
        "completed": False,
        "tasks": top["tasks"],
        "root": top["root"],
        "subprocesses": branch.nested,
        "bpmn_events": [],
        "typename": parent_state["typename"],
        "serializer_version": parent_state["serializer_version"],
    }
    engine = EngineInstance.restore(instances.loaded_spec(definition.id), json.dumps(state))
    task_ids = [str(t.id) for t in engine._workflow.get_tasks()]
    db.session.execute(
        update(HumanTask)
        .where(HumanTask.instance_id == parent.id, HumanTask.spiff_task_id.in_(task_ids))
        .values(instance_id=child.id)
        .execution_options(synchronize_session=False)
    )
    record_child_started(child, definition, parent, actor, converted_from_branch=branch.task_id)
    instances.persist_replaced_state(child, engine, actor)
    migration.relabel_open_tasks(_open_rows(child.id), engine, definition.id)


def _child_data(data: dict[str, Any], ids: dict[str, int], layout: Layout) -> None:
    """A branch task's data as a child's: its own ids, the variables a new child has, no parent's list."""
    for name in layout.dropped:
        data.pop(name, None)
    if ids and "instance_id" in data:  # the tasks holding the variables (the others inherit them)
        for name, value in layout.child_variables(data).items():
            data.setdefault(name, value)
        data.update(ids)


def _open_rows(instance_id: int) -> list[HumanTask]:
    return list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id, HumanTask.status.in_(TaskStatus.OPEN))
            .execution_options(populate_existing=True)
        ).scalars()
    )
