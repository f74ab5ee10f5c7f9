"""The ``sensor.*`` operators ``bpmn/sensor_alarm.bpmn`` calls by name: record each phone call of the
verification round (resident, then the emergency contacts in order), hand the case to the proposed grid
worker, and close a case the phone round or a cleared alarm resolved. Each writes its audit event."""

from __future__ import annotations

from typing import Any

from app.audit.services import record_case_event
from app.cases.models import Case
from app.cases.operators import _case, finish
from app.workflow import operators
from app.workflow.operators import OperatorCall

CALL_OUTCOMES = ("answered_ok", "needs_help", "no_answer")
RESOLVE_REASONS = {"confirmed_by_call": "case.resolved_by_call", "alarm_cleared": "case.auto_resolved"}


def _audit(call: OperatorCall, case: Case, action: str, data: dict[str, Any]) -> None:
    record_case_event(
        action,
        case,
        actor=call.actor,
        instance_id=call.instance_id,
        data=data,
    )


def _callee(call: OperatorCall, who: str, index: int) -> dict[str, Any]:
    if who == "resident":
        return {"name": call.data.get("resident_name"), "phone": call.data.get("resident_phone")}
    contacts = call.data.get("emergency_contacts") or []
    if not 0 <= index < len(contacts):
        raise ValueError(f"record_call: no emergency contact number {index + 1}")
    contact = contacts[index]
    return {"name": contact.get("name"), "phone": contact.get("phone"), "relation": contact.get("relation")}


@operators.register("sensor.record_call", "电话核实: record one call to the resident or an emergency contact")
def record_call(call: OperatorCall) -> dict[str, Any]:
    """Returns the round's state as ``call_round``: the outcome, and which contact to call next (0 after the
    resident, the contact's index + 1 after a contact), so the diagram loops until someone answers."""
    case = _case(call)
    who = call.params.get("who")
    if who not in ("resident", "contact"):
        raise ValueError(f"record_call: who must be resident or contact, not {who!r}")
    outcome = call.params.get("outcome")
    if outcome not in CALL_OUTCOMES:
        raise ValueError(
            f"record_call: unknown outcome {outcome!r}; expected one of {', '.join(CALL_OUTCOMES)}"
        )
    index = int(call.params.get("index") or 0)
    callee = _callee(call, who, index)
    timeout = bool(call.params.get("timeout"))
    data = {
        "who": who,
        **callee,
        "order": index + 1 if who == "contact" else 0,
        "outcome": outcome,
        "timeout": timeout,
        "note": None if timeout else call.data.get("call_note"),
    }
    _audit(call, case, "case.contact_called", data)
    return {
        "who": who,
        "name": callee["name"],
        "outcome": outcome,
        "next_index": index + 1 if who == "contact" else 0,
    }


@operators.register("sensor.pick_handler", "派遣网格员: the proposed grid worker handles the sensor case")
def pick_handler(call: OperatorCall) -> str | None:
    """The handler ``case.set_time_limit`` dispatches to (it reads ``handler_user``): the proposal's grid
    worker. None when nobody was proposed: any grid worker may then claim the handling task."""
    proposal = call.params.get("proposal") or {}
    handler = proposal.get("handler_user") if isinstance(proposal, dict) else None
    return str(handler) if handler else None


@operators.register("sensor.resolve", "结案: the phone round or a confirmed cleared alarm resolved the case")
def resolve(call: OperatorCall) -> dict[str, Any]:
    case = _case(call)
    reason = call.params.get("reason")
    if reason not in RESOLVE_REASONS:
        raise ValueError(f"resolve: unknown reason {reason!r}; expected one of {', '.join(RESOLVE_REASONS)}")
    result = finish(OperatorCall(call.instance_id, call.data, {"status": "closed"}, call.actor))
    _audit(
        call,
        case,
        RESOLVE_REASONS[reason],
        {"reason": reason, "note": call.data.get("clear_note") or call.data.get("call_note")},
    )
    return {**result, "reason": reason}
