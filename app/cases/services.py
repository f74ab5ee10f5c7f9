"""Case operations: report, find, read the timeline, comment, attach photos, withdraw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.audit.models import AuditEvent
from app.audit.services import record
from app.auth.models import User
from app.auth.roles import REPORTERS, SEE_ALL_CASES, Role
from app.cases import photos
from app.cases.models import Attachment, Case, CaseStatus, Comment, KeyCounter
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.extensions import db
from app.jobs import enqueue
from app.workflow import instances
from app.workflow.models import HumanTask, ProcessInstance

CASE_PROCESS_KEY = "case_handling"


def _settings() -> Any:
    return current_app.extensions["gridcase.settings"]


# -- keys -------------------------------------------------------------------------------------------


def next_case_key(year: int) -> str:
    """GC-<year>-<6 digits>, from a per-year counter incremented atomically in this transaction."""
    name = f"case-{year}"
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(KeyCounter).values(name=name, value=0).on_conflict_do_nothing())
    value = db.session.execute(
        update(KeyCounter)
        .where(KeyCounter.name == name)
        .values(value=KeyCounter.value + 1)
        .returning(KeyCounter.value)
    ).scalar_one()
    return f"GC-{year}-{value:06d}"


# -- visibility -------------------------------------------------------------------------------------


def visible_cases(user: User) -> Select[Any]:
    """Cases ``user`` may see. Dispatchers, supervisors and admins see all; others their own work."""
    query = select(Case)
    if user.role in SEE_ALL_CASES:
        return query
    if user.role == Role.RESIDENT:
        return query.where(Case.reporter_id == user.id)
    if user.role in (Role.GRID_WORKER, Role.DEPARTMENT_HANDLER):
        involved = select(HumanTask.case_id).where(
            or_(
                HumanTask.assignee_id == user.id,
                HumanTask.completed_by_id == user.id,
                HumanTask.candidate_user == user.username,
                (HumanTask.candidate_group == user.unit_code) if user.unit_code else false(),
            )
        )
        return query.where(or_(Case.reporter_id == user.id, Case.id.in_(involved)))
    return query.where(false())


def get_case(user: User, key: str) -> Case:
    case = db.session.execute(visible_cases(user).where(Case.key == key)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"case {key} does not exist")
    return case


@dataclass(frozen=True)
class CaseFilters:
    status: str | None = None
    category_code: str | None = None
    severity: str | None = None
    source_channel: str | None = None
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None


def list_cases(user: User, filters: CaseFilters) -> Select[Any]:
    query = visible_cases(user)
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.category_code:
        query = query.where(Case.category_code.startswith(filters.category_code))
    if filters.severity:
        query = query.where(Case.severity == filters.severity)
    if filters.source_channel:
        query = query.where(Case.source_channel == filters.source_channel)
    if filters.q:
        pattern = f"%{filters.q}%"
        query = query.where(
            or_(Case.title.ilike(pattern), Case.key == filters.q, Case.address.ilike(pattern))
        )
    if filters.created_from:
        query = query.where(Case.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(Case.created_at < filters.created_to)
    if filters.overdue is not None:
        query = query.where(Case.overdue_at.is_not(None) if filters.overdue else Case.overdue_at.is_(None))
    return query.order_by(Case.created_at.desc(), Case.id.desc())


# -- reporting --------------------------------------------------------------------------------------


def report_case(user: User, fields: dict[str, Any]) -> Case:
    """File a new case and start its process. ``fields`` were validated by the API schema."""
    if user.role not in REPORTERS:
        raise Forbidden(f"a {user.role} cannot report cases")
    timestamp = now()
    channel = fields.get("source_channel") or (
        "resident"
        if user.role == Role.RESIDENT
        else "grid_worker"
        if user.role == Role.GRID_WORKER
        else "web"
    )
    case = Case(
        key=next_case_key(timestamp.year),
        title=fields["title"],
        description=fields.get("description") or "",
        category_code=fields.get("category_code"),
        lat=fields.get("lat"),
        lon=fields.get("lon"),
        address=fields.get("address"),
        source_channel=channel,
        reporter_id=user.id,
        severity=fields.get("severity") or "blue",
        status=CaseStatus.REPORTED,
        created_at=timestamp,
        updated_at=timestamp,
    )
    db.session.add(case)
    db.session.flush()
    record(
        "case.reported",
        entity_type="case",
        entity_id=case.key,
        actor=user,
        case_id=case.id,
        after=case_snapshot(case),
    )
    instances.start_instance(
        CASE_PROCESS_KEY,
        business_key=case.key,
        variables={
            "case_id": case.id,
            "case_key": case.key,
            "title": case.title,
            "category_code": case.category_code,
            "severity": case.severity,
            "source_channel": case.source_channel,
            "reporter": user.username,
            "time_limit_hours": _settings().default_time_limit_hours,
        },
        case_id=case.id,
        actor=user,
    )
    return case


def case_snapshot(case: Case) -> dict[str, Any]:
    return {
        "key": case.key,
        "title": case.title,
        "status": case.status,
        "severity": case.severity,
        "category_code": case.category_code,
        "lat": case.lat,
        "lon": case.lon,
        "address": case.address,
        "source_channel": case.source_channel,
    }


def case_instance(case: Case) -> ProcessInstance:
    instance = (
        db.session.execute(
            select(ProcessInstance)
            .where(ProcessInstance.case_id == case.id)
            .order_by(ProcessInstance.id.desc())
        )
        .scalars()
        .first()
    )
    if instance is None:
        raise NotFound(f"case {case.key} has no process instance")
    return instance


def withdraw(user: User, key: str, reason: str) -> Case:
    """The reporter withdraws a report that has not been accepted yet (message ``report_withdrawn``)."""
    case = get_case(user, key)
    if case.reporter_id != user.id:
        raise Forbidden("only the reporter can withdraw a report")
    if case.status != CaseStatus.TRIAGE:
        raise Conflict(
            f"case {key} is {case.status}; only reports awaiting triage can be withdrawn",
            {"status": case.status},
        )
    instances.correlate_message(
        "report_withdrawn",
        {"reason": reason, "by": user.username},
        instance_id=case_instance(case).id,
        actor=user,
    )
    return case


# -- timeline, comments ----------------------------------------------------------------------------


def timeline(user: User, key: str) -> Select[Any]:
    case = get_case(user, key)
    return select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)


def add_comment(user: User, key: str, body: str) -> Comment:
    case = get_case(user, key)
    comment = Comment(case_id=case.id, author_id=user.id, body=body, created_at=now())
    db.session.add(comment)
    db.session.flush()
    record(
        "case.commented",
        entity_type="comment",
        entity_id=comment.id,
        actor=user,
        case_id=case.id,
        data={"body": body},
    )
    return comment


def comments(user: User, key: str) -> Select[Any]:
    case = get_case(user, key)
    return select(Comment).where(Comment.case_id == case.id).order_by(Comment.id)


# -- attachments ------------------------------------------------------------------------------------


def add_attachment(user: User, key: str, data: bytes, original_name: str | None, kind: str) -> Attachment:
    case = get_case(user, key)
    if case.status in CaseStatus.FINAL:
        raise Conflict(f"case {key} is {case.status}; no more photos", {"status": case.status})
    settings = _settings()
    try:
        info = photos.inspect_image(data, settings.max_upload_bytes)
    except photos.UploadRejected as exc:
        error = {413: PayloadTooLarge, 415: UnsupportedMediaType}.get(exc.status, InvalidInput)
        raise error(exc.reason, {exc.field: exc.reason}) from exc
    storage_path = photos.store_blob(settings.upload_folder, data, info)
    attachment = Attachment(
        case_id=case.id,
        uploaded_by_id=user.id,
        kind=kind,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        storage_path=storage_path,
        original_name=(original_name or "")[:200] or None,
        width=info.width,
        height=info.height,
        taken_at=info.taken_at,
        gps_lat=info.gps_lat,
        gps_lon=info.gps_lon,
        created_at=now(),
    )
    db.session.add(attachment)
    db.session.flush()
    record(
        "attachment.added",
        entity_type="attachment",
        entity_id=attachment.id,
        actor=user,
        case_id=case.id,
        after={
            "kind": kind,
            "sha256": info.sha256,
            "content_type": info.content_type,
            "size": info.size,
            "taken_at": info.taken_at.isoformat() if info.taken_at else None,
            "gps": [info.gps_lat, info.gps_lon] if info.gps_lat is not None else None,
        },
    )
    enqueue("photos", "app.cases.jobs.make_thumbnail", attachment.id)
    return attachment


def get_attachment(user: User, attachment_id: int) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"attachment {attachment_id} does not exist")
    case = db.session.get(Case, attachment.case_id)
    if (
        case is None
        or db.session.execute(
            visible_cases(user).where(Case.id == case.id).with_only_columns(func.count())
        ).scalar_one()
        == 0
    ):
        raise NotFound(f"attachment {attachment_id} does not exist")
    return attachment


def attachment_file(user: User, attachment_id: int, thumbnail: bool = False) -> tuple[Path, str]:
    """Where the photo (or its thumbnail, when made) is on disk, and its content type."""
    attachment = get_attachment(user, attachment_id)
    folder = _settings().upload_folder
    if thumbnail and attachment.thumbnail_path:
        return folder / attachment.thumbnail_path, "image/jpeg"
    return folder / attachment.storage_path, attachment.content_type


def attachments(user: User, key: str) -> list[Attachment]:
    case = get_case(user, key)
    return list(
        db.session.execute(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
        ).scalars()
    )


def attachment_kind_valid(kind: str) -> str:
    from app.cases.models import ATTACHMENT_KINDS

    if kind not in ATTACHMENT_KINDS:
        raise InvalidInput(
            "unknown attachment kind", {"kind": f"{kind!r}: expected one of {list(ATTACHMENT_KINDS)}"}
        )
    return kind
