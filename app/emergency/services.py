"""Emergency operations: launch a plan (启动预案), read an emergency with its responders and timings, list the
emergencies you may see, and post on-scene updates (现场反馈). Visibility is the cases' one rule
(``visible_cases``): an emergency whose case you cannot see is a 404 like one that does not exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.audit.services import record_case_event
from app.auth.models import User
from app.auth.roles import Role
from app.cases import lifecycle
from app.cases.models import Attachment, Case
from app.cases.services import get_case, visible_cases
from app.clock import now
from app.emergency import responders as team
from app.emergency.models import Emergency, EmergencyStatus, EmergencyUpdate
from app.emergency.plans import find_plan
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.grids.services import locate

# The command centre launches plans (supervisors and dispatchers), and admins.
LAUNCHERS = frozenset({Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN})
# Besides the responders themselves, who may post on-scene updates.
UPDATERS = frozenset(
    {
        Role.DISPATCHER,
        Role.SUPERVISOR,
        Role.ADMIN,
        Role.COMMUNITY_STAFF,
        Role.STREET_COORDINATOR,
        Role.DISTRICT_COORDINATOR,
    }
)
PLAN_EDITORS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def launch_plan(user: User, fields: dict[str, Any]) -> Emergency:
    """Open an emergency case from a plan of the library and start its process: every responder the plan
    names is dispatched at once. Refused (nothing written) for an unknown or inactive plan, or a plan none
    of whose responders is available."""
    if user.role not in LAUNCHERS:
        raise Forbidden(
            f"a {user.role} cannot launch emergency plans", {"role": f"needs one of {sorted(LAUNCHERS)}"}
        )
    code = fields["plan_code"]
    plan = find_plan(code)
    if plan is None:
        raise InvalidInput("unknown emergency plan", {"plan_code": f"no active emergency plan {code!r}"})
    lat, lon = fields.get("lat"), fields.get("lon")
    found = locate(lat, lon) if lat is not None and lon is not None else None
    grid_code = found.code if found is not None else None
    resolved, missing = team.resolve(list(plan.responders), grid_code)
    if not resolved:
        reasons = "; ".join(m.reason for m in missing) or "the plan names no responders"
        raise InvalidInput(
            "no responder available", {"plan_code": f"plan {code!r} has no available responder: {reasons}"}
        )
    case = lifecycle.open_case(
        title=fields.get("title") or plan.name,
        description=fields.get("description") or plan.description,
        category_code=None,
        grid_code=grid_code,
        lat=lat,
        lon=lon,
        address=fields.get("address"),
        source_channel="web",
        severity="red",
        reporter=user,
        audit_data={"plan_code": plan.code},
    )
    lifecycle.start_process(
        case,
        lifecycle.EMERGENCY_PROCESS_KEY,
        {
            "title": case.title,
            "category_code": None,
            "severity": case.severity,
            "grid_code": case.grid_code,
            "source_channel": case.source_channel,
            "reporter": user.username,
            "plan_code": plan.code,
        },
        user,
    )
    return emergency_of_case(case)


def emergency_of_case(case: Case) -> Emergency:
    emergency = db.session.execute(select(Emergency).where(Emergency.case_id == case.id)).scalar_one_or_none()
    if emergency is None:
        raise NotFound(f"case {case.key} is not an emergency", {"key": "not an emergency"})
    return emergency


def get_emergency(user: User, key: str) -> tuple[Emergency, Case]:
    case = get_case(user, key)
    return emergency_of_case(case), case


def list_emergencies(user: User, status: str | None = None) -> Select[Any]:
    """The emergencies of the cases ``user`` sees, newest first."""
    visible = visible_cases(user).with_only_columns(Case.id).scalar_subquery()
    query = select(Emergency).options(selectinload(Emergency.case)).where(Emergency.case_id.in_(visible))
    if status is not None:
        query = query.where(Emergency.status == status)
    return query.order_by(Emergency.started_at.desc(), Emergency.id.desc())


def _is_responder(user: User, emergency: Emergency) -> bool:
    return any(
        (row.unit_code is not None and row.unit_code == user.unit_code) or row.username == user.username
        for row in emergency.responders
    )


def add_update(user: User, key: str, note: str, attachment_ids: list[int]) -> EmergencyUpdate:
    """An on-scene update from a responder (a member of a responder unit, or the worker sent) or from the
    command centre and coordinators: a note and photos already uploaded to the case."""
    emergency, case = get_emergency(user, key)
    if not (user.role in UPDATERS or _is_responder(user, emergency)):
        raise Forbidden("only responders and the command centre post on-scene updates", {"role": user.role})
    if emergency.status in (EmergencyStatus.CLOSED, EmergencyStatus.REVIEWED):
        raise Conflict(f"the emergency of case {key} is {emergency.status}", {"status": emergency.status})
    wanted = list(dict.fromkeys(attachment_ids))
    if wanted:
        found = set(
            db.session.execute(
                select(Attachment.id).where(Attachment.case_id == case.id, Attachment.id.in_(wanted))
            ).scalars()
        )
        unknown = [i for i in wanted if i not in found]
        if unknown:
            raise InvalidInput(
                "unknown photos",
                {"attachment_ids": f"not photos of case {key}: {', '.join(map(str, unknown))}"},
            )
    unit = (
        user.unit_code
        if user.unit_code and any(r.unit_code == user.unit_code for r in emergency.responders)
        else None
    )
    update = EmergencyUpdate(
        emergency_id=emergency.id,
        author_id=user.id,
        unit_code=unit,
        note=note,
        attachment_ids=wanted,
        created_at=now(),
    )
    db.session.add(update)
    db.session.flush()
    record_case_event(
        "emergency.scene_update",
        case,
        actor=user,
        data={"update_id": update.id, "unit": unit, "note": note, "attachment_ids": wanted},
    )
    return update


def updates_of(emergency: Emergency) -> list[EmergencyUpdate]:
    return list(
        db.session.execute(
            select(EmergencyUpdate)
            .where(EmergencyUpdate.emergency_id == emergency.id)
            .order_by(EmergencyUpdate.id)
        ).scalars()
    )


def view(emergency: Emergency, case: Case) -> dict[str, Any]:
    """What the command centre reads: the case, the plan, timings, who reported in and who did not."""
    plan = find_plan(emergency.plan_code, active_only=False)
    updates = updates_of(emergency)
    user_ids = {r.acknowledged_by_id for r in emergency.responders if r.acknowledged_by_id} | {
        u.author_id for u in updates
    }
    usernames = _usernames(user_ids)
    return {
        "case_key": case.key,
        "title": case.title,
        "case_status": case.status,
        "severity": case.severity,
        "grid_code": case.grid_code,
        "escalation_level": case.escalation_level,
        "trigger": emergency.trigger,
        "status": emergency.status,
        "plan_code": emergency.plan_code,
        "plan_name": plan.name if plan else None,
        "checklist": emergency.checklist,
        "started_at": emergency.started_at,
        "timings": {
            "first_ack_at": emergency.first_ack_at,
            "all_ack_at": emergency.all_ack_at,
            "controlled_at": emergency.controlled_at,
            "closed_at": emergency.closed_at,
            "first_ack_seconds": emergency.first_ack_seconds,
            "all_ack_seconds": emergency.all_ack_seconds,
            "control_seconds": emergency.control_seconds,
            "close_seconds": emergency.close_seconds,
        },
        "counts": team.counts(emergency),
        "responders": [
            {
                "position": row.position,
                "unit": row.unit_code,
                "user": row.username,
                "label": row.label,
                "limit": row.report_in_limit,
                "status": row.status,
                "level": row.level,
                "misses": row.misses,
                "dispatched_at": row.dispatched_at,
                "report_in_due": row.report_in_due,
                "acknowledged_at": row.acknowledged_at,
                "acknowledged_by": usernames.get(row.acknowledged_by_id) if row.acknowledged_by_id else None,
                "responsible_person": row.responsible_person,
                "eta_minutes": row.eta_minutes,
            }
            for row in emergency.responders
        ],
        "updates": [
            {
                "id": u.id,
                "author": usernames.get(u.author_id),
                "unit": u.unit_code,
                "note": u.note,
                "attachment_ids": u.attachment_ids,
                "created_at": u.created_at,
            }
            for u in updates
        ],
        "review": {
            "cause": emergency.cause,
            "timeline_summary": emergency.timeline_summary,
            "improvements": emergency.improvements,
            "reviewed_at": emergency.reviewed_at,
        },
    }


def _usernames(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()
    return {user_id: username for user_id, username in rows}
