"""The ``emergency.*`` operators ``bpmn/emergency_escalation.bpmn`` calls by name. The diagram holds the
routing (contact calls, responders in parallel, a missed report-in climbing community → street → district →
supervisor, control, close, review); these hold what Python must do: keep the emergency's rows and timings
current and write an audit event for every step, so the case timeline tells the story with its figures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.services import record_case_event
from app.cases import lifecycle
from app.cases.models import ESCALATION_LEVELS, Case
from app.cases.operators import _case, finish
from app.clock import now
from app.emergency import responders as team
from app.emergency.limits import due_after, iso_duration
from app.emergency.models import Emergency, EmergencyResponder, EmergencyStatus, ResponderStatus
from app.emergency.plans import find_plan, match_plan
from app.errors import InvalidInput
from app.extensions import db
from app.workflow import children, operators, relayout
from app.workflow.operators import OperatorCall

# Personal alarms: the protected resident's contacts are called first, then the grid worker goes round.
PERSONAL_ALARMS = ("sos", "fall")
DEFAULT_CONTACT_CALL_LIMIT = "2m"
MAX_CONTACTS = 3
# Without a plan in the library, a personal alarm still sends the grid's worker within ten minutes.
PERSONAL_FALLBACK = [{"grid_worker": True, "limit": "10m", "label": "网格员上门查看"}]
CALL_OUTCOMES = ("reached", "no_answer", "needs_help")


def emergency_of(case: Case) -> Emergency | None:
    return db.session.execute(select(Emergency).where(Emergency.case_id == case.id)).scalar_one_or_none()


def _emergency(case: Case) -> Emergency:
    emergency = emergency_of(case)
    if emergency is None:
        raise LookupError(f"case {case.key} has no emergency")
    return emergency


def _audit(call: OperatorCall, case: Case, action: str, **fields: Any) -> None:
    record_case_event(action, case, actor=call.actor, instance_id=call.instance_id, **fields)


def _trigger(data: dict[str, Any]) -> str:
    if data.get("plan_code"):
        return "plan"
    return "alarm" if data.get("alarm_type") else "report"


@operators.register(
    "emergency.open", "启动应急: open the emergency, choose its plan, decide on the contact calls"
)
def open_emergency(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    data = call.data
    trigger = _trigger(data)
    alarm_type = data.get("alarm_type")
    plan = find_plan(data["plan_code"]) if trigger == "plan" else match_plan(case.category_code, alarm_type)
    timestamp = now()
    emergency = emergency_of(case)
    if emergency is None:
        emergency = Emergency(
            case_id=case.id,
            trigger=trigger,
            status=EmergencyStatus.ACTIVE,
            launched_by_id=call.actor.id if call.actor is not None and trigger == "plan" else None,
            checklist=[],
            started_at=case.created_at,
        )
        db.session.add(emergency)
    emergency.plan_code = plan.code if plan else None
    emergency.checklist = list(plan.checklist) if plan else []
    if case.filed_at is None:
        case.filed_at = timestamp  # an emergency is filed on the spot: nobody triages it first
    personal = alarm_type in PERSONAL_ALARMS
    contacts = [
        {"name": c.get("name"), "phone": c.get("phone"), "relation": c.get("relation")}
        for c in (data.get("emergency_contacts") or [])[:MAX_CONTACTS]
        if isinstance(c, dict)
    ]
    contact_round = bool(contacts) and (personal or bool(plan and plan.contact_call_limit))
    call_limit = (plan.contact_call_limit if plan else None) or DEFAULT_CONTACT_CALL_LIMIT
    specs = list(plan.responders) if plan else (PERSONAL_FALLBACK if personal else [])
    db.session.flush()
    _audit(
        call,
        case,
        "emergency.opened",
        data={
            "trigger": trigger,
            "plan_code": emergency.plan_code,
            "plan_name": plan.name if plan else None,
            "alarm_type": alarm_type,
            "contacts": len(contacts) if contact_round else 0,
            "contact_call_limit": call_limit if contact_round else None,
        },
    )
    return {
        "emergency_id": emergency.id,
        "trigger": trigger,
        "plan_code": emergency.plan_code,
        "responders": specs,
        "contact_round": contact_round,
        "contacts": contacts if contact_round else [],
        "contact_call_limit": iso_duration(call_limit),
        "checklist": emergency.checklist,
    }


@operators.register("emergency.record_call", "电话联系紧急联系人: record one call and who is next")
def record_call(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    index = int(call.params.get("index") or 0)
    contacts = (call.data.get("emergency") or {}).get("contacts") or []
    if not 0 <= index < len(contacts):
        raise ValueError(f"record_call: no emergency contact number {index + 1}")
    outcome = call.params.get("outcome")
    if outcome not in CALL_OUTCOMES:
        raise ValueError(
            f"record_call: unknown outcome {outcome!r}; expected one of {', '.join(CALL_OUTCOMES)}"
        )
    timeout = bool(call.params.get("timeout"))
    contact = contacts[index]
    _audit(
        call,
        case,
        "emergency.contact_called",
        data={
            **contact,
            "order": index + 1,
            "outcome": outcome,
            "timeout": timeout,
            "note": None if timeout else call.data.get("call_note"),
        },
    )
    return {"index": index, "name": contact.get("name"), "outcome": outcome, "next_index": index + 1}


def _assessed_specs(call: OperatorCall, emergency: Emergency) -> list[dict[str, Any]]:
    """The responders to dispatch: the command centre's choice when it assessed the case (units, or a plan
    of the library), else the plan ``emergency.open`` found."""
    units = call.data.get("responder_units")
    if units:
        minutes = call.data.get("report_in_minutes") or 15
        return [{"unit_code": code, "limit": f"{minutes}m"} for code in units]
    chosen = call.data.get("plan_code")
    if chosen and chosen != emergency.plan_code:
        plan = find_plan(chosen)
        if plan is None:
            raise InvalidInput(
                "unknown emergency plan", {"plan_code": f"no active emergency plan {chosen!r}"}
            )
        emergency.plan_code, emergency.checklist = plan.code, list(plan.checklist)
        return list(plan.responders)
    opened = call.data.get("emergency") or {}
    return list(opened.get("responders") or [])


@operators.register(
    "emergency.fan_out", "派出响应单位: every responder at once, each with its report-in limit"
)
def fan_out(call: OperatorCall) -> list[dict[str, Any]]:
    """One entry per responder (the first is the lead): the report-in round runs one instance per entry."""
    case = _case(call)
    emergency = _emergency(case)
    specs = _assessed_specs(call, emergency)
    resolved, missing = team.resolve(specs, case.grid_code)
    timestamp = now()
    rows = team.add_responders(emergency, resolved, timestamp)
    if rows and case.dispatched_at is None:
        lifecycle.record_dispatch(case, rows[0].username, rows[0].unit_code, timestamp)
    case.updated_at = timestamp
    entries = [team.entry(row) for row in rows]
    _audit(
        call,
        case,
        "emergency.responders_dispatched",
        data={
            "plan_code": emergency.plan_code,
            "responders": [
                {k: e[k] for k in ("position", "unit", "user", "label", "limit", "report_in_due")}
                for e in entries
            ],
            "unavailable": [{"responder": m.spec, "reason": m.reason} for m in missing],
            "note": call.data.get("assess_note"),
        },
    )
    return entries


RESPONDER_PROCESS_KEY = "emergency_responder"
REPORT_INS_DONE = "emergency_report_ins_done"


@operators.register(
    "emergency.start_report_ins",
    "各单位报到: one report-in instance per responder; the emergency waits for the last one to end",
)
def start_report_ins(call: OperatorCall) -> dict[str, Any]:
    """Each responder reports in (and is urged, level by level) in an instance of its own: a report-in costs
    the same with 200 responders as with 10 (``app.workflow.children``)."""
    entries = call.params.get("responders")
    if not isinstance(entries, list):
        raise ValueError("expected emergency.fan_out's result as parameter 'responders'")
    running = children.spawn(
        call.instance_id,
        RESPONDER_PROCESS_KEY,
        [{"responder": entry} for entry in entries],
        message=REPORT_INS_DONE,
        actor=call.actor,
    )
    return {"started": len(entries), "running": running}


def _responder(call: OperatorCall) -> EmergencyResponder:
    entry = call.params.get("responder")
    row = db.session.get(EmergencyResponder, entry.get("responder_id")) if isinstance(entry, dict) else None
    if row is None:
        raise ValueError("expected one entry of emergency.fan_out's result as parameter 'responder'")
    return row


def _who(row: EmergencyResponder) -> dict[str, Any]:
    return {"position": row.position, "unit": row.unit_code, "user": row.username, "label": row.label}


@operators.register("emergency.record_ack", "报到: a responder reported in")
def record_ack(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    row = _responder(call)
    emergency = row.emergency
    timestamp = now()
    row.status, row.acknowledged_at = ResponderStatus.ACKNOWLEDGED, timestamp
    row.acknowledged_by_id = call.actor.id if call.actor is not None else None
    row.responsible_person = call.data.get("responsible_person")
    row.eta_minutes = call.data.get("eta_minutes")
    _audit(
        call,
        case,
        "emergency.responder_acknowledged",
        data={
            **_who(row),
            "level": row.level,
            "misses": row.misses,
            "seconds_after_dispatch": team.seconds_between(row.dispatched_at, timestamp),
            "responsible_person": row.responsible_person,
            "eta_minutes": row.eta_minutes,
            "note": call.data.get("report_in_note"),
        },
    )
    if emergency.first_ack_at is None:
        emergency.first_ack_at = timestamp
        emergency.first_ack_seconds = team.seconds_between(emergency.started_at, timestamp)
        _audit(
            call,
            case,
            "emergency.first_acknowledged",
            data={"seconds": emergency.first_ack_seconds, **_who(row)},
        )
    db.session.flush()  # this row's status, for the count below
    # Counted in the database: loading every responder row made each report-in cost in proportion to all.
    outstanding, total = team.outstanding(emergency)
    if outstanding == 0:
        emergency.all_ack_at = timestamp
        emergency.all_ack_seconds = team.seconds_between(emergency.started_at, timestamp)
        _audit(
            call,
            case,
            "emergency.all_acknowledged",
            data={"seconds": emergency.all_ack_seconds, "responders": total},
        )
    return team.entry(row)


@operators.register(
    "emergency.report_in_missed",
    "未按时报到: a responder missed its limit; it climbs a level, whose coordinator is summoned",
)
def report_in_missed(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    row = _responder(call)
    timestamp = now()
    missed_due = row.report_in_due
    level = team.NEXT_LEVEL[row.level]
    row.misses += 1
    row.level = level
    if level == "supervisor":
        row.status = ResponderStatus.MISSED  # the last chance passed: the supervisor takes it from here
    else:
        row.report_in_due = due_after(timestamp, row.report_in_limit)
    if level in ESCALATION_LEVELS and (
        case.escalation_level is None
        or ESCALATION_LEVELS.index(level) > ESCALATION_LEVELS.index(case.escalation_level)
    ):
        data = {"trigger": "report_in_missed", "unit": row.unit_code, "user": row.username}
        lifecycle.escalate(case, level, timestamp, call.actor, call.instance_id, data)
    _audit(
        call,
        case,
        "emergency.report_in_missed",
        data={
            **_who(row),
            "misses": row.misses,
            "level": level,
            "summoned_role": team.LEVEL_ROLES[level],
            "missed_due": missed_due.isoformat() if missed_due else None,
            "next_due": None if level == "supervisor" else row.report_in_due.isoformat(),
        },
    )
    return team.entry(row)


@operators.register(
    "emergency.record_supervision", "督办: the supervisor took over a responder that never reported in"
)
def record_supervision(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    row = _responder(call)
    _audit(
        call,
        case,
        "emergency.supervised",
        data={
            **_who(row),
            "action": call.data.get("supervise_action"),
            "note": call.data.get("supervise_note"),
        },
    )
    return team.entry(row)


@operators.register("emergency.control", "宣布控制: the command centre declares the emergency under control")
def control(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    emergency = _emergency(case)
    timestamp = now()
    emergency.status, emergency.controlled_at = EmergencyStatus.CONTROLLED, timestamp
    emergency.control_seconds = team.seconds_between(emergency.started_at, timestamp)
    _audit(
        call,
        case,
        "emergency.controlled",
        data={
            "seconds": emergency.control_seconds,
            "note": call.data.get("control_note"),
            **team.counts(emergency),
        },
    )
    return {"controlled_at": timestamp.isoformat(), "seconds": emergency.control_seconds}


@operators.register("emergency.close", "结束应急: close the emergency and its case")
def close(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    emergency = _emergency(case)
    result = finish(OperatorCall(call.instance_id, call.data, {"status": "closed"}, call.actor))
    timestamp = now()
    emergency.status, emergency.closed_at = EmergencyStatus.CLOSED, timestamp
    emergency.close_seconds = team.seconds_between(emergency.started_at, timestamp)
    _audit(
        call,
        case,
        "emergency.closed",
        data={
            "seconds": emergency.close_seconds,
            "first_ack_seconds": emergency.first_ack_seconds,
            "all_ack_seconds": emergency.all_ack_seconds,
            "control_seconds": emergency.control_seconds,
            "note": call.data.get("close_note"),
        },
    )
    return {**result, "seconds": emergency.close_seconds}


@operators.register("emergency.review", "复盘: record the after-action review")
def review(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    emergency = _emergency(case)
    emergency.cause = call.data.get("cause")
    emergency.timeline_summary = call.data.get("timeline_summary")
    emergency.improvements = call.data.get("improvements")
    emergency.status, emergency.reviewed_at = EmergencyStatus.REVIEWED, now()
    _audit(
        call,
        case,
        "emergency.reviewed",
        data={
            "cause": emergency.cause,
            "timeline_summary": emergency.timeline_summary,
            "improvements": emergency.improvements,
        },
    )
    return {"reviewed_at": emergency.reviewed_at.isoformat()}


# Emergencies started before responders ran as instances of their own: converted by the migration.
relayout.register(
    relayout.Layout(
        process_key="emergency_escalation",
        element_id="responder_round",
        child_key=RESPONDER_PROCESS_KEY,
        spawn_element="start_report_ins",
        result_variable="report_ins",
        message=REPORT_INS_DONE,
        child_variables=lambda data: {},  # a branch holds its responder already
        dropped=("responders",),
    )
)
