"""The case capabilities BPMN service tasks call by name (``case.*``). Each one writes its audit event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.services import record_case_event
from app.auth.models import User
from app.cases import dispatch, lifecycle
from app.cases.models import Case
from app.categories.services import get_category
from app.clock import as_utc, now
from app.errors import InvalidInput
from app.extensions import db
from app.timelimits.holidays import uncovered_years
from app.workflow import operators
from app.workflow.instances import audit_task
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from app.workflow.operators import OperatorCall


def _case(call: OperatorCall) -> Case:
    instance = db.session.get(ProcessInstance, call.instance_id)
    case = db.session.get(Case, instance.case_id) if instance is not None and instance.case_id else None
    if case is None:
        raise LookupError(f"process instance {call.instance_id} has no case")
    return case


@operators.register("case.finish", "结束案件: set the final status (closed, rejected, withdrawn)")
def finish(call: OperatorCall) -> dict[str, Any]:
    status = call.params["status"]
    timestamp = lifecycle.close_case(_case(call), status, call.actor, call.data.get("reject_reason"))
    return {"status": status, "at": timestamp.isoformat()}


@operators.register("case.mark_duplicate", "合并重复案件: link the case to the original it duplicates")
def mark_duplicate(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    original_key = call.params["duplicate_of"]
    original = db.session.execute(select(Case).where(Case.key == original_key)).scalar_one_or_none()
    if original is None:
        # The dispatcher's own input: a refusal they can fix (422), not a failure of the process.
        raise InvalidInput(
            f"duplicate_of: no case {original_key!r}", {"duplicate_of": f"no case {original_key!r}"}
        )
    lifecycle.close_as_duplicate(case, original, call.actor)
    return {"duplicate_of": original.key}


@operators.register(
    "case.propose_handler", "推荐处置人: by location and category, the least-loaded candidate"
)
def propose_handler(call: OperatorCall) -> dict[str, Any]:
    """Runs right after triage accepted the case: files it (立案), then proposes a handler (see
    ``app.cases.dispatch``). The dispatch task shows the proposal and its reason as ``proposal``."""
    case = _case(call)
    dispatch.file_case(case, call.data, call.actor, now())
    return dispatch.propose(case).as_dict()


@operators.register(
    "case.set_time_limit", "计算处置时限: due and warning times for handling, in working time"
)
def set_time_limit(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    hours = call.params.get("hours")
    start = now()
    if case.dispatched_at is None:
        # First dispatch. On rework the handler stays whoever it is now (a supervisor may have reassigned):
        # the handle task goes back to whoever handled it last (assigneeFrom in the diagram).
        handler_user, handler_unit = call.data.get("handler_user"), call.data.get("handler_unit")
        dispatch.check_handler(handler_user, handler_unit)
        lifecycle.record_dispatch(
            case,
            handler_user,
            handler_unit,
            start,
            call.data.get("proposal"),
            call.actor,
            call.data.get("dispatch_note"),
        )
    category = get_category(case.category_code, active_only=False)
    limits = dispatch.compute_limits(case, hours, start, category)
    handle = limits.handle
    before = {"due_at": case.due_at.isoformat() if case.due_at else None}
    case.due_at = handle.due_at
    if case.close_due_at is None and limits.close_due_at is not None:
        case.close_due_at = limits.close_due_at
    case.warned_at = None
    case.overdue_at = None
    working_hours = (
        dispatch.calendar().working_time_between(handle.start, handle.due_at).total_seconds() / 3600
    )
    last = case.close_due_at or handle.due_at
    provisional = uncovered_years(dispatch.calendar().workday_source, handle.start.date(), last.date())
    record_case_event(
        "case.time_limit_set",
        case,
        actor=call.actor,
        before=before,
        after={
            "due_at": handle.due_at.isoformat(),
            "warn_at": handle.warn_at.isoformat(),
            "close_due_at": case.close_due_at.isoformat() if case.close_due_at else None,
            "limit": str(limits.limit),
            "source": limits.source,
            "severity": case.severity,
            # Years counted Monday–Friday because their holiday schedule is not published/loaded yet.
            "provisional_years": provisional or None,
            "handler_user": case.handler_user,
            "handler_unit": case.handler_unit,
        },
    )
    return {
        "start_at": handle.start.isoformat(),
        "warn_at": handle.warn_at.isoformat(),
        "due_at": handle.due_at.isoformat(),
        "close_due_at": case.close_due_at.isoformat() if case.close_due_at else None,
        "limit": str(limits.limit),
        "source": limits.source,
        "hours": round(working_hours, 2),
    }


@operators.register("case.warn_due", "临期预警: the handling time limit is near")
def warn_due(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    case.warned_at = now()
    record_case_event(
        "case.due_warning",
        case,
        actor=call.actor,
        data={"due_at": case.due_at.isoformat() if case.due_at else None},
    )
    return {"warned_at": case.warned_at.isoformat()}


@operators.register("case.mark_overdue", "标记超期: the handling time limit passed; a supervisor takes over")
def mark_overdue(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    case.overdue_at = now()
    record_case_event(
        "case.overdue",
        case,
        actor=call.actor,
        data={"due_at": case.due_at.isoformat() if case.due_at else None},
    )
    return {"overdue_at": case.overdue_at.isoformat()}


def _open_handling_tasks(instance_id: int) -> list[HumanTask]:
    return list(
        db.session.execute(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id,
                HumanTask.status.in_(TaskStatus.OPEN),
                HumanTask.element_id.in_(("handle", "photo_proof")),
            )
        ).scalars()
    )


@operators.register("case.apply_supervision", "执行督办决定: urge, reassign the handler, or extend the limit")
def apply_supervision(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    action = call.params["action"]
    result: dict[str, Any] = {"action": action}
    if action == "reassign":
        username = call.params["new_handler_user"]
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        lifecycle.record_redispatch(case, call.actor, user.username, None, {"via": "supervision"})
        for task in _open_handling_tasks(call.instance_id):
            before = {"assignee_id": task.assignee_id, "candidate_user": task.candidate_user}
            task.candidate_user, task.candidate_group = user.username, None
            task.assignee_id, task.status, task.claimed_at = user.id, TaskStatus.CLAIMED, now()
            audit_task(
                "task.reassigned",
                task,
                call.actor,
                before=before,
                after={"assignee_id": user.id, "candidate_user": user.username},
            )
        result["handler_user"] = user.username
    elif action == "extend":
        hours = int(call.params["extend_hours"])
        # Working hours, like every other limit: an extension granted on Friday evening starts on Monday.
        base = as_utc(case.due_at) if case.due_at else now()
        case.due_at = dispatch.calendar().add_working_hours(base, hours)
        case.postponed_count += 1
        for task in _open_handling_tasks(call.instance_id):
            task.due_at = case.due_at
        result["due_at"] = case.due_at.isoformat()
    elif action != "urge":
        raise ValueError(f"unknown supervision action {action!r}")
    record_case_event(
        "case.supervised",
        case,
        actor=call.actor,
        data={**result, "note": call.data.get("supervise_note")},
    )
    return result


@operators.register("case.record_rework", "记录返工: review sent the case back to handling")
def record_rework(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    case.rework_count += 1
    record_case_event(
        "case.rework",
        case,
        actor=call.actor,
        after={"rework_count": case.rework_count},
        data={"comment": call.data.get("review_comment")},
    )
    return {"rework_count": case.rework_count}
