"""A case's lifecycle, in one place (DESIGN.md principle 11): the only code that opens a case or changes its
status, handler, escalation level or closing, each with its audit event in the same transaction. Every
domain that files cases (reports, sensors, emergencies, disputes) or moves them on calls these functions, so
a new path cannot forget the key, the audit event or the re-dispatch count."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, Unpack

from app.audit.services import Actor, record_case_event
from app.auth.models import User
from app.auth.roles import Role
from app.cases.models import Case, CaseStatus
from app.clock import now
from app.counters import increment
from app.errors import InvalidInput
from app.extensions import db
from app.workflow import instances

# A red report, a critical alarm and a launched plan all run bpmn/emergency_escalation.bpmn.
EMERGENCY_PROCESS_KEY = "emergency_escalation"
CLOSING_STATUSES = (CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN)


# -- opening ----------------------------------------------------------------------------------------


def next_case_key(year: int) -> str:
    """GC-<year>-<6 digits>, from a per-year counter incremented atomically in this transaction."""
    value = increment(f"case-{year}")
    return f"GC-{year}-{value:06d}"


def reporter_channel(user: User) -> str:
    """The source channel of what ``user`` files: a resident's or a grid worker's own, else the web."""
    if user.role == Role.RESIDENT:
        return "resident"
    return "grid_worker" if user.role == Role.GRID_WORKER else "web"


class CaseDetails(TypedDict):
    """What a new case says about itself; ``open_case`` adds its key, status, reporter and times."""

    title: str
    description: str
    category_code: str | None
    grid_code: str | None  # the deepest grid containing the location, if any
    lat: float | None
    lon: float | None
    address: str | None
    source_channel: str
    severity: str


def draft_case(key: str, **details: Any) -> Case:
    """A case as ``details`` describe it, never added to the session (a designer's test run reads the rules
    of dispatch and time limits with it): only ``open_case`` files one."""
    return Case(key=key, **details)


def open_case(
    *,
    reporter: User | None = None,
    actor_label: str | None = None,
    audit_data: dict[str, Any] | None = None,
    **details: Unpack[CaseDetails],
) -> Case:
    """File a new case (status ``reported``) under the next key and record ``case.reported``, as the
    ``reporter`` or, for a device, as ``actor_label``. The caller starts its process (``start_process``)
    once whatever the process reads (a dispute row, a photo) is in place."""
    timestamp = now()
    reporter_id = reporter.id if reporter is not None else None
    case = Case(
        **details,
        key=next_case_key(timestamp.year),
        reporter_id=reporter_id,
        status=CaseStatus.REPORTED,
        created_at=timestamp,
        updated_at=timestamp,
    )
    db.session.add(case)
    db.session.flush()
    snapshot = case_snapshot(case)
    record_case_event(
        "case.reported", case, actor=reporter, actor_label=actor_label, after=snapshot, data=audit_data
    )
    return case


def start_process(case: Case, process_key: str, variables: dict[str, Any], actor: User | None = None) -> None:
    """Start the case's process, its key the business key; the variables start with the case's id and key."""
    instances.start_instance(
        process_key,
        business_key=case.key,
        variables={"case_id": case.id, "case_key": case.key, **variables},
        case_id=case.id,
        actor=actor,
    )


# What ``case.reported`` records of a new case, in this order.
REPORTED_FIELDS = (
    "key",
    "title",
    "status",
    "severity",
    "category_code",
    "lat",
    "lon",
    "address",
    "source_channel",
)


def case_snapshot(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in REPORTED_FIELDS}


# -- status and closing -----------------------------------------------------------------------------


def change_status(case: Case, status: str, actor: Actor | None) -> bool:
    """Move an open case to ``status`` (the engine's position, or a dispute's); False when it is there
    already. Sending the photo proof to review marks the case handled."""
    if status == case.status:
        return False
    timestamp = now()
    if status == CaseStatus.REVIEW and case.status == CaseStatus.FEEDBACK:
        case.handled_at = timestamp
    _set_status(case, status, actor, timestamp)
    return True


def close_case(case: Case, status: str, actor: Actor | None, reject_reason: str | None = None) -> datetime:
    """End the case as closed, rejected (with the reason) or withdrawn; returns when."""
    if status not in CLOSING_STATUSES:
        raise ValueError(f"case.finish cannot set status {status!r}")
    timestamp = now()
    if status == CaseStatus.REJECTED:
        case.reject_reason = reject_reason
    case.closed_at = timestamp
    _set_status(case, status, actor, timestamp, {"reason": reject_reason})
    return timestamp


def close_terminated(case: Case, reason: str, actor: Actor | None) -> datetime:
    """End the case as closed because an operator terminated its process (``reason``: theirs); the status
    change records that it was a termination, so KPIs and the timeline can tell it from a review."""
    timestamp = now()
    case.closed_at = timestamp
    _set_status(case, CaseStatus.CLOSED, actor, timestamp, {"reason": reason, "terminated": True})
    return timestamp


def reopen_case(
    case: Case,
    reason: str,
    *,
    actor: Actor | None = None,
    actor_label: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Reopen a closed, rejected or withdrawn case (``SENSOR_AFTER_CLOSED_CASE=reopen``: its device alarmed
    again while the alarm it was closed on was still on): status back to ``reported``, as a new case starts,
    ``closed_at`` cleared (it counts as closed once, when it closes again), ``case.reopened`` with why. Its
    other history stays (received, filed, first dispatch, closing limit). The caller starts its process."""
    if case.status not in CLOSING_STATUSES:
        raise ValueError(f"case {case.key} is {case.status}: a closed, rejected or withdrawn case reopens")
    timestamp = now()
    before = {
        "status": case.status,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "reject_reason": case.reject_reason,
    }
    case.status, case.updated_at = CaseStatus.REPORTED, timestamp
    case.closed_at = case.reject_reason = None
    record_case_event(
        "case.reopened",
        case,
        actor=actor,
        actor_label=actor_label,
        before=before,
        after={"status": case.status, "closed_at": None},
        data={"reason": reason, **(data or {})},
    )


def close_as_duplicate(case: Case, original: Case, actor: Actor | None) -> None:
    """End the case as a duplicate of ``original``, whose timeline notes the link."""
    if original.id == case.id:
        raise InvalidInput(
            "duplicate_of: a case cannot duplicate itself", {"duplicate_of": "a case cannot duplicate itself"}
        )
    timestamp = now()
    case.duplicate_of_id, case.closed_at = original.id, timestamp
    _set_status(case, CaseStatus.DUPLICATE, actor, timestamp, {"duplicate_of": original.key})
    record_case_event("case.linked", original, actor=actor, data={"duplicate": case.key})


def _set_status(
    case: Case, status: str, actor: Actor | None, at: datetime, data: dict[str, Any] | None = None
) -> None:
    before = case.status
    case.status, case.updated_at = status, at
    record_case_event(
        "case.status_changed",
        case,
        actor=actor,
        before={"status": before},
        after={"status": status},
        data=data,
    )


# -- handler ----------------------------------------------------------------------------------------


def record_dispatch(
    case: Case,
    handler_user: str | None,
    handler_unit: str | None,
    at: datetime,
    proposal: Any = None,
    actor: Actor | None = None,
    note: Any = None,
) -> None:
    """The first dispatch, at ``at``: when it differs from a proposal that named someone, the override is
    recorded."""
    case.handler_user, case.handler_unit = handler_user, handler_unit
    case.dispatched_at = at
    if not isinstance(proposal, dict):
        return
    proposed = {"handler_user": proposal.get("handler_user"), "handler_unit": proposal.get("handler_unit")}
    chosen = {"handler_user": handler_user, "handler_unit": handler_unit}
    if not any(proposed.values()) or proposed == chosen:
        return
    record_case_event(
        "case.dispatch_overridden",
        case,
        actor=actor,
        before=proposed,
        after=chosen,
        data={"reason": proposal.get("reason"), "note": note},
    )


def record_redispatch(
    case: Case,
    actor: Actor | None,
    handler_user: str | None,
    handler_unit: str | None,
    data: dict[str, Any],
    instance_id: int | None = None,
) -> bool:
    """A change of handler after the first dispatch: counted (against dispatch accuracy) and audited with
    ``data`` (what moved it: a supervisor's reassign, an escalation handing the case to a unit, …).

    Returns False (nothing recorded) when the handler stays the same, or the case was not dispatched yet
    (then this is the first dispatch, not a re-dispatch). Call it for every re-dispatch.
    """
    before = {"handler_user": case.handler_user, "handler_unit": case.handler_unit}
    after = {"handler_user": handler_user, "handler_unit": handler_unit}
    if before == after:
        return False
    case.handler_user, case.handler_unit = handler_user, handler_unit
    if case.dispatched_at is None:
        return False
    case.redispatch_count += 1
    record_case_event(
        "case.redispatched",
        case,
        actor=actor,
        instance_id=instance_id,
        before=before,
        after={**after, "redispatch_count": case.redispatch_count},
        data=data,
    )
    return True


# -- escalation -------------------------------------------------------------------------------------


def escalate(
    case: Case, level: str, at: datetime, actor: Actor | None, instance_id: int | None, data: dict[str, Any]
) -> None:
    """The case escalates to ``level`` (community, street, district) at ``at``, for the reason in ``data``."""
    before = case.escalation_level
    case.escalation_level, case.escalated_at, case.updated_at = level, at, at
    record_case_event(
        "case.escalated",
        case,
        actor=actor,
        instance_id=instance_id,
        before={"escalation_level": before},
        after={"escalation_level": level, "escalated_at": at.isoformat()},
        data=data,
    )
