"""Completed loop history pruned from the task tree (循环历史裁剪), so loops do not stall or grow the state.

SpiffWorkflow adds the tasks of each round of a loop below the previous round: the tree gets deeper with every
round. Its task iterator stops at depth 1000, so a loop of a script task and a gateway stalled after about 499
rounds (nothing ready, nothing waiting, ``running``), and every round made the stored state bigger and every
step slower (each pass walks the whole tree).

:func:`prune` cuts the finished history above the live part of each (sub-)workflow once it is deeper than
:data:`PRUNE_DEPTH`: the live tasks (not finished) all descend from one task, their lowest common
ancestor; the finished ancestors above it, but the last :data:`KEEP_ABOVE`, are removed with their finished
side branches, and the first kept one becomes a child of the root. Nothing live is touched, and nothing
SpiffWorkflow looks at later is removed:

- every branch a join of the current round waits for descends from the anchor: while one branch waits at a
  join its join task is live, so their fork is at or above the anchor (and the last KEEP_ABOVE are kept);
  the boundary-event and start-event joins find their split among those recent ancestors;
- the finished side branches removed are earlier rounds'. SpiffWorkflow's parallel join also looks at those
  (it counts an earlier round's arrivals and merges their data); the tests compare a pruned loop through a
  fork and a join with an unpruned one, and they end with the same data;
- task data is complete in every task (the serializer stores a task's data as a change from its parent's), so
  the first kept task keeps the data it had;
- a finished sub-process owned by a removed task is deleted with it;
- a branch that ended at an end event while others go on leaves the process's end join waiting in it (the end
  join merges every ended branch's data when the process ends): such a branch is not removed but moved under
  the root, whole. So a loop whose rounds end side branches (a reminder timer that fires each round) keeps
  those branches: its depth stays bounded, its state grows by one ended branch each time.

The element ids of removed completed tasks go to a compact list in the root task (:func:`completed_history`),
for the highlighted diagram and ``assigneeFrom``. Processes less deep than PRUNE_DEPTH are never changed.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

# A rework round of the case process adds some 15 ancestors: pruning once the live part is 12 deep keeps the
# stored state flat, about 1.5 times the first review's (tests/workflow/test_rework_state_size.py). 64 and 16
# let it swing between 1.6 and 5.3 times that, every step paying for the bigger state.
PRUNE_DEPTH = 12  # ancestors above the live part before anything is pruned
KEEP_ABOVE = 8  # finished ancestors kept above the live part (a boundary event's or a join's split is nearer)
_HISTORY_KEY = "gridcase_completed_elements"


def prune(top: BpmnWorkflow) -> int:
    """Remove finished loop history from ``top`` and its sub-processes; how many tasks were removed."""
    removed = 0
    for workflow in [top, *top.subprocesses.values()]:
        if workflow is not top and workflow not in top.subprocesses.values():
            continue  # deleted with a pruned task of its parent
        if len(workflow.tasks) > PRUNE_DEPTH:
            removed += _prune(top, workflow)
    return removed


def completed_history(top: BpmnWorkflow) -> list[str]:
    """Element ids of completed tasks pruned from ``top`` (sub-processes included), sorted."""
    return list(top.task_tree.internal_data.get(_HISTORY_KEY, []))


def _prune(top: BpmnWorkflow, workflow: Any) -> int:
    # A branch that reached an end event leaves the process's end join waiting (for every other branch), in
    # that branch, for as long as the process runs. It would hold the anchor there: it is moved instead.
    ending = {t.id for end in workflow.tasks.values() if _waiting_end(end) for t in _subtree(end)}
    live = [
        t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK) and t.id not in ending
    ]
    if not live:
        return 0
    path = _path_to(live[0])
    index = {task.id: i for i, task in enumerate(path)}
    anchor = len(path) - 1
    for task in live[1:]:
        node = task
        while node.id not in index:
            node = node.parent
        anchor = min(anchor, index[node.id])
    if anchor <= PRUNE_DEPTH:
        return 0
    cut = anchor - KEEP_ABOVE
    dropped: list[Any] = []
    moved: list[Any] = []  # side branches holding a waiting end join: they go under the root, whole
    for i in range(1, cut):
        dropped.append(path[i])
        for child in path[i].children:
            if child is not None and child is not path[i + 1]:
                branch = _subtree(child)
                if any(not t.has_state(TaskState.FINISHED_MASK) for t in branch):
                    moved.append(child)
                else:
                    dropped.extend(branch)
    _remove(top, workflow, dropped)
    root, first_kept = path[0], path[cut]
    root._children = [first_kept.id if child == path[1].id else child for child in root._children]
    first_kept._parent = root.id
    for branch_top in moved:
        root._children.append(branch_top.id)
        branch_top._parent = root.id
    return len(dropped)


def _waiting_end(task: Any) -> bool:
    return isinstance(task.task_spec, _EndJoin) and task.has_state(TaskState.WAITING)


def _path_to(task: Any) -> list[Any]:
    """``task``'s ancestors, root first, then ``task``."""
    path = [task]
    while (parent := path[-1].parent) is not None:
        path.append(parent)
    path.reverse()
    return path


def _subtree(task: Any) -> list[Any]:
    found, stack = [], [task]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(child for child in node.children if child is not None)
    return found


def _remove(top: BpmnWorkflow, workflow: Any, dropped: list[Any]) -> None:
    history = set(top.task_tree.internal_data.get(_HISTORY_KEY, []))
    for task in dropped:
        if task.has_state(TaskState.COMPLETED) and getattr(task.task_spec, "bpmn_id", None):
            history.add(task.task_spec.bpmn_id)
        if task.id in top.subprocesses:
            top.delete_subprocess(task)
        top.event_manager.remove_task(task)
        if getattr(workflow, "last_task", None) is task:
            workflow.last_task = None
        del workflow.tasks[task.id]
    top.task_tree.internal_data[_HISTORY_KEY] = sorted(history)
