"""Engine-level repairs of one workflow: what an operator's retry, skip, move and variable edit do to
SpiffWorkflow's task tree. No database here (``operations`` persists the result).

``RepairableEngine`` is an ``EngineInstance`` (restored the same way, persisted with ``dump``) with the
few extra moves an operator may make; the normal step path never uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.util.task import TaskState

from app.workflow.engine import EngineInstance, LoadedSpec

# Where a token stands: the states of a task the workflow is at (ERROR: failed there, see incidents).
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


class RepairRefused(ValueError):
    """The repair cannot be made on this state; ``field`` names the operator's input that is wrong."""

    def __init__(self, message: str, field: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class ActiveElement:
    element_id: str
    name: str
    state: str  # READY | WAITING | STARTED | ERROR


class RepairableEngine(EngineInstance):
    """An ``EngineInstance`` an operator may repair (create with ``RepairableEngine.restore``)."""

    @classmethod
    def restore(cls, loaded: LoadedSpec, state: str) -> RepairableEngine:
        return cls(EngineInstance.restore(loaded, state)._workflow)

    def _active_tasks(self) -> list[Any]:
        # The top workflow's iterator descends into sub-processes itself.
        return [
            task
            for task in self._workflow.get_tasks(state=_ACTIVE)
            if getattr(task.task_spec, "bpmn_id", None) is not None
        ]

    def active_elements(self) -> list[ActiveElement]:
        """The elements the workflow stands at (sub-processes included), in tree order."""
        return [
            ActiveElement(
                task.task_spec.bpmn_id,
                task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                TaskState.get_name(task.state),
            )
            for task in self._active_tasks()
        ]

    def completed_element_ids(self) -> list[str]:
        """The elements completed so far, in the order of the task tree (a loop's element repeats)."""
        return [
            task.task_spec.bpmn_id
            for task in self._workflow.get_tasks(state=TaskState.COMPLETED)
            if getattr(task.task_spec, "bpmn_id", None) is not None
        ]

    def failed_element_ids(self) -> list[str]:
        return [t.task_spec.bpmn_id for t in self._active_tasks() if t.state == TaskState.ERROR]

    # -- variables -----------------------------------------------------------------------------------

    def variables(self) -> dict[str, Any]:
        """What the next step reads: the data of the tasks the workflow stands at (once it has ended, the
        data of the task that completed last), over the workflow's own data. Engine-internal keys (leading
        ``_``) are left out."""
        tasks = self._active_tasks() or self._last_finished()
        merged: dict[str, Any] = {}
        for data in [self._workflow.data, *(t.data for t in tasks)]:
            merged.update({k: v for k, v in data.items() if isinstance(k, str) and not k.startswith("_")})
        return merged

    def _last_finished(self) -> list[Any]:
        """The task that completed last (an ended workflow's variables are its data)."""
        finished = [
            task
            for task in self._workflow.get_tasks(state=TaskState.COMPLETED)
            if getattr(task.task_spec, "bpmn_id", None) is not None
        ]
        return [max(finished, key=lambda task: task.last_state_change)] if finished else []

    def set_variable(self, name: str, value: Any) -> None:
        """Set ``name`` in the data of every task the workflow stands at, so the next step reads it."""
        tasks = self._active_tasks()
        if not tasks:
            raise RepairRefused("流程实例没有可修改变量的活动节点", "name")
        self._reusable = False
        for task in tasks:
            task.data[name] = value

    # -- retry and skip ------------------------------------------------------------------------------

    def skip(self, element_id: str) -> None:
        """Complete the task at ``element_id`` (failed, or waiting to run) without running it: its script,
        service call or timer is not executed; the workflow goes on along its one outgoing flow."""
        tasks = [
            t
            for t in self._active_tasks()
            if t.task_spec.bpmn_id == element_id and t.state in (TaskState.ERROR, TaskState.READY)
        ]
        if not tasks:
            raise RepairRefused(f"元素 '{element_id}' 没有失败或待执行的任务，无法跳过", "element_id")
        for task in tasks:
            if len(task.task_spec.outputs) > 1:
                raise RepairRefused(
                    f"元素 '{element_id}' 有多条出口（网关），跳过无法决定走向：请改用移动令牌", "element_id"
                )
        self._reusable = False
        for task in tasks:
            task.complete()

    # -- moving the token ----------------------------------------------------------------------------

    def move(self, from_element_id: str, to_element_id: str) -> None:
        """Cancel the tasks at ``from_element_id`` and start a new task before ``to_element_id`` (in the
        same process or sub-process), carrying the cancelled task's data. Backward (rework) and forward."""
        sources = [t for t in self._active_tasks() if t.task_spec.bpmn_id == from_element_id]
        if not sources:
            raise RepairRefused(f"流程实例当前不在元素 '{from_element_id}'", "from_element_id")
        for source in sources:
            target = _spec_named(source.workflow.spec, to_element_id)
            if target is None:
                raise RepairRefused(
                    f"元素 '{to_element_id}' 不在 '{from_element_id}' 所在的流程（或子流程）中",
                    "to_element_id",
                )
            if source.id in self._workflow.subprocesses:
                raise RepairRefused(
                    f"元素 '{from_element_id}' 是正在运行的子流程：请移动子流程内的令牌", "from_element_id"
                )
        self._reusable = False
        for source in sources:
            target = _spec_named(source.workflow.spec, to_element_id)
            _cancel_with_boundary_events(source)
            # The new task hangs under the cancelled one (the tree keeps the history: cancelled here,
            # started there); it inherits the cancelled task's data and becomes ready when the run starts.
            started = source._add_child(target, TaskState.FUTURE)
            started.data = dict(source.data)
            target._update(started)

    def cancel_all(self) -> None:
        """End the workflow without completing it: every unfinished task cancelled (terminate)."""
        self._reusable = False
        self._workflow.cancel()


def _spec_named(workflow_spec: Any, element_id: str) -> Any:
    for spec in workflow_spec.task_specs.values():
        if getattr(spec, "bpmn_id", None) == element_id:
            return spec
    return None


def _cancel_with_boundary_events(task: Any) -> None:
    """Cancel ``task``; an activity's boundary events (its timers, say) go with it, as BPMN has it."""
    if isinstance(task.parent.task_spec, BoundaryEventSplit):
        for sibling in task.parent.children:
            if sibling is not task and not sibling.has_state(TaskState.FINISHED_MASK):
                sibling.cancel()
    if task.state == TaskState.ERROR:  # SpiffWorkflow counts ERROR as finished, which cancel() leaves as is
        task._set_state(TaskState.READY)
    task.cancel()
