"""Mirror the workflow's position onto the case status, after every engine step."""

from __future__ import annotations

from app.audit.services import Actor
from app.cases import lifecycle
from app.cases.models import Case, CaseStatus
from app.extensions import db
from app.workflow.instances import StepOutcome
from app.workflow.models import ProcessInstance

# A case shows the furthest main-path step that is open (tasks without a caseStatus, like
# supervision, run beside the main path and do not change it).
_ORDER = [
    CaseStatus.TRIAGE,
    CaseStatus.DISPATCHING,
    CaseStatus.HANDLING,
    CaseStatus.FEEDBACK,
    CaseStatus.REVIEW,
]


def mirror_case_status(outcome: StepOutcome) -> None:
    case_id = outcome.instance.case_id
    if case_id is None:
        return
    case = db.session.get(Case, case_id)
    if case is None or case.status in CaseStatus.FINAL:
        return
    open_statuses = [t.case_status for t in outcome.open_tasks if t.case_status in _ORDER]
    if not open_statuses:
        return
    lifecycle.change_status(case, max(open_statuses, key=_ORDER.index), outcome.actor)


def close_case_of_terminated_instance(instance: ProcessInstance, reason: str, actor: Actor | None) -> None:
    """An operator terminated the case's process: nothing will move the case any more, so it is closed
    (结案) with the operator's reason, unless it had already ended."""
    if instance.case_id is None or instance.parent_id is not None:  # a child's end is its parent's concern
        return
    case = db.session.get(Case, instance.case_id)
    if case is None or case.status in CaseStatus.FINAL:
        return
    lifecycle.close_terminated(case, reason, actor)
