"""Moving one running workflow to another version of its process, on SpiffWorkflow's diff support
(``SpiffWorkflow.bpmn.util.diff``). No database here: ``app.workflow.migration`` locks, stores and audits.

SpiffWorkflow aligns the old version's elements with the new one's by BPMN id (and by position when an id
changed). A workflow can move when every element it has been at or waits at still exists in the new version
as the same kind of element; what lies ahead of it (predicted tasks) is rebuilt from the new version as the
workflow goes on. What the checks refuse, ``Obstacle`` says, naming the element:

- ``active_removed``: the workflow waits at (or failed at) an element the new version no longer has;
- ``active_changed_kind``: it waits at an element that became another kind (a user task made a script);
- ``history_removed``: an element it has completed was removed (its stored state names it, and restoring it
  on the new version would fail). A task of a removed element that was cancelled without running (the
  withdrawal event of a triage that was done) is history of nothing: it is dropped instead;
- ``subprocess_removed``: a sub-process it has entered no longer exists;
- ``structure_changed``: SpiffWorkflow's own joints around an element it has passed are gone (its last
  boundary event was removed, say): named after that element, which may still exist.

Moving keeps task ids: a ready task stays the same task (so its human task row stays), only its
prediction is rebuilt; waiting timers keep their due time unless the new version changed their expression,
in which case it is computed again from the new expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from app.workflow.engine import _SPEC_REGISTRY, EngineInstance, LoadedSpec

ACTIVE_REMOVED = "active_removed"
ACTIVE_CHANGED_KIND = "active_changed_kind"
HISTORY_REMOVED = "history_removed"
SUBPROCESS_REMOVED = "subprocess_removed"
STRUCTURE_CHANGED = "structure_changed"

_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_HISTORY = TaskState.COMPLETED


@dataclass(frozen=True)
class Obstacle:
    """Why a workflow cannot move: ``code`` (above) at ``element_id``."""

    code: str
    element_id: str
    element_name: str | None = None


@dataclass
class MoveCheck:
    """What moving one workflow would do: its obstacles (none: it can move), the elements it waits at, and
    those of them the new version changed (with the changed attributes)."""

    obstacles: list[Obstacle] = field(default_factory=list)
    active_element_ids: list[str] = field(default_factory=list)
    changed_active: dict[str, list[str]] = field(default_factory=dict)
    # cancelled tasks of removed elements, dropped by the move
    dropped: list[Any] = field(default_factory=list, repr=False)

    @property
    def movable(self) -> bool:
        return not self.obstacles


class VersionDiff:
    """The alignment of two deployed versions, computed once and used for every instance moving between
    them (comparing specs serializes every element: the costly part of a diff)."""

    def __init__(self, source: LoadedSpec, target: LoadedSpec) -> None:
        self.target = target
        self.top = SpecDiff(_SPEC_REGISTRY, source.spec, target.spec)
        self.subprocesses: dict[str, SpecDiff | None] = {
            name: SpecDiff(_SPEC_REGISTRY, spec, target.subprocess_specs[name])
            if name in target.subprocess_specs
            else None
            for name, spec in source.subprocess_specs.items()
        }


def _workflow(engine: EngineInstance) -> Any:
    return engine._workflow  # the adapter's own package: the one place besides engine.py that needs it


def _element(task: Any) -> tuple[str, str | None]:
    spec = task.task_spec
    return getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None)


def _workflow_diffs(workflow: Any, diff: VersionDiff) -> list[tuple[Any, WorkflowDiff | None, Any]]:
    """(workflow or sub-process, its diff or None when its spec is gone, the spec it moves to)."""
    pairs: list[tuple[Any, WorkflowDiff | None, Any]] = [
        (workflow, WorkflowDiff(workflow, diff.top), diff.target.spec)
    ]
    bound_definition_of = getattr(workflow, "bound_definition_of", None)
    for sub in workflow.subprocesses.values():
        if bound_definition_of is not None and bound_definition_of(sub) is not None:
            continue  # a callee bound at its call's start keeps its own version (call_binding)
        spec_diff = diff.subprocesses.get(sub.spec.name)
        target = diff.target.subprocess_specs.get(sub.spec.name)
        pairs.append((sub, WorkflowDiff(sub, spec_diff) if spec_diff is not None else None, target))
    return pairs


def check(engine: EngineInstance, diff: VersionDiff) -> MoveCheck:
    """Whether ``engine``'s workflow can move to ``diff.target``, and why not."""
    return _inspect(_workflow(engine), diff)[0]


def _inspect(
    workflow: Any, diff: VersionDiff
) -> tuple[MoveCheck, list[tuple[Any, WorkflowDiff | None, Any]]]:
    """``check``'s answer, and the per-(sub)workflow diffs it was made from (``move`` applies them)."""
    result = MoveCheck()
    active: set[str] = set()
    pairs = _workflow_diffs(workflow, diff)
    for wf, wf_diff, _target in pairs:
        tasks = wf.get_tasks(skip_subprocesses=True)
        active.update(_element(t)[0] for t in tasks if t.has_state(_ACTIVE))
        if wf_diff is None:
            parent = workflow.get_task_from_id(wf.parent_task_id)
            element_id, name = _element(parent) if parent is not None else (wf.spec.name, None)
            result.obstacles.append(Obstacle(SUBPROCESS_REMOVED, element_id, name))
            continue
        for task in wf_diff.removed:
            if getattr(task.task_spec, "bpmn_id", None) is None and task.has_state(_ACTIVE | _HISTORY):
                result.obstacles.append(_joint(wf, task))
            elif task.has_state(_ACTIVE):
                result.obstacles.append(Obstacle(ACTIVE_REMOVED, *_element(task)))
            elif task.has_state(_HISTORY):
                result.obstacles.append(Obstacle(HISTORY_REMOVED, *_element(task)))
            elif task.has_state(TaskState.CANCELLED):
                result.dropped.append(task)
        for task in wf_diff.changed:
            if not task.has_state(_ACTIVE):
                continue
            changes = _changes(diff, wf, task)
            if "typename" in changes:
                result.obstacles.append(Obstacle(ACTIVE_CHANGED_KIND, *_element(task)))
            else:
                result.changed_active[_element(task)[0]] = changes
    result.obstacles = _unique(result.obstacles)
    result.active_element_ids = sorted(active)
    return result, pairs


def _joint(wf: Any, task: Any) -> Obstacle:
    """An obstacle at SpiffWorkflow's own task spec ("triage.BoundaryEventSplit"), named after its element."""
    owner_id = task.task_spec.name.split(".")[0]
    owner = wf.spec.task_specs.get(owner_id)
    return Obstacle(STRUCTURE_CHANGED, owner_id, getattr(owner, "bpmn_name", None))


def _changes(diff: VersionDiff, wf: Any, task: Any) -> list[str]:
    """The attributes of ``task``'s element the new version changed (``typename`` when its kind changed)."""
    spec_diff = diff.top if wf.parent_task_id is None else diff.subprocesses.get(wf.spec.name)
    return list(spec_diff.changed.get(task.task_spec, [])) if spec_diff is not None else []


def _unique(obstacles: list[Obstacle]) -> list[Obstacle]:
    """One obstacle per code and element (a loop leaves several tasks of one element), in order."""
    seen: dict[tuple[str, str], Obstacle] = {}
    for obstacle in obstacles:
        seen.setdefault((obstacle.code, obstacle.element_id), obstacle)
    return list(seen.values())


class CannotMove(ValueError):
    def __init__(self, checked: MoveCheck) -> None:
        self.checked = checked
        super().__init__(", ".join(f"{o.code} at '{o.element_id}'" for o in checked.obstacles))


def move(engine: EngineInstance, diff: VersionDiff) -> MoveCheck:
    """Move ``engine``'s workflow to ``diff.target`` in place (``CannotMove`` when ``check`` refuses).

    Ready tasks are reset to be predicted again from the new version (same task objects, same ids); waiting
    tasks (timers, messages, a sub-process under way) and a task in error keep their state with the new
    element behind them, so a retry runs the new version's element.
    """
    workflow = _workflow(engine)
    checked, pairs = _inspect(workflow, diff)
    if not checked.movable:
        raise CannotMove(checked)
    timers = _waiting_timer_expressions(workflow)
    for wf, wf_diff, target in pairs:
        migrate_workflow(wf_diff, wf, target, reset_mask=TaskState.READY)
        for task in checked.dropped:
            if task.workflow is wf and task.id in wf.tasks:  # a dropped ancestor may have taken it
                wf._remove_task(task.id)
        _drop_stale_predictions(wf)
    workflow.subprocess_specs = diff.target.subprocess_specs
    for call_task_id, definition_id in getattr(workflow, "bound_calls", {}).items():
        workflow.bind(call_task_id, definition_id)  # what those callees call stays known, as on a restore
    _recompute_changed_timers(workflow, timers)
    return checked


def _waiting_timer_expressions(workflow: Any) -> dict[Any, str]:
    """task id -> timer expression of every waiting timer, before the move."""
    return {
        task.id: definition.expression
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(definition := getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
    }


def _recompute_changed_timers(workflow: Any, before: dict[Any, str]) -> None:
    """A waiting timer whose expression the new version changed: its due time from the new expression."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition) or before.get(task.id) == definition.expression:
            continue
        task.internal_data.pop("event_value", None)
        task.internal_data.pop("event_fired", None)
        if hasattr(definition, "cycle_complete"):
            definition.cycle_complete(task)
        else:
            definition.has_fired(task)  # stores the new due time (and whether it has passed already)


def _drop_stale_predictions(wf: Any) -> None:
    """Predicted tasks of elements the new version removed: their branch is dropped (the parent predicts
    its new outputs when it completes). Left in, the stored state would name elements that do not exist."""
    specs = wf.spec.task_specs
    stale = [
        task
        for task in wf.get_tasks(state=TaskState.PREDICTED_MASK, skip_subprocesses=True)
        if specs.get(task.task_spec.name) is not task.task_spec
    ]
    for task in stale:
        if task.id in wf.tasks:  # an ancestor's removal may have taken it already
            wf._remove_task(task.id)
