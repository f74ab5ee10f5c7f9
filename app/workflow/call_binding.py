"""Which version of a called process a call activity runs: the caller's deployment's, or the newest.

SpiffWorkflow freezes every called process into the caller's spec when the caller is parsed, so by default
a call activity runs the callee as it was when the caller was deployed (``deployment``, Camunda's
``calledElementBinding="deployment"``). A designer may choose per call activity, with the
``spiffworkflow:property`` ``calledElementBinding``:

- ``deployment`` (the default): the callee frozen with the caller's deployment;
- ``latest``: the published version of the callee at the moment the call starts (Camunda's
  ``latest``; a draft is never called). The version chosen is recorded in the instance's state
  (``bound_calls``: call task id → the callee's definition id), so a restore, today or after later
  deployments, rebuilds the same callee.
  Calls made inside a callee bound that way resolve in that callee's own deployment.

The workflow asks the app's resolver (``use_resolver``, installed by ``create_app``) for deployed versions:
this module holds no database access.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

BINDING_PROPERTY = "calledElementBinding"
DEPLOYMENT = "deployment"
LATEST = "latest"
BINDINGS = (DEPLOYMENT, LATEST)


class CalleeResolver(Protocol):
    """Deployed versions of called processes (``LoadedSpec``: ``spec`` and ``subprocess_specs``)."""

    def newest(self, process_key: str) -> tuple[int, Any]:
        """(definition id, loaded spec) of the published version of ``process_key``."""
        ...

    def by_id(self, definition_id: int) -> Any:
        """The loaded spec of deployed version ``definition_id``."""
        ...


_resolver: CalleeResolver | None = None


def use_resolver(resolver: CalleeResolver) -> None:
    global _resolver
    _resolver = resolver


def _callees() -> CalleeResolver:
    if _resolver is None:
        raise RuntimeError("no resolver of called processes is installed (call_binding.use_resolver)")
    return _resolver


def binding_of(task_spec: Any) -> str:
    """The call activity's ``calledElementBinding`` (``deployment`` when not given)."""
    properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    return str(properties.get(BINDING_PROPERTY) or DEPLOYMENT).strip()


class BoundWorkflow(BpmnWorkflow):
    """A workflow whose ``latest`` call activities run the callee's published version at the call's start."""

    subprocess_specs: dict[str, Any]

    def __init__(self, spec: Any, subprocess_specs: Any = None, **kwargs: Any) -> None:
        super().__init__(spec, subprocess_specs, **kwargs)
        self.bound_calls: dict[str, int] = {}

    def create_subprocess(self, my_task: Any, spec_name: str) -> Any:
        if isinstance(my_task.task_spec, CallActivity) and binding_of(my_task.task_spec) == LATEST:
            definition_id, _loaded = _callees().newest(spec_name)
            self.bind(str(my_task.id), definition_id)
        subprocess = BpmnSubWorkflow(
            self.spec_for_call(my_task), parent_task_id=my_task.id, top_workflow=self
        )
        self.subprocesses[my_task.id] = subprocess
        return subprocess

    def bind(self, call_task_id: str, definition_id: int) -> None:
        """Run call ``call_task_id`` on callee version ``definition_id``; the processes that callee calls
        become known here too (SpiffWorkflow looks a called process up by name before calling it)."""
        self.bound_calls[call_task_id] = definition_id
        nested = _callees().by_id(definition_id).subprocess_specs
        missing = {name: spec for name, spec in nested.items() if name not in self.subprocess_specs}
        if missing:  # a new mapping: the loaded spec's is shared by every instance of the version
            self.subprocess_specs = {**self.subprocess_specs, **missing}

    def spec_for_call(self, call_task: Any) -> Any:
        """The spec the sub-workflow of ``call_task`` runs (a call activity or an embedded sub-process)."""
        definition_id = self.bound_calls.get(str(call_task.id))
        if definition_id is not None:
            return _callees().by_id(definition_id).spec
        return self._scope_specs(call_task.workflow)[call_task.task_spec.spec]

    def bound_definition_of(self, workflow: Any) -> int | None:
        """The callee version bound at a call's start that ``workflow`` (this one or a sub-workflow) runs
        in, if any: the nearest such call above it."""
        while workflow is not None and workflow is not self:
            definition_id = self.bound_calls.get(str(workflow.parent_task_id))
            if definition_id is not None:
                return definition_id
            workflow = workflow.parent_workflow
        return None

    def _scope_specs(self, workflow: Any) -> Any:
        definition_id = self.bound_definition_of(workflow)
        if definition_id is None:
            return self.subprocess_specs
        return _callees().by_id(definition_id).subprocess_specs


class BoundSubWorkflowConverter(BpmnSubWorkflowConverter):
    """Restores a sub-workflow with the spec its call was bound to (``BoundWorkflow.spec_for_call``)."""

    def from_dict(self, dct: dict[str, Any], task: Any, top_workflow: Any) -> Any:
        if not isinstance(top_workflow, BoundWorkflow):
            return super().from_dict(dct, task, top_workflow)
        subprocess = self.target_class(
            top_workflow.spec_for_call(task), task.id, top_workflow, deserializing=True
        )
        subprocess.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=subprocess)
        subprocess.task_tree = subprocess.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess
