"""发起流程: the processes a person may start from a start form, and starting one.

A process is startable when the start event of its published version names a form and the roles that may start
it (``app/workflow/start_forms.py``); the deployment froze that form (``form_versions``), and the start page
and the validation use the frozen one. Starting validates the data like a task form (every field named,
nothing written when refused), places the instance in one of the starter's grids, opens a case first when the
process says so (the case service: ``cases.lifecycle``), and audits who started what with which data. The
pages (``app/web/start.py``) and the API (``startable_api.py``) both call this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.services import record
from app.auth.models import User
from app.auth.roles import Role
from app.cases import lifecycle
from app.cases.models import Case
from app.cases.services import case_instance
from app.categories.services import get_category
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.grids.models import Grid
from app.grids.scope import GRID_SCOPED_ROLES, assigned_grid_codes
from app.tasks import services as tasks
from app.workflow import form_versions, instances, publication
from app.workflow.forms import FormNotFound, FormValidationError
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance, TaskStatus

STARTED_ACTION = "process.started_from_form"


@dataclass(frozen=True)
class Startable:
    """One process of the catalogue, as its published version declares it."""

    key: str
    name: str
    version: int
    form: str
    candidate_roles: list[str]
    starts_case: bool
    case_category: str | None
    definition_id: int

    @classmethod
    def of(cls, definition: ProcessDefinition) -> Startable:
        declared = definition.start_form or {}
        return cls(
            definition_id=definition.id,
            key=definition.key,
            name=definition.name,
            version=definition.version,
            form=declared["form"],
            candidate_roles=list(declared["candidate_roles"]),
            starts_case=bool(declared["starts_case"]),
            case_category=declared.get("case_category"),
        )


@dataclass(frozen=True)
class Started:
    """What a start did: the instance, its case if it opened one, and the starter's first task if any."""

    instance: ProcessInstance
    version: int
    grid_code: str | None
    case: Case | None
    task: HumanTask | None


def _newest_versions() -> list[ProcessDefinition]:
    """Only a process's published version starts new instances (as for a category's or a message's start)."""
    return sorted(publication.published_definitions("bpmn"), key=lambda d: (d.name, d.key))


def startable_for(user: User) -> list[Startable]:
    """The catalogue of ``user``: every process whose published version lets their role start it."""
    found = [Startable.of(d) for d in _newest_versions() if d.start_form]
    return [s for s in found if user.role in s.candidate_roles]


def get_startable(user: User, key: str) -> Startable:
    """404 when no published version of ``key`` has a start form; 403 when it is not for ``user``'s role."""
    definition = next((d for d in _newest_versions() if d.key == key and d.start_form), None)
    if definition is None:
        raise NotFound(f"process '{key}' cannot be started from a form")
    startable = Startable.of(definition)
    if user.role not in startable.candidate_roles:
        raise Forbidden(
            f"a {user.role} may not start '{key}'", {"candidate_roles": startable.candidate_roles}
        )
    return startable


def starter_grids(user: User) -> list[str]:
    """The grids ``user`` may start a process in: the grids assigned to them (staff of grids); empty for
    roles without grids (the instance then has none)."""
    if user.role in GRID_SCOPED_ROLES:
        return sorted(assigned_grid_codes(user.id))
    return []


def _grid_for(user: User, requested: str | None) -> str | None:
    """The grid the new instance belongs to: one of the starter's (the only one when they hold one)."""
    if user.role in GRID_SCOPED_ROLES:
        mine = starter_grids(user)
        if not mine:
            raise InvalidInput("no grid", {"grid_code": "you are assigned to no grid to start this in"})
        if requested is None:
            if len(mine) > 1:
                raise InvalidInput(
                    "choose a grid", {"grid_code": f"choose one of your grids: {', '.join(mine)}"}
                )
            return mine[0]
        if requested not in mine:
            raise InvalidInput("not your grid", {"grid_code": f"{requested!r} is not one of your grids"})
        return requested
    if requested is None:
        return None
    if user.role != Role.ADMIN:
        raise InvalidInput("no grid", {"grid_code": "your role starts processes without a grid"})
    if db.session.execute(select(Grid.id).where(Grid.code == requested)).scalar_one_or_none() is None:
        raise InvalidInput("unknown grid", {"grid_code": f"{requested!r} is not a grid"})
    return requested


@dataclass(frozen=True)
class StartFormDocument:
    """The start form as the version froze it (shared: read only)."""

    schema: dict[str, Any]
    ui_schema: dict[str, Any] | None
    frozen: bool  # False: a version deployed before start forms were frozen reads forms/ as it is now


def start_form_document(startable: Startable) -> StartFormDocument:
    """The start form of ``startable``'s version: the one its deployment froze (``form_versions``), so
    editing the form changes the next deployment's start page, never this version's (FormNotFound for an
    unfrozen form gone from forms/)."""
    version_id = form_versions.version_id(startable.definition_id, startable.form)
    if version_id is not None:
        frozen = form_versions.frozen_form(version_id)
        return StartFormDocument(frozen.schema, frozen.ui_schema, frozen=True)
    return StartFormDocument(
        tasks.forms().load(startable.form), tasks.forms().ui_schema(startable.form), frozen=False
    )


def validate(startable: Startable, data: Any) -> dict[str, Any]:
    """``data`` checked against the start form as the version froze it, as a task completion is
    (``tasks.FormDataInvalid``)."""
    if not isinstance(data, dict):
        raise InvalidInput("form data must be a JSON object", {"data": "expected an object"})
    try:
        document = start_form_document(startable)
        return tasks.forms().validate_document(
            document.schema,
            data,
            case_id=None,
            refs=tasks.DatabaseFormReferences(),
            name=startable.form,
            cached=document.frozen,  # a frozen schema lives as long as the app
        )
    except FormValidationError as exc:
        raise tasks.FormDataInvalid(str(exc), exc.field_errors) from exc
    except FormNotFound as exc:  # removed from forms/ after the deploy checked it
        raise Conflict(str(exc), {"form": startable.form}) from exc


def start(user: User, key: str, data: Any, grid_code: str | None = None) -> Started:
    """Start process ``key`` for ``user`` with the start form's ``data``. Everything is checked before
    anything is written; the caller commits."""
    startable = get_startable(user, key)
    clean = validate(startable, data)
    grid = _grid_for(user, grid_code)
    category = None
    if startable.starts_case:
        category = get_category(startable.case_category)
        if category is None:
            raise Conflict(
                f"process '{key}' opens cases of category {startable.case_category!r}, "
                "which is not in the active catalogue",
                {"case_category": startable.case_category},
            )
    variables = {**clean, "started_by": user.username, "grid_code": grid}
    case = None
    if category is not None:
        case = lifecycle.open_case(
            title=str(clean.get("title") or startable.name)[:200],
            description=str(clean.get("description") or ""),
            category_code=category.code,
            grid_code=grid,
            lat=None,
            lon=None,
            address=None,
            source_channel=lifecycle.reporter_channel(user),
            severity=category.default_severity,
            reporter=user,
        )
        lifecycle.start_process(
            case, key, {**variables, "category_code": category.code, "severity": case.severity}, user
        )
        instance = case_instance(case)
    else:
        instance = instances.start_instance(key, business_key=None, variables=variables, actor=user).instance
    record(
        STARTED_ACTION,
        entity_type="process_instance",
        entity_id=instance.id,
        actor=user,
        case_id=case.id if case else None,
        instance_id=instance.id,
        data={
            "process_key": key,
            "version": startable.version,
            "form": startable.form,
            "grid_code": grid,
            "form_data": clean,
        },
    )
    return Started(instance, startable.version, grid, case, first_task_of(user, instance.id))


def first_task_of(user: User, instance_id: int) -> HumanTask | None:
    """The instance's first open task that is ``user``'s: held by them, or offered to them and in scope."""
    open_tasks = db.session.execute(
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.status.in_(list(TaskStatus.OPEN)))
        .order_by(HumanTask.id)
    ).scalars()
    for task in open_tasks:
        if task.assignee_id == user.id:
            return task
        if task.status == TaskStatus.READY and tasks.is_candidate(user, task) and tasks.can_see(user, task):
            return task
    return None


def started_by(user: User, instance_id: int) -> ProcessInstance:
    """An instance ``user`` started from a form (their receipt); 404 for any other."""
    started = db.session.execute(
        select(ProcessInstance)
        .join(
            AuditEvent,
            (AuditEvent.instance_id == ProcessInstance.id) & (AuditEvent.action == STARTED_ACTION),
        )
        .where(ProcessInstance.id == instance_id, AuditEvent.actor_id == user.id)
        .limit(1)
    ).scalar_one_or_none()
    if started is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return started
