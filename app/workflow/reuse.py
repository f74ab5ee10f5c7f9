"""Make a live workflow object equal to what restoring its own dumped state gives, so it may be reused.

Restoring rebuilds a workflow from JSON. A live workflow that has just written state S differs from
``restore(S)`` in ways the next step could notice; ``serialize`` removes each of them, or says no:

- values JSON does not keep (tuples, sets, non-string keys, datetimes, ...): the state is parsed back and
  compared with the dict it was dumped from; any difference and the object is not reused;
- how data containers are shared: task data is inherited by shallow copies, so in memory a list inside a
  dict can be shared by tasks in a way a restore does not reproduce, and an in-place change would spread
  differently. Every task's data (and the workflow's) is rebuilt from the parsed state exactly as the
  converters rebuild it, so the sharing is the restore's;
- the order of the event manager's waiting tasks and of the sub-processes (it decides which of two timers or
  sub-processes goes first): rebuilt in the order a restore produces.

This follows SpiffWorkflow 3.2's converters (the version is pinned); the tests compare it with a restore.
"""

from __future__ import annotations

import json
from copy import copy
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def serialize(serializer: BpmnWorkflowSerializer, workflow: BpmnWorkflow) -> tuple[str, bool]:
    """``serializer.serialize_json(workflow)``, and whether ``workflow`` now equals a restore of it.

    The same steps as ``serialize_json``, keeping the intermediate dict for the comparison.
    """
    registry: Any = serializer.registry
    registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
        dct[serializer.VERSION_KEY] = serializer.VERSION
        state = json.dumps(dct, cls=serializer._encoder_cls)
    finally:
        registry._encoder_mode = False
    loaded = json.loads(state)
    if loaded != dct or loaded.get("bpmn_events") or not _restore_order(workflow):
        return state, False
    _adopt_data(registry, workflow, loaded)
    for task_id, sub in workflow.subprocesses.items():
        _adopt_data(registry, sub, loaded["subprocesses"][str(task_id)])
    return state, True


def _adopt_data(registry: Any, workflow: Any, dct: dict[str, Any]) -> None:
    """Give ``workflow``'s tasks the data a restore of ``dct`` builds (``TaskConverter.from_dict``)."""
    restored: dict[Any, Any] = {}  # a task sees its parent only if the parent was restored before it
    tasks = dct["tasks"]
    for task_id, task in workflow.tasks.items():
        saved = tasks[str(task_id)]
        task.internal_data = _restore(registry, saved["internal_data"])
        delta = saved.get("delta")
        parent = restored.get(task._parent)
        if delta and parent is not None:
            # DeepMerge.merge({}, parent.data), then the delta: the restore's shallow copies, in its order
            data = {k: copy(v) if isinstance(v, _COPIED) else v for k, v in parent.data.items()}
            data.update(_restore(registry, delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                data.pop(key, None)
        else:
            data = _restore(registry, saved["data"])
        task.data = data
        restored[task_id] = task
    workflow.correlations = dct.get("correlations", {})
    workflow.data = _restore(registry, dct.get("data", {}))


_COPIED = (dict, list, set)  # what DeepMerge.merge copies (shallow) instead of sharing


def _restore(registry: Any, value: Any) -> Any:
    """``registry.restore(value)`` for parsed JSON, without its per-call overhead: new dicts and lists,
    and the registry itself for typed values."""
    kind = type(value)
    if kind is dict:
        if "typename" in value:
            return registry.restore(value)
        return {k: _restore(registry, v) for k, v in value.items()}
    if kind is list:
        return [_restore(registry, v) for v in value]
    return value


def _restore_order(workflow: BpmnWorkflow) -> bool:
    """Order the sub-processes and the event manager's tasks as a restore would.

    A restore adds a waiting catching event to the event manager as it restores the task, workflow by
    workflow, and restores sub-processes depth first from the tasks that own them. False (and nothing
    changed) when a sub-process cannot be reached that way: a restore would drop it.
    """
    subprocesses: dict[Any, Any] = {}
    waiting: dict[Any, Any] = {}

    def add_waiting(wf: Any) -> None:
        for task in wf.tasks.values():
            if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
                waiting[task.id] = task

    def add_subprocesses(wf: Any) -> None:
        for task in wf.tasks.values():
            if (
                isinstance(task.task_spec, SubWorkflowTask)
                and task.id in workflow.subprocesses
                and task.id not in subprocesses
            ):
                sub = workflow.subprocesses[task.id]
                subprocesses[task.id] = sub
                add_waiting(sub)
                add_subprocesses(sub)

    add_waiting(workflow)
    add_subprocesses(workflow)
    if len(subprocesses) != len(workflow.subprocesses):
        return False
    workflow.subprocesses = subprocesses
    workflow.event_manager.tasks = waiting
    return True
