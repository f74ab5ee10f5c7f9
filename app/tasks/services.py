"""Human tasks: inboxes, claim, unclaim, complete (validated against the task's form), reassign."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, or_, select, true

from app import runtime
from app.auth.models import User
from app.auth.roles import REASSIGNERS
from app.cases.lifecycle import record_redispatch
from app.cases.models import Attachment, Case
from app.cases.services import case_visible_to, is_case_visible
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.grids.scope import in_subtrees, scope_of
from app.http import paginate
from app.workflow import form_versions, instances, notices
from app.workflow.forms import FormNotFound, FormRegistry, FormValidationError
from app.workflow.models import TEST_RUN_GROUP, HumanTask, InstanceStatus, ProcessInstance, TaskStatus

SEVERITY_ORDER = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}


class DatabaseFormReferences:
    """Resolves the references forms make (users by role, attachments of the case) against the database."""

    def existing_users_with_roles(self, usernames: set[str], roles: set[str]) -> set[str]:
        params = {"usernames": sorted(usernames), "roles": sorted(roles)}
        return set(db.session.execute(_USERS_WITH_ROLES, params).scalars())

    def case_attachment_kinds(self, case_id: int, ids: set[int]) -> dict[int, str]:
        rows = db.session.execute(_ATTACHMENT_KINDS, {"case_id": case_id, "ids": sorted(ids)}).all()
        return {row.id: row.kind for row in rows}

    def existing_unit_codes(self, codes: set[str]) -> set[str]:
        from app.units.models import Unit

        rows = db.session.execute(select(Unit.code).where(Unit.code.in_(codes), Unit.active.is_(True)))
        return set(rows.scalars())


# Statements of the completion path, built once: building one costs more than running it.
_USERS_WITH_ROLES = select(User.username).where(
    User.username.in_(bindparam("usernames", expanding=True)),
    User.role.in_(bindparam("roles", expanding=True)),
    User.active.is_(True),
)
_ATTACHMENT_KINDS = select(Attachment.id, Attachment.kind).where(
    Attachment.case_id == bindparam("case_id"), Attachment.id.in_(bindparam("ids", expanding=True))
)
_TASK_AND_OPEN_SIBLINGS = (
    select(HumanTask, Case)
    .outerjoin(Case, Case.id == HumanTask.case_id)
    .where(
        HumanTask.instance_id == bindparam("instance_id"),
        or_(HumanTask.id == bindparam("task_id"), HumanTask.status.in_(TaskStatus.OPEN)),
    )
    .execution_options(populate_existing=True)
)


def forms() -> FormRegistry:
    registry = runtime.forms()
    return registry


# Forms completed per task at run time (an inspection campaign's checklist): form_key → a function of the task
# and the form file's schema giving the task's schema. Domains register them at start-up.
FormBuilder = Callable[[HumanTask, dict[str, Any]], dict[str, Any]]
_form_builders: dict[str, FormBuilder] = {}


def register_form_builder(form_key: str, builder: FormBuilder) -> None:
    _form_builders[form_key] = builder


def _built_schema(task: HumanTask) -> dict[str, Any] | None:
    builder = _form_builders.get(task.form_key or "")
    if builder is None or not task.form_key:
        return None
    return builder(task, copy.deepcopy(_frozen_schema(task)))


def _frozen_schema(task: HumanTask) -> dict[str, Any]:
    """The schema of the task's form as its deployment froze it (shared: never change it). A task created
    before forms were frozen has none recorded: the file in ``forms/`` (FormNotFound when it is gone)."""
    if task.form_version_id is not None:
        return form_versions.frozen_form(task.form_version_id).schema
    return forms().load(str(task.form_key))


def task_ui_schema(task: HumanTask) -> dict[str, Any] | None:
    """The UI hints of the task's form as its deployment froze them (shared: read only)."""
    return _frozen_ui_schema(task) if task.form_key else None


def _frozen_ui_schema(task: HumanTask) -> dict[str, Any] | None:
    if task.form_version_id is not None:
        return form_versions.frozen_form(task.form_version_id).ui_schema
    return forms().ui_schema(str(task.form_key))


# -- who may do what --------------------------------------------------------------------------------


def is_candidate(user: User, task: HumanTask) -> bool:
    """The task's lane/role and candidate scope admit this user."""
    if user.role not in task.roles:
        return False
    if task.candidate_user and task.candidate_user != user.username:
        return False
    return not (task.candidate_group and task.candidate_group != user.unit_code)


def offered_by_role_only(task: HumanTask) -> bool:
    """No named user and no unit narrows the task: whoever has the role and sees the case may take it."""
    return not task.candidate_user and not task.candidate_group


def can_see(user: User, task: HumanTask) -> bool:
    """Your own tasks (held, completed, or offered to you by name or to your unit) always; a task offered
    by role (or a supervisor's look at any task) only when you can see its case, or for a task without a
    case, when its grid (if it names one) is in your scope. A test run's task: nobody here (its page)."""
    if task.candidate_group == TEST_RUN_GROUP:
        return False
    if task.assignee_id == user.id or task.completed_by_id == user.id:
        return True
    candidate = is_candidate(user, task)
    if candidate and not offered_by_role_only(task):
        return True
    if not (candidate or user.role in REASSIGNERS):
        return False
    if task.case_id is None:
        return _caseless_in_scope(user, task.grid_code)
    return is_case_visible(user, task.case_id)


def _caseless_in_scope(user: User, grid_code: str | None) -> bool:
    """A task without a case that names a grid (``gridCode``) is for the staff of its subtree and ancestors,
    as a case in that grid would be; one naming no grid, for every holder of its roles."""
    if grid_code is None:
        return True
    scope = scope_of(user)
    return scope.everything or any(grid_code.startswith(root) for root in scope.grid_codes)


def _caseless_in_scope_filter(user: User) -> ColumnElement[bool]:
    """``_caseless_in_scope`` as a condition on ``HumanTask``."""
    scope = scope_of(user)
    if scope.everything:
        return true()
    return HumanTask.grid_code.is_(None) | in_subtrees(HumanTask.grid_code, scope.grid_codes)


def _claimable_filter(user: User) -> Any:
    """Ready tasks ``user`` may claim; ``Case`` must be (outer) joined for the visibility of role tasks.

    Written as three disjoint offers (to the user by name, to their unit, to their role only) so each branch
    is one index lookup (``candidate_user``, ``candidate_group``, and ``status`` with both empty): a single
    condition mixing them made PostgreSQL read every ready task of the district to keep a handful.
    """
    has_role = HumanTask.candidate_roles.contains(f",{user.role},")
    ready = HumanTask.status == TaskStatus.READY
    offers = [
        ready
        & (HumanTask.candidate_user == user.username)
        & or_(HumanTask.candidate_group.is_(None), HumanTask.candidate_group == user.unit_code),
        ready
        & HumanTask.candidate_user.is_(None)
        & HumanTask.candidate_group.is_(None)
        & or_(
            HumanTask.case_id.is_(None) & _caseless_in_scope_filter(user),
            # Not for a task without a case: the outer-joined NULL case would pass "unlocated" scopes.
            HumanTask.case_id.is_not(None) & case_visible_to(user, own_work=False),
        ),
    ]
    if user.unit_code:
        to_unit = HumanTask.candidate_group == user.unit_code
        offers.append(ready & HumanTask.candidate_user.is_(None) & to_unit)
    return has_role & or_(*offers)


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


def inbox(user: User, scope: str, page: int, page_size: int) -> dict[str, Any]:
    """A page of ``inbox_query`` (count and items)."""
    return paginate(inbox_query(user, scope), page, page_size)


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
        schema = _built_schema(task) or copy.deepcopy(_frozen_schema(task))
        return TaskForm(schema, copy.deepcopy(_frozen_ui_schema(task)))
    except FormNotFound as exc:
        raise NotFound(str(exc)) from exc


# -- changes ----------------------------------------------------------------------------------------


def _locked(task_id: int) -> tuple[HumanTask, ProcessInstance, list[HumanTask]]:
    """Lock the task's instance, then re-read the task: decisions are made on the winner's view.

    The same read brings the instance's other open tasks and the case, which the step needs next
    (one round trip instead of three).
    """
    instance = instances.lock_instance_of_task(task_id)
    if instance is None:
        raise NotFound(f"task {task_id} does not exist")
    params = {"instance_id": instance.id, "task_id": task_id}
    rows = db.session.execute(_TASK_AND_OPEN_SIBLINGS, params).all()
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


# The tasks whose holder is the case's handler (see bpmn/case_handling.bpmn).
HANDLING_ELEMENTS = ("handle", "photo_proof")


def reassign(user: User, task_id: int, username: str, reason: str | None = None) -> HumanTask:
    if user.role not in REASSIGNERS:
        raise Forbidden("only supervisors and admins may reassign tasks")
    task = _locked_task(task_id)
    if not can_see(user, task):
        raise NotFound(f"task {task_id} does not exist")
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
        data={"reason": reason} if reason else None,
    )
    if task.element_id in HANDLING_ELEMENTS and task.case_id is not None:
        # Handing the handling over is a re-dispatch: the handler changes, dispatch accuracy counts it.
        case = db.session.get(Case, task.case_id)
        if case is not None:
            how = {"via": "task reassign", **({"reason": reason} if reason else {})}
            record_redispatch(case, user, target.username, None, how)
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
    return instances.complete_task(task, validated_data(task, data), user, instance, open_tasks)


def validated_data(task: HumanTask, data: Any, *, test_run: bool = False) -> dict[str, Any]:
    """``data`` checked against the task's form (its frozen version, or the one built for it), normalised;
    FormDataInvalid names each field that fails. ``test_run``: a designer's test run (photo ids stand for
    test photos, ``app.workflow.forms``)."""
    if not isinstance(data, dict):
        raise InvalidInput("form data must be a JSON object", {"data": "expected an object"})
    if not task.form_key:
        return data
    try:
        refs, built = DatabaseFormReferences(), _built_schema(task)
        if built is None:
            return forms().validate_document(
                _frozen_schema(task),
                data,
                case_id=task.case_id,
                refs=refs,
                name=task.form_key,
                cached=task.form_version_id is not None,  # a frozen schema lives as long as the app
                test_run=test_run,
            )
        return forms().validate_document(
            built, data, case_id=task.case_id, refs=refs, name=task.form_key, test_run=test_run
        )
    except FormValidationError as exc:
        raise FormDataInvalid(str(exc), exc.field_errors) from exc
    except FormNotFound as exc:
        raise InvalidInput(str(exc), {"form": task.form_key}) from exc


class FormDataInvalid(InvalidInput):
    """Form data refused: ``details`` maps each field to its English message (what the API answers);
    ``field_errors`` keeps the JSON pointers and the zh-CN messages for the pages."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message, {e["field"] or "data": e["message"] for e in errors})
        self.field_errors = errors


def why_parked(task: HumanTask) -> str | None:
    """Why the open ``task`` cannot be completed now (its process waits for a repair, is suspended or was
    terminated), in the person's words; None when it can."""
    if task.status not in TaskStatus.OPEN:
        return None
    status = db.session.execute(
        select(ProcessInstance.status).where(ProcessInstance.id == task.instance_id)
    ).scalar_one()
    return None if status == InstanceStatus.RUNNING else notices.why_parked(status)


def task_data(task: HumanTask) -> dict[str, Any]:
    """The process data the (open) task sees: the defaults for its form. Empty once it is done."""
    if task.status not in TaskStatus.OPEN:
        return {}
    return instances.task_data(task.instance_id, task.spiff_task_id)
