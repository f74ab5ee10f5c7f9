"""A supervisor's actions on a case (督办): urge the current task, reassign the handling, extend the handling
time limit, comment. The case page and the API call these; each writes its audit event in the caller's
transaction (the request edge commits).

Who: supervisors and admins who can see the case (their grid scope); anyone else gets the same 404 as for a
case that does not exist. When the case waits on a 超期督办 (``supervise``) task, urge, reassign and extend
are that task's decision: the action completes it with the same data its form takes, so the diagram's
``case.apply_supervision`` does the work and the process moves on, whichever page the supervisor used.

Refusals are :class:`SupervisionRefused`: the field at fault and a ``code`` the pages put in words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.services import record, record_case_event
from app.auth.models import User
from app.auth.roles import REASSIGNERS
from app.cases import dispatch
from app.cases.models import Case, CaseStatus, Comment
from app.cases.services import add_comment, get_case
from app.clock import as_utc, now
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.tasks import services as tasks
from app.workflow import instances
from app.workflow.models import HumanTask, TaskStatus

SUPERVISORS = REASSIGNERS  # supervisors and admins
HANDLING_ELEMENTS = tasks.HANDLING_ELEMENTS  # handle, photo_proof: the handler's tasks
SUPERVISE_ELEMENT = "supervise"
OWN_ELEMENTS = ("supervise", "review")  # the supervisor's own tasks: nothing to urge there
# The timers the handling time limit drives (bpmn/case_handling.bpmn): an extension moves both.
LIMIT_TIMERS = {"timer_warn", "timer_overdue"}
MAX_EXTEND_HOURS = 240
MAX_TEXT = 1000


class SupervisionRefused(InvalidInput):
    """Bad input or a case in the wrong state for the action: nothing changed."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message, {field: message})
        self.field = field
        self.code = code


def supervised_case(user: User, key: str) -> Case:
    """The case, if ``user`` may supervise it; the same 404 for "not yours" as for "does not exist"."""
    if user.role not in SUPERVISORS:
        raise NotFound(f"case {key} does not exist")
    return get_case(user, key)


def _open_tasks(case: Case, elements: tuple[str, ...] | None = None) -> list[HumanTask]:
    statement = select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status.in_(TaskStatus.OPEN))
    if elements is not None:
        statement = statement.where(HumanTask.element_id.in_(elements))
    return list(db.session.execute(statement.order_by(HumanTask.id)).scalars())


def open_supervise_task(case: Case) -> HumanTask | None:
    found = _open_tasks(case, (SUPERVISE_ELEMENT,))
    return found[0] if found else None


def urgeable_tasks(case: Case) -> list[HumanTask]:
    """The case's current work: its open tasks other than the supervisor's own."""
    return [t for t in _open_tasks(case) if t.element_id not in OWN_ELEMENTS]


def _text(value: Any, field: str, *, required: bool) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise SupervisionRefused(field, "required", "must not be blank")
        return None
    if len(text) > MAX_TEXT:
        raise SupervisionRefused(field, "too_long", f"at most {MAX_TEXT} characters")
    return text


def _decide_supervise_task(user: User, task: HumanTask, data: dict[str, Any]) -> None:
    """Complete the open 超期督办 task with ``data`` (its form's fields): the diagram applies it."""
    tasks.complete(user, task.id, {k: v for k, v in data.items() if v is not None})


def urge(user: User, key: str, note: Any) -> list[HumanTask]:
    """催办: the current tasks' holders are urged (an audit event per task, shown on their task page)."""
    case = supervised_case(user, key)
    text = _text(note, "note", required=False)
    current = urgeable_tasks(case)
    supervise = open_supervise_task(case)
    if not current and supervise is None:
        raise SupervisionRefused("note", "nothing_to_urge", f"case {key} has no open task to urge")
    for task in current:
        record(
            "task.urged",
            entity_type="human_task",
            entity_id=task.id,
            actor=user,
            case_id=case.id,
            instance_id=task.instance_id,
            data={"name": task.name, "element_id": task.element_id, "note": text},
        )
    if supervise is not None:
        _decide_supervise_task(user, supervise, {"action": "urge", "supervise_note": text})
    return current


def urges_of(task: HumanTask) -> list[dict[str, Any]]:
    """The urges on ``task``, newest first: when, by whom, the note (for its holder's task page)."""
    events = db.session.execute(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.case_id == task.case_id,
            AuditEvent.action == "task.urged",
            AuditEvent.entity_id == str(task.id),
        )
        .order_by(AuditEvent.id.desc())
    ).all()
    return [
        {
            "at": as_utc(event.occurred_at),
            "by": name or event.actor_label,
            "note": (event.data or {}).get("note"),
        }
        for event, name in events
    ]


def _handler(username: Any) -> User:
    name = username.strip() if isinstance(username, str) else ""
    if not name:
        raise SupervisionRefused("username", "required", "choose the new handler")
    user = db.session.execute(
        select(User).where(User.username == name, User.active.is_(True))
    ).scalar_one_or_none()
    if user is None:
        raise SupervisionRefused("username", "unknown_user", f"no active user {name!r}")
    if user.role not in ("grid_worker", "department_handler"):
        raise SupervisionRefused(
            "username", "not_a_handler", f"{name!r} is a {user.role}, not a grid worker or department handler"
        )
    return user


def reassign(user: User, key: str, username: Any, reason: Any) -> Case:
    """改派: the handling (the open handle / photo proof task) goes to another grid worker or handler."""
    case = supervised_case(user, key)
    target = _handler(username)
    text = _text(reason, "reason", required=True)
    supervise = open_supervise_task(case)
    if supervise is not None:
        _decide_supervise_task(
            user,
            supervise,
            {"action": "reassign", "new_handler_user": target.username, "supervise_note": text},
        )
        return case
    handling = _open_tasks(case, HANDLING_ELEMENTS)
    if not handling:
        raise SupervisionRefused("username", "not_handling", f"case {key} has no handling task to reassign")
    if case.handler_user == target.username:
        raise SupervisionRefused("username", "same_handler", f"{target.username!r} handles the case already")
    for task in handling:
        tasks.reassign(user, task.id, target.username, reason=text)
    return case


def extend(user: User, key: str, hours: Any, reason: Any) -> datetime:
    """延期: the handling time limit moves ``hours`` working hours later (its warning and overdue timers
    with it); counted as a postponement. Returns the new due time."""
    case = supervised_case(user, key)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_EXTEND_HOURS:
        raise SupervisionRefused(
            "hours", "hours_range", f"a whole number of hours from 1 to {MAX_EXTEND_HOURS}"
        )
    text = _text(reason, "reason", required=True)
    supervise = open_supervise_task(case)
    if supervise is not None:
        _decide_supervise_task(
            user, supervise, {"action": "extend", "extend_hours": hours, "supervise_note": text}
        )
        assert case.due_at is not None
        return as_utc(case.due_at)
    handling = _open_tasks(case, HANDLING_ELEMENTS)
    if case.status in CaseStatus.FINAL or case.due_at is None or not handling:
        raise SupervisionRefused("hours", "no_limit", f"case {key} has no running handling time limit")
    calendar = dispatch.calendar()
    before = as_utc(case.due_at)
    due = calendar.add_working_hours(before, hours)
    moved = instances.move_timers(
        handling[0].instance_id, LIMIT_TIMERS, lambda old: calendar.add_working_hours(old, hours), user
    )
    case.due_at, case.updated_at = due, now()
    case.postponed_count += 1
    for task in handling:
        task.due_at = due
    record_case_event(
        "case.time_limit_extended",
        case,
        actor=user,
        before={"due_at": before.isoformat()},
        after={"due_at": due.isoformat(), "postponed_count": case.postponed_count},
        data={"hours": hours, "reason": text, "timers": {k: v.isoformat() for k, v in moved.items()}},
    )
    return due


def comment(user: User, key: str, body: Any) -> Comment:
    """A supervisor's comment on the case (the same comment as the API's, audited as ``case.commented``)."""
    supervised_case(user, key)
    text = _text(body, "body", required=True)
    assert text is not None
    return add_comment(user, key, text)
