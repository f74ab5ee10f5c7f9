"""Case operations: report, find, read the timeline, comment, attach photos, withdraw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, any_, exists, func, or_, select, true, union_all
from sqlalchemy import case as sql_case
from sqlalchemy.orm import aliased

from app import runtime
from app.audit.models import AuditEvent
from app.audit.services import record, record_case_event
from app.auth.models import User
from app.auth.roles import REPORTERS, STAFF_ROLES
from app.cases import lifecycle, photos
from app.cases.dispatch import unlocated_reason
from app.cases.jobs import make_thumbnail
from app.cases.models import Attachment, Case, CaseStatus, Comment
from app.categories.models import Category
from app.categories.services import get_category
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.extensions import db
from app.grids.scope import in_subtrees, scope_of
from app.grids.services import locate
from app.inputs import contains_text
from app.jobs import PHOTOS_QUEUE, enqueue
from app.timelimits.calendar import SEVERITIES
from app.workflow import instances
from app.workflow.models import HumanTask, ProcessInstance
from app.workflow.operations import OPERATOR_ACTIONS

CASE_PROCESS_KEY = "case_handling"




# -- visibility -------------------------------------------------------------------------------------


def visible_cases(user: User) -> Select[Any]:
    """Cases ``user`` may see: the one place that decides it (rules in ``app/grids/scope.py``).

    Every read of a case goes through here: list and search, get, timeline, comments, attachments and
    their files, process instances, task inboxes and KPIs."""
    return select(Case).where(case_visible_to(user))


def case_visible_to(user: User, one_case: bool = False, own_work: bool = True) -> ColumnElement[bool]:
    """The condition on ``Case`` columns behind ``visible_cases``, for queries that join ``Case`` already
    (the task inbox). ``one_case``: for a query about a single case (``is_case_visible``). ``own_work``:
    include the cases the user has a task on; the inbox leaves it out for tasks offered by role, which go
    to the people whose territory (or unit, or report) the case is in."""
    scope = scope_of(user)
    if scope.everything:
        return true()
    conditions: list[ColumnElement[bool]] = [Case.reporter_id == user.id]
    if scope.grid_codes:
        conditions.append(in_subtrees(Case.grid_code, scope.grid_codes))
    if scope.unlocated:
        conditions.append(Case.grid_code.is_(None))
    if scope.unit_code:
        conditions.append(Case.handler_unit == scope.unit_code)
    if own_work:
        conditions.append(_involved(user, scope.unit_code, one_case))
    return or_(*conditions)


# Up to this many tasks, a user's own work is handed to PostgreSQL as a list of case ids (an InitPlan array),
# which keeps every branch of the visibility OR indexable: a BitmapOr instead of a scan of every case. Beyond
# it (the command centre, who triages nearly every case) probing each id costs more than checking the
# cases one by one, and those users' grids already cover nearly all of them, so the check rarely runs.
INVOLVEMENT_ID_LIST_LIMIT = 20_000


# An alias: the task inbox selects from human_task too, and these subqueries must not correlate to it. Made
# once: a new alias builds its column collection again on first use, which costs more than the query.
_OWN_TASK = aliased(HumanTask, name="own_task")


def _involved(user: User, unit_code: str | None, one_case: bool = False) -> ColumnElement[bool]:
    """The case is one of ``user``'s own work: they hold, held, completed or are named on one of its tasks
    (or their unit is). Each branch is served by its own index on ``human_task``."""
    task = _OWN_TASK
    branches = [
        task.assignee_id == user.id,
        task.completed_by_id == user.id,
        task.candidate_user == user.username,
    ]
    if unit_code:
        branches.append(task.candidate_group == unit_code)
    if one_case:
        # One case: its own few tasks, by the index on case_id. The list-or-probe choice below is for
        # queries over many cases; here it would only cost its counting queries (same answer either way).
        return exists().where(task.case_id == Case.id, or_(*branches)).correlate(Case)
    case_ids = union_all(*(select(task.case_id).where(branch) for branch in branches))
    if db.session.get_bind().dialect.name != "postgresql":
        return Case.id.in_(case_ids)
    if _more_tasks_than(task, INVOLVEMENT_ID_LIST_LIMIT, branches[0], *branches[3:]):
        return exists().where(task.case_id == Case.id, or_(*branches)).correlate(Case)
    return Case.id == any_(func.array(case_ids.scalar_subquery()))


def _more_tasks_than(task: Any, limit: int, *conditions: ColumnElement[bool]) -> bool:
    """Some condition on ``task`` (an alias of HumanTask) matches more than ``limit`` tasks: an index read
    that stops at ``limit + 1``."""
    for condition in conditions:
        capped = select(task.id).where(condition).limit(limit + 1).subquery()
        if db.session.execute(select(func.count()).select_from(capped)).scalar_one() > limit:
            return True
    return False


def is_case_visible(user: User, case_id: int) -> bool:
    return (
        db.session.execute(
            select(func.count())
            .select_from(Case)
            .where(Case.id == case_id, case_visible_to(user, one_case=True))
        ).scalar_one()
        > 0
    )


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
        query = query.where(
            or_(
                contains_text(Case.title, filters.q),
                Case.key == filters.q,
                contains_text(Case.address, filters.q),
            )
        )
    if filters.created_from:
        query = query.where(Case.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(Case.created_at < filters.created_to)
    if filters.overdue is not None:
        query = query.where(Case.overdue_at.is_not(None) if filters.overdue else Case.overdue_at.is_(None))
    # Most urgent first (red → orange → yellow → blue), newest first within a severity.
    return query.order_by(severity_rank(), Case.created_at.desc(), Case.id.desc())


def severity_rank() -> ColumnElement[int]:
    """0 for red … 3 for blue: ``ORDER BY`` this to put the most urgent first."""
    return sql_case(
        {severity: rank for rank, severity in enumerate(SEVERITIES)}, value=Case.severity, else_=9
    )


# -- reporting --------------------------------------------------------------------------------------


def report_case(user: User, fields: dict[str, Any]) -> Case:
    """File a new case and start its process. ``fields`` were validated by the API schema.

    The category (optional: triage may set it) must be in the active catalogue; it gives the default
    severity and the process. The location gives the grid (the deepest one containing it); a case with no
    location, or outside every grid, has none and the dispatcher is told why (``case.unlocated``).
    """
    if user.role not in REPORTERS:
        raise Forbidden(f"a {user.role} cannot report cases")
    category = _reported_category(fields.get("category_code"))
    grid_code = _grid_of(fields.get("lat"), fields.get("lon"))
    channel = fields.get("source_channel") or lifecycle.reporter_channel(user)
    case = lifecycle.open_case(
        title=fields["title"],
        description=fields.get("description") or "",
        category_code=category.code if category else None,
        grid_code=grid_code,
        lat=fields.get("lat"),
        lon=fields.get("lon"),
        address=fields.get("address"),
        source_channel=channel,
        severity=fields.get("severity") or (category.default_severity if category else "blue"),
        reporter=user,
    )
    unlocated = unlocated_reason(case)
    if unlocated is not None:
        record_case_event(
            "case.unlocated",
            case,
            actor=user,
            data={"reason": unlocated, "lat": case.lat, "lon": case.lon},
        )
    # A red report is an emergency: it starts bpmn/emergency_escalation.bpmn, whatever its category's process.
    lifecycle.start_process(
        case,
        lifecycle.EMERGENCY_PROCESS_KEY
        if case.severity == "red"
        else category.process_key
        if category
        else CASE_PROCESS_KEY,
        {
            "title": case.title,
            "category_code": case.category_code,
            "severity": case.severity,
            "grid_code": case.grid_code,
            "unlocated": unlocated,
            "source_channel": case.source_channel,
            "reporter": user.username,
        },
        user,
    )
    return case


def _reported_category(code: str | None) -> Category | None:
    if not code:
        return None
    category = get_category(code)
    if category is None:
        raise InvalidInput(
            "unknown category", {"category_code": f"{code!r} is not an active category of the catalogue"}
        )
    return category


def _grid_of(lat: float | None, lon: float | None) -> str | None:
    if lat is None or lon is None:
        return None
    found = locate(lat, lon)
    return found.code if found is not None else None


def case_instance(case: Case) -> ProcessInstance:
    instance = (
        db.session.execute(
            select(ProcessInstance)
            .where(ProcessInstance.case_id == case.id, ProcessInstance.parent_id.is_(None))  # not a child
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


# The engine's own story (failures and their repairs: the designer's internals, an operator's reasons): for
# the staff who work the case, not for the resident who reported it.
ENGINE_REPAIR_ACTIONS = (
    "instance.failed",
    *OPERATOR_ACTIONS,
    "instance.migrated",
    "instance.migration_undone",
)


def timeline(user: User, key: str) -> Select[Any]:
    case = get_case(user, key)
    events = select(AuditEvent).where(AuditEvent.case_id == case.id)
    if user.role not in STAFF_ROLES:
        events = events.where(
            AuditEvent.action.not_like("incident.%"), AuditEvent.action.not_in(ENGINE_REPAIR_ACTIONS)
        )
    return events.order_by(AuditEvent.id)


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
    settings = runtime.settings()
    try:
        info = photos.inspect_image(data, settings.max_upload_bytes)
    except photos.UploadRejected as exc:
        error = {413: PayloadTooLarge, 415: UnsupportedMediaType}.get(exc.status, InvalidInput)
        raise error(exc.reason, {exc.field: exc.reason}) from exc
    return store_photo(case, data, info, kind, original_name, actor=user)


def store_photo(
    case: Case,
    data: bytes,
    info: photos.ImageInfo,
    kind: str,
    original_name: str | None,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    audit_data: dict[str, Any] | None = None,
) -> Attachment:
    """Store a checked image (``photos.inspect_image``) as a photo of the case, audited as ``actor`` (a
    user) or ``actor_label`` (a device), and queue its thumbnail: uploads and camera snapshots alike. The
    stored bytes are the image re-encoded (``photos.reencode``): nothing appended to an upload is kept."""
    data, info = photos.reencode(data, info)
    storage_path = photos.store_blob(runtime.settings().upload_folder, data, info)
    attachment = Attachment(
        case_id=case.id,
        uploaded_by_id=actor.id if actor is not None else None,
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
        actor=actor,
        actor_label=actor_label,
        case_id=case.id,
        after={
            "kind": kind,
            "sha256": info.sha256,
            "content_type": info.content_type,
            "size": info.size,
            "taken_at": info.taken_at.isoformat() if info.taken_at else None,
            "gps": [info.gps_lat, info.gps_lon] if info.gps_lat is not None else None,
        },
        data=audit_data,
    )
    enqueue(PHOTOS_QUEUE, make_thumbnail, attachment.id)
    return attachment


def get_attachment(user: User, attachment_id: int) -> Attachment:
    """The attachment, if its case is visible; the same 404 whether it is absent or not yours."""
    attachment = db.session.execute(
        select(Attachment)
        .join(Case, Case.id == Attachment.case_id)
        .where(Attachment.id == attachment_id, case_visible_to(user))
    ).scalar_one_or_none()
    if attachment is None:
        raise NotFound(f"attachment {attachment_id} does not exist")
    return attachment


def sees_photo_metadata(user: User) -> bool:
    """Staff keep a photo's evidence (EXIF place, time and camera); residents get the picture only."""
    return user.role in STAFF_ROLES


class _WithoutPlace:
    """An attachment as non-staff see it: everything but the place the photo was taken (EXIF GPS)."""

    gps_lat = None
    gps_lon = None

    def __init__(self, attachment: Attachment) -> None:
        self._attachment = attachment

    def __getattr__(self, name: str) -> Any:
        return getattr(self._attachment, name)


def attachment_for(user: User, attachment: Attachment) -> Any:
    """What ``user`` may read of ``attachment`` (dumped by the API's AttachmentSchema)."""
    return attachment if sees_photo_metadata(user) else _WithoutPlace(attachment)


def attachment_file(user: User, attachment_id: int, thumbnail: bool = False) -> tuple[Path, str]:
    """Where the photo (or its thumbnail, when made) is on disk, and its content type. Staff get the stored
    original; anyone else a copy without metadata, made on first download and kept next to it."""
    attachment = get_attachment(user, attachment_id)
    folder = runtime.settings().upload_folder
    if thumbnail and attachment.thumbnail_path:
        return folder / attachment.thumbnail_path, "image/jpeg"
    original = folder / attachment.storage_path
    if sees_photo_metadata(user):
        return original, attachment.content_type
    public = original.with_name(f"{original.stem}.public{original.suffix}")
    if not public.exists():
        photos.public_copy(original, public)
    return public, attachment.content_type


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
