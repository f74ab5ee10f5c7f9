"""The ``mediation.*`` capabilities ``bpmn/dispute_mediation.bpmn`` calls by name. Each one keeps the dispute
(and its case) current and writes its audit event; none writes a party's personal data anywhere.

Form fields are read from the task data (``call.data``): every field a form declares is there after the
task completed. A refusal that names a field raises ``InvalidInput``: the completion answers 422 with that
field and nothing changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app import runtime
from app.audit.services import record_case_event
from app.auth.models import User
from app.auth.roles import Role
from app.cases import lifecycle
from app.cases.models import CaseStatus
from app.clock import as_utc, now
from app.errors import InvalidInput
from app.extensions import db
from app.grids.models import GridMember
from app.kpi.periods import parse_bound
from app.mediation.assignment import candidates, community_of, pick, proposal
from app.mediation.models import (
    DISPUTE_TYPES,
    GRADES,
    REFERRALS,
    SESSION_OUTCOMES,
    Dispute,
    DisputeDocument,
    DisputeStatus,
    MediationSession,
)
from app.mediation.services import SEVERITY_OF_GRADE, case_title, category_of
from app.workflow import operators
from app.workflow.models import ProcessInstance
from app.workflow.operators import OperatorCall

# A session is recorded after it was held; a little clock skew between phones and the server is fine.
FUTURE_TOLERANCE = timedelta(minutes=10)


def _dispute(call: OperatorCall) -> Dispute:
    instance = db.session.get(ProcessInstance, call.instance_id)
    dispute = (
        db.session.execute(select(Dispute).where(Dispute.case_id == instance.case_id)).scalar_one_or_none()
        if instance is not None and instance.case_id
        else None
    )
    if dispute is None:
        raise LookupError(f"process instance {call.instance_id} has no dispute")
    return dispute


def _audit(call: OperatorCall, dispute: Dispute, action: str, **fields: Any) -> None:
    record_case_event(action, dispute.case, actor=call.actor, instance_id=call.instance_id, **fields)


def _one_of(value: Any, allowed: dict[str, Any], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field}: {value!r} is not allowed", {field: f"expected one of {list(allowed)}"})
    return str(value)


@operators.register("mediation.propose", "推荐调解员: community mediators and volunteers with their load")
def propose(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    return proposal(community_of(dispute.case.grid_code))


def _chosen_mediator(username: str) -> User:
    user = db.session.execute(
        select(User).where(User.username == username, User.active.is_(True), User.role == Role.MEDIATOR)
    ).scalar_one_or_none()
    if user is None:  # the form checks it too (x-user-role)
        raise InvalidInput("unknown mediator", {"mediator_user": f"no active mediator {username!r}"})
    return user


@operators.register("mediation.assign", "分级分类并指派调解员: the proposal by grade, or the intake's choice")
def assign(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    case = dispute.case
    grade = _one_of(call.data.get("grade"), GRADES, "grade")
    dispute_type = _one_of(
        call.data.get("dispute_type") or dispute.dispute_type, DISPUTE_TYPES, "dispute_type"
    )
    found = candidates(community_of(case.grid_code))
    proposed = pick(grade, found)
    wanted = call.data.get("mediator_user")
    reason = (call.data.get("override_reason") or "").strip()
    if wanted:
        mediator = _chosen_mediator(wanted)
        # The proposal the intake saw counts too: loads may have moved since the task opened.
        shown = (call.data.get("proposal") or {}).get("proposed", {}).get(grade)
        overridden = mediator.username not in {proposed.username if proposed else None, shown}
        if overridden and not reason:
            suggestion = proposed.username if proposed else "none"
            raise InvalidInput(
                "a reason is needed to choose another mediator than the proposal",
                {"override_reason": f"required when mediator_user differs from the proposal ({suggestion})"},
            )
    elif proposed is None:
        community = community_of(case.grid_code) or "(none)"
        raise InvalidInput(
            "no mediator available",
            {
                "mediator_user": f"community {community} has no mediator and the volunteer pool has nobody "
                "for it: name a mediator"
            },
        )
    else:
        mediator, overridden = _chosen_mediator(proposed.username), False
    listed = next((c for c in found if c.username == mediator.username), None)
    kind = listed.kind if listed else _kind_of(mediator)
    timestamp = now()
    before_type = dispute.dispute_type
    dispute.grade, dispute.dispute_type, dispute.status = grade, dispute_type, DisputeStatus.MEDIATING
    dispute.mediator_id, dispute.mediator_kind, dispute.assigned_at = mediator.id, kind, timestamp
    case.title, case.category_code = case_title(dispute_type), category_of(dispute_type)
    case.severity = SEVERITY_OF_GRADE[grade]
    case.filed_at = case.filed_at or timestamp
    lifecycle.record_dispatch(case, mediator.username, None, timestamp)
    case.updated_at = timestamp
    _audit(
        call,
        dispute,
        "dispute.graded",
        before={"dispute_type": before_type},
        after={"grade": grade, "dispute_type": dispute_type, "severity": case.severity},
        data={"note": call.data.get("intake_note")},
    )
    _audit(
        call,
        dispute,
        "dispute.mediator_assigned",
        after={"mediator": mediator.username, "kind": kind},
        data={
            "proposed": proposed.username if proposed else None,
            "open_mediations": listed.open_mediations if listed else None,
        },
    )
    if overridden:
        _audit(
            call,
            dispute,
            "dispute.mediator_overridden",
            before={"mediator": proposed.username if proposed else None},
            after={"mediator": mediator.username},
            data={"reason": reason},
        )
    return {
        "mediator": mediator.username,
        "kind": kind,
        "proposed": proposed.username if proposed else None,
        "overridden": overridden,
    }


def _kind_of(user: User) -> str:
    """A mediator chosen from outside the proposal: a community mediator if assigned anywhere."""
    assigned = db.session.execute(select(GridMember.id).where(GridMember.user_id == user.id)).first()
    return "community" if assigned else "volunteer"


def _session_time(value: Any) -> datetime:
    try:
        held_at = parse_bound(str(value))  # naive times are China time, as people write them
    except ValueError as exc:
        raise InvalidInput("invalid session time", {"session_at": str(exc)}) from exc
    if held_at > now() + FUTURE_TOLERANCE:
        raise InvalidInput("session in the future", {"session_at": "record a session after it was held"})
    return held_at


@operators.register("mediation.record_session", "记录调解会: date, place, attendees, record and outcome")
def record_session(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    outcome = _one_of(call.data.get("session_outcome"), SESSION_OUTCOMES, "session_outcome")
    held_at = _session_time(call.data.get("session_at"))
    positions = {p.position for p in dispute.parties}
    attendees = list(call.data.get("attendees") or [])
    strangers = [a for a in attendees if a not in positions]
    if strangers:
        raise InvalidInput(
            "unknown party in attendees",
            {"attendees": f"{strangers} are not parties of this dispute (parties: {sorted(positions)})"},
        )
    timestamp = now()
    dispute.session_count += 1
    db.session.add(
        MediationSession(
            dispute_id=dispute.id,
            number=dispute.session_count,
            held_at=held_at,
            mode=call.data.get("session_mode") or "offline",
            place=call.data.get("session_place"),
            attendees=sorted(set(attendees)),
            other_attendees=call.data.get("other_attendees"),
            record=call.data.get("session_record") or "",
            outcome=outcome,
            recorded_by_id=call.actor.id if call.actor is not None else None,
            created_at=timestamp,
        )
    )
    _audit(
        call,
        dispute,
        "dispute.session_recorded",
        after={"number": dispute.session_count, "outcome": outcome, "mode": call.data.get("session_mode")},
        data={"held_at": held_at.isoformat(), "attending_parties": len(set(attendees))},
    )
    if outcome != "continue":
        dispute.outcome = "agreement" if outcome == "agreement" else "failed"
        dispute.status = DisputeStatus.AGREED if outcome == "agreement" else DisputeStatus.FAILED
        dispute.concluded_at = timestamp
        dispute.agreed_at = timestamp if outcome == "agreement" else None
        dispute.case.handled_at = timestamp
        _audit(
            call,
            dispute,
            "dispute.concluded",
            after={"outcome": dispute.outcome, "sessions": dispute.session_count},
        )
    return {"number": dispute.session_count, "outcome": outcome}


@operators.register(
    "mediation.record_agreement", "登记调解协议: the signed agreement; schedules the follow-up"
)
def record_agreement(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    document_id = call.data.get("agreement_document")
    document = db.session.get(DisputeDocument, document_id) if isinstance(document_id, int) else None
    if document is None or document.dispute_id != dispute.id or document.kind != "agreement":
        raise InvalidInput(
            "not a signed agreement of this dispute",
            {"agreement_document": f"{document_id!r} is not an agreement document uploaded for this dispute"},
        )
    settings = runtime.settings().mediation
    timestamp = now()
    dispute.follow_up_at = timestamp + timedelta(days=settings.follow_up_days)
    dispute.follow_up_due_at = dispute.follow_up_at + timedelta(days=settings.follow_up_window_days)
    lifecycle.change_status(dispute.case, CaseStatus.FEEDBACK, call.actor)
    _audit(
        call,
        dispute,
        "dispute.agreement_signed",
        after={
            "document_id": document.id,
            "follow_up_at": dispute.follow_up_at.isoformat(),
            "follow_up_due_at": dispute.follow_up_due_at.isoformat(),
        },
        data={"sha256": document.sha256},
    )
    return {
        "document_id": document.id,
        "follow_up_at": dispute.follow_up_at.isoformat(),
        "follow_up_due_at": dispute.follow_up_due_at.isoformat(),
    }


@operators.register(
    "mediation.record_follow_up", "回访: is the agreement kept, how satisfied are the parties"
)
def record_follow_up(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    timestamp = now()
    dispute.follow_up_done_at = timestamp
    dispute.agreement_kept = call.data.get("agreement_kept")
    dispute.satisfaction = call.data.get("satisfaction")
    on_time = dispute.follow_up_due_at is None or timestamp <= as_utc(dispute.follow_up_due_at)
    _audit(
        call,
        dispute,
        "dispute.followed_up",
        after={"agreement_kept": dispute.agreement_kept, "satisfaction": dispute.satisfaction},
        data={"on_time": on_time, "method": call.data.get("follow_up_method")},
    )
    return {"on_time": on_time}


@operators.register("mediation.refer", "转介: people's mediation committee, legal aid or court guidance")
def refer(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    referral = _one_of(call.data.get("referral_to"), REFERRALS, "referral_to")
    reason = (call.data.get("referral_reason") or "").strip()
    if not reason:
        raise InvalidInput("a referral needs a reason", {"referral_reason": "required"})
    dispute.referral_to, dispute.referral_reason = referral, reason
    _audit(call, dispute, "dispute.referred", after={"referral_to": referral}, data={"reason": reason})
    return {"referral_to": referral}


@operators.register("mediation.close", "调解结案: the dispute is closed (the case closes next)")
def close(call: OperatorCall) -> dict[str, Any]:
    dispute = _dispute(call)
    dispute.status, dispute.closed_at = DisputeStatus.CLOSED, now()
    _audit(
        call,
        dispute,
        "dispute.closed",
        after={"outcome": dispute.outcome, "referral_to": dispute.referral_to},
    )
    return {"outcome": dispute.outcome}
