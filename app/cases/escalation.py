"""Three-level escalation, "乡街吹哨,部门报到": the ``case.*`` operators the escalation part of
``bpmn/case_handling.bpmn`` calls by name.

The diagram holds the routing (community → street → district → supervisor, who is summoned, when a
report-in is missed); these operators hold what Python must do: keep ``case.escalation_level`` /
``escalated_at`` and the handler current, compute report-in due times on the working calendar, and write
an audit event for every step so the timeline tells the story.

``case.handler_user`` / ``handler_unit`` are the source of truth for who handles a case: the diagram asks
``case.current_handler`` before every handling round, and a hand-over while a handling task is open moves
that task in place (as supervision's reassign does).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app import runtime
from app.audit.services import record_case_event
from app.auth.models import User
from app.cases import lifecycle
from app.cases.models import ESCALATION_LEVELS, Case
from app.cases.operators import _case
from app.clock import now
from app.errors import InvalidInput
from app.extensions import db
from app.timelimits.calendar import TimeLimit, WorkingCalendar
from app.units.models import Unit
from app.workflow import operators
from app.workflow.instances import audit_task
from app.workflow.models import HumanTask, TaskStatus
from app.workflow.operators import OperatorCall

TRIGGERS = ("overdue", "beyond_means")
HANDLING_ELEMENTS = ("handle", "photo_proof")


def _audit(call: OperatorCall, case: Case, action: str, **fields: Any) -> None:
    record_case_event(
        action,
        case,
        actor=call.actor,
        instance_id=call.instance_id,
        **fields,
    )


def _level(value: Any) -> str:
    if value not in ESCALATION_LEVELS:
        raise ValueError(
            f"unknown escalation level {value!r}; expected one of {', '.join(ESCALATION_LEVELS)}"
        )
    return str(value)


def _calendar() -> WorkingCalendar:
    calendar = runtime.working_calendar()  # the configured working hours
    return calendar


def report_in_due(start: datetime, limit: str) -> datetime:
    """When a unit summoned at ``start`` must have reported in: ``limit`` is "2wh", "1wd", "1h", "0.5h".

    Working units count on the working calendar (a summons at 17:20 with "2wh" is due the next working
    morning); plain hours run around the clock.
    """
    parsed = TimeLimit.parse(limit)
    if parsed.unit == "hours":
        return start + timedelta(hours=parsed.amount)
    calendar = _calendar()
    per_unit = calendar.hours.per_day if parsed.unit == "working_days" else timedelta(hours=1)
    return calendar.add_working_time(start, per_unit * parsed.amount)


@operators.register("case.escalate", "升级: the case escalates to a level (community, street, district)")
def escalate(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    level = _level(call.params["level"])
    trigger = call.params.get("trigger")
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown escalation trigger {trigger!r}; expected one of {', '.join(TRIGGERS)}")
    timestamp = now()
    reason = call.data.get("beyond_means_reason") if trigger == "beyond_means" else None
    data = {"trigger": trigger, "reason": reason}
    lifecycle.escalate(case, level, timestamp, call.actor, call.instance_id, data)
    return {"level": level, "trigger": trigger, "at": timestamp.isoformat()}


@operators.register("case.summon_units", "吹哨: summon units that must report in within the level's limit")
def summon_units(call: OperatorCall) -> list[dict[str, Any]]:
    """One entry per unit, in the order given (the first is the lead unit): the report-in round runs one
    instance per entry and replaces it with that unit's outcome."""
    case = _case(call)
    units = call.params.get("units")
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        raise ValueError("summon_units: give at least one unit code")
    known = set(
        db.session.execute(select(Unit.code).where(Unit.code.in_(units), Unit.active.is_(True))).scalars()
    )
    unknown = [u for u in units if u not in known]
    if unknown:  # the form checks this too; a diagram may pass units from elsewhere
        raise ValueError(f"summon_units: no active unit with code {', '.join(map(repr, unknown))}")
    level = _level(call.params["level"])
    due_at = report_in_due(now(), str(call.params["report_in_limit"])).isoformat()
    _audit(
        call,
        case,
        "case.units_summoned",
        data={
            "level": level,
            "units": units,
            "lead_unit": units[0],
            "report_in_due": due_at,
            "note": call.data.get("coordinate_note"),
        },
    )
    return [{"unit": unit, "level": level, "report_in_due": due_at} for unit in units]


def _summoned(call: OperatorCall) -> dict[str, Any]:
    entry = call.params.get("summoned")
    if not isinstance(entry, dict) or not isinstance(entry.get("unit"), str):
        raise ValueError("expected one entry of case.summon_units' result as parameter 'summoned'")
    return entry


@operators.register("case.record_report_in", "报到: a summoned unit reported in")
def record_report_in(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    entry = _summoned(call)
    _audit(
        call,
        case,
        "case.reported_in",
        data={
            "unit": entry["unit"],
            "level": entry.get("level"),
            "responsible_person": call.data.get("responsible_person"),
            "note": call.data.get("report_in_note"),
        },
    )
    return {**entry, "status": "reported"}


@operators.register("case.report_in_missed", "未按时报到: a summoned unit did not report in within the limit")
def report_in_missed(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    entry = _summoned(call)
    _audit(
        call,
        case,
        "case.report_in_missed",
        data={
            "unit": entry["unit"],
            "level": entry.get("level"),
            "report_in_due": entry.get("report_in_due"),
        },
    )
    return {**entry, "status": "missed"}


def _open_handling_tasks(instance_id: int) -> list[HumanTask]:
    return list(
        db.session.execute(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id,
                HumanTask.status.in_(TaskStatus.OPEN),
                HumanTask.element_id.in_(HANDLING_ELEMENTS),
            )
        ).scalars()
    )


def _move_open_tasks(call: OperatorCall, user: User | None, unit: str | None) -> None:
    """Hand the open handling tasks to the new handler: a named user gets them, a unit's members may claim."""
    for task in _open_handling_tasks(call.instance_id):
        before = {
            "assignee_id": task.assignee_id,
            "candidate_user": task.candidate_user,
            "candidate_group": task.candidate_group,
        }
        if user is not None:
            task.candidate_user, task.candidate_group = user.username, None
            task.assignee_id, task.status, task.claimed_at = user.id, TaskStatus.CLAIMED, now()
        else:
            task.candidate_user, task.candidate_group = None, unit
            task.assignee_id, task.status, task.claimed_at = None, TaskStatus.READY, None
        after = {
            "assignee_id": task.assignee_id,
            "candidate_user": task.candidate_user,
            "candidate_group": task.candidate_group,
        }
        audit_task("task.reassigned", task, call.actor, before=before, after=after)


@operators.register(
    "case.hand_over",
    "交回处置: the escalation ends; handling goes on, with a new handler when one is given (a re-dispatch)",
)
def hand_over(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    username = call.params.get("user") or None
    unit = call.params.get("unit") or None
    if username and unit:  # the coordinator's own input: a refusal they can fix
        raise InvalidInput(
            "hand over to a user or to a unit, not both", {"handover_unit": "a user or a unit"}
        )
    user = None
    if username:
        user = db.session.execute(
            select(User).where(User.username == username, User.active.is_(True))
        ).scalar_one_or_none()
        if user is None:
            raise InvalidInput(
                f"handover_user: no active user {username!r}",
                {"handover_user": f"no active user {username!r}"},
            )
    outcome = str(call.params.get("outcome") or "returned")
    before = {"handler_user": case.handler_user, "handler_unit": case.handler_unit}
    after = {"handler_user": username, "handler_unit": unit} if (username or unit) else before
    if after != before:
        _move_open_tasks(call, user, unit)
        lifecycle.record_redispatch(
            case,
            call.actor,
            after["handler_user"],
            after["handler_unit"],
            {"reason": f"escalation:{outcome}", "level": case.escalation_level},
            call.instance_id,
        )
    case.updated_at = now()
    _audit(
        call,
        case,
        "case.escalation_resolved",
        data={"level": case.escalation_level, "outcome": outcome, "note": call.data.get("coordinate_note")},
    )
    return {"outcome": outcome, **after}


@operators.register("case.refer_to_supervisor", "提请督办: the escalation could not resolve the case")
def refer_to_supervisor(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    reason = str(call.params.get("reason") or "referred")
    _audit(
        call,
        case,
        "case.referred_to_supervisor",
        data={"level": case.escalation_level, "reason": reason, "note": call.data.get("coordinate_note")},
    )
    return {"outcome": "supervise", "reason": reason}


@operators.register("case.current_handler", "当前处置人: who handles the case now (user or unit)")
def current_handler(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    return {"handler_user": case.handler_user, "handler_unit": case.handler_unit}
