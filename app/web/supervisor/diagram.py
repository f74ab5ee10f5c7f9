"""What the case page's diagram shows: the instance's BPMN XML and which elements are done or active.

The element ids come from the workflow state (``app.workflow.instances.instance_state``, the same the API's
``GET /api/v1/process-instances/<id>`` gives); sequence flows are not tasks in the engine, so the page marks
a flow as taken when both its ends were reached.
"""

from __future__ import annotations

from typing import Any

from app.auth.models import User
from app.cases.services import case_instance, get_case
from app.workflow import deploy, instances


def diagram_state(user: User, key: str) -> dict[str, Any]:
    """The diagram of case ``key``'s process instance (404 when the case is not visible to ``user``)."""
    case = get_case(user, key)
    instance = case_instance(case)
    definition = instance.definition
    state = instances.instance_state(instance)
    return {
        "case_key": case.key,
        "instance_id": instance.id,
        "instance_status": instance.status,
        "process_key": definition.key,
        "version": definition.version,
        "xml": deploy.definition_xml(definition.key, definition.version),
        "active": state["active_element_ids"],
        "completed": state["completed_element_ids"],
    }
