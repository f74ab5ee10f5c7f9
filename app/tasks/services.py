"""Human tasks: inboxes, claim, unclaim, complete (validated against the task's form), reassign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Select, or_, select

from app.auth.models import User
from app.auth.roles import REASSIGNERS
from app.cases.models import Attachment, Case
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.workflow import instances
from app.workflow.forms import FormNotFound, FormRegistry, FormValidationError
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus

SEVERITY_ORDER = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}


class DatabaseFormReferences:
    """Resolves the references forms make (users by role, attachments of the case) against the database."""

    def existing_users_with_roles(self, usernames: set[str], roles: set[str]) -> set[str]:
        rows = db.session.execute(
            select(User.username).where(
                User.username.in_(usernames), User.role.in_(roles), User.active.is_(True)
            )
        ).scalars()
        return set(rows)

    def case_attachment_kinds(self, case_id: int, ids: set[int]) -> dict[int, str]:
        rows = db.session.execute(
            select(Attachment.id, Attachment.kind).where(
                Attachment.case_id == case_id, Attachment.id.in_(ids)
            )
        ).all()
        return {row.id: row.kind for row in rows}


def forms() -> FormRegistry:
    registry: FormRegistry = current_app.extensions["gridcase.forms"]
    return registry


# -- who may do what --------------------------------------------------------------------------------


def is_candidate(user: User, task: HumanTask) -> bool:
    """The task's lane/role and candidate scope admit this user."""
    if user.role not in task.roles:
        return False
    if task.candidate_user and task.candidate_user != user.username:
        return False
    return not (task.candidate_group and task.candidate_group != user.unit_code)


def can_see(user: User, task: HumanTask) -> bool:
    return (
        is_candidate(user, task)
        or task.assignee_id == user.id
        or task.completed_by_id == user.id
        or user.role in REASSIGNERS
    )


def _claimable_filter(user: User) -> Any:
    return (
        (HumanTask.status == TaskStatus.READY)
        & HumanTask.candidate_roles.contains(f",{user.role},")
        & or_(HumanTask.candidate_user.is_(None), HumanTask.candidate_user == user.username)
        & or_(HumanTask.candidate_group.is_(None), HumanTask.candidate_group == user.unit_code)
    )


def inbox_query(user: User, scope: str) -> Select[Any]:
    """Tasks for ``user``: ``mine`` (claimed by them), ``claimable`` (open to them), or ``all`` of both.

    Ordered by case severity, then due time (soonest first, none last), then age.
    """
    if scope == "mine":
        condition = (HumanTask.assignee_id == user.id) & (HumanTask.status == TaskStatus.CLAIMED)
    elif scope == "claimable":
        condition = _claimable_filter(user)
    elif scope == "all":
        condition = ((HumanTask.assignee_id == user.id) & (HumanTask.status == TaskStatus.CLAIMED)) | (
            _claimable_filter(user)
        )
    else:
        raise InvalidInput("unknown inbox scope", {"scope": f"{scope!r}: expected mine, claimable or all"})
    from sqlalchemy import case as sql_case

    severity_rank = sql_case(SEVERITY_ORDER, value=Case.severity, else_=9)
    return (
        select(HumanTask)
        .outerjoin(Case, Case.id == HumanTask.case_id)
        .where(condition)
        .order_by(severity_rank, HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    )


def get_task(user: User, task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None or not can_see(user, task):
        # Same answer for "absent" and "not yours": task ids are not a way to probe.
        raise NotFound(f"task {task_id} does not exist")
    return task


@dataclass(frozen=True)
class TaskForm:
    schema: dict[str, Any]
    ui_schema: dict[str, Any] | None


def task_form(task: HumanTask) -> TaskForm:
    if not task.form_key:
        return TaskForm({"type": "object", "properties": {}, "additionalProperties": False}, None)
    try:
        return TaskForm(forms().load(task.form_key), forms().ui_schema(task.form_key))
    except FormNotFound as exc:
        raise NotFound(str(exc)) from exc


# -- changes ----------------------------------------------------------------------------------------


def _locked(task_id: int) -> tuple[HumanTask, ProcessInstance, list[HumanTask]]:
    """Lock the task's instance, then re-read the task: decisions are made on the winner's view.

    The same read brings the instance's other open tasks and the case, which the step needs next
    (one round trip instead of three).
    """
    instance_id = select(HumanTask.instance_id).where(HumanTask.id == task_id).scalar_subquery()
    instance = instances.lock_instance_where(instance_id)
    if instance is None:
        raise NotFound(f"task {task_id} does not exist")
    rows = db.session.execute(
        select(HumanTask, Case)
        .outerjoin(Case, Case.id == HumanTask.case_id)
        .where(
            HumanTask.instance_id == instance.id,
            or_(HumanTask.id == task_id, HumanTask.status.in_(TaskStatus.OPEN)),
        )
        .execution_options(populate_existing=True)
    ).all()
    tasks = [row[0] for row in rows]
    task = next((t for t in tasks if t.id == task_id), None)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task, instance, [t for t in tasks if t.status in TaskStatus.OPEN]


def _locked_task(task_id: int) -> HumanTask:
    task, _, _ = _locked(task_id)
    return task


def claim(user: User, task_id: int) -> HumanTask:
    task = _locked_task(task_id)
    if not can_see(user, task):
        raise NotFound(f"task {task_id} does not exist")
    if task.status == TaskStatus.CLAIMED and task.assignee_id == user.id:
        return task
    if task.status != TaskStatus.READY:
        raise Conflict(f"task {task_id} is {task.status}", {"status": task.status})
    if not is_candidate(user, task):
        raise Forbidden(
            f"task {task_id} is not for your role or scope",
            {
                "candidate_roles": task.roles,
                "candidate_user": task.candidate_user,
                "candidate_group": task.candidate_group,
            },
        )
    task.status, task.assignee_id, task.claimed_at = TaskStatus.CLAIMED, user.id, now()
    instances.audit_task(
        "task.claimed",
        task,
        user,
        before={"status": TaskStatus.READY},
        after={"status": task.status},
    )
    return task


def unclaim(user: User, task_id: int) -> HumanTask:
    task = _locked_task(task_id)
    if not can_see(user, task):
        raise NotFound(f"task {task_id} does not exist")
    if task.status != TaskStatus.CLAIMED:
        raise Conflict(f"task {task_id} is {task.status}, not claimed", {"status": task.status})
    if task.assignee_id != user.id and user.role not in REASSIGNERS:
        raise Forbidden(f"task {task_id} is claimed by someone else")
    before = {"status": task.status, "assignee_id": task.assignee_id}
    task.status, task.assignee_id, task.claimed_at = TaskStatus.READY, None, None
    if task.candidate_user == user.username:
        # Handing back a task dispatched to you by name returns it to the pool of its roles.
        task.candidate_user = None
    instances.audit_task(
        "task.unclaimed",
        task,
        user,
        before=before,
        after={"status": task.status},
    )
    return task


def reassign(user: User, task_id: int, username: str) -> HumanTask:
    if user.role not in REASSIGNERS:
        raise Forbidden("only supervisors and admins may reassign tasks")
    task = _locked_task(task_id)
    if task.status not in TaskStatus.OPEN:
        raise Conflict(f"task {task_id} is {task.status}", {"status": task.status})
    target = db.session.execute(
        select(User).where(User.username == username, User.active.is_(True))
    ).scalar_one_or_none()
    if target is None:
        raise InvalidInput("unknown user", {"username": f"no active user {username!r}"})
    if target.role not in task.roles:
        raise InvalidInput(
            "user cannot take this task",
            {"username": f"{username!r} is a {target.role}; the task needs one of {task.roles}"},
        )
    before = {"status": task.status, "assignee_id": task.assignee_id, "candidate_user": task.candidate_user}
    task.candidate_user = target.username
    task.candidate_group = None
    task.status, task.assignee_id, task.claimed_at = TaskStatus.CLAIMED, target.id, now()
    instances.audit_task(
        "task.reassigned",
        task,
        user,
        before=before,
        after={"status": task.status, "assignee_id": target.id, "candidate_user": target.username},
    )
    return task


def complete(user: User, task_id: int, data: dict[str, Any]) -> instances.StepOutcome:
    """Validate ``data`` against the task's form and complete it. Exactly one of concurrent calls wins."""
    task, instance, open_tasks = _locked(task_id)
    if not can_see(user, task):
        raise NotFound(f"task {task_id} does not exist")
    if task.status not in TaskStatus.OPEN:
        raise Conflict(f"task {task_id} is already {task.status}", {"status": task.status})
    if task.status == TaskStatus.CLAIMED and task.assignee_id != user.id:
        raise Conflict(f"task {task_id} is claimed by someone else", {"status": task.status})
    if task.status == TaskStatus.READY and not is_candidate(user, task):
        raise Forbidden(f"task {task_id} is not for your role or scope")
    if not isinstance(data, dict):
        raise InvalidInput("form data must be a JSON object", {"data": "expected an object"})
    clean = data
    if task.form_key:
        try:
            clean = forms().validate(task.form_key, data, case_id=task.case_id, refs=DatabaseFormReferences())
        except FormValidationError as exc:
            raise InvalidInput(str(exc), {e["field"] or "data": e["message"] for e in exc.errors}) from exc
        except FormNotFound as exc:
            raise InvalidInput(str(exc), {"form": task.form_key}) from exc
    return instances.complete_task(task, clean, user, instance, open_tasks)


def task_data(task: HumanTask) -> dict[str, Any]:
    """The process data the (open) task sees: the defaults for its form. Empty once it is done."""
    if task.status not in TaskStatus.OPEN:
        return {}
    return instances.task_data(task.instance_id, task.spiff_task_id)
