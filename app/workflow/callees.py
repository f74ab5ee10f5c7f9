"""The app's resolver of called processes for call activities bound at their start (``call_binding``):
the published version of a process, and any deployed version by id, restored once per app."""

from __future__ import annotations

from app.workflow import instances
from app.workflow.deploy import latest_definition
from app.workflow.engine import LoadedSpec


class DeployedCallees:
    def newest(self, process_key: str) -> tuple[int, LoadedSpec]:
        definition = latest_definition(process_key)  # NotFound: the call fails with an incident
        return definition.id, instances.loaded_spec(definition.id)

    def by_id(self, definition_id: int) -> LoadedSpec:
        return instances.loaded_spec(definition_id)
