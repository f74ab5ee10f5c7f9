"""Triage and dispatch from the workbench: the posted page form turned into the task's form data and
completed through ``app.tasks.services.complete`` (the API's path: the form schema validates it, the engine
moves the case, every change is audited). Services never commit; the view does.

Two rules of the page on top of the form: a changed time limit needs a reason (the dispatch note), and
accepting a report hands its new dispatch task to the same dispatcher, so triage and dispatch are one visit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case
from app.cases.services import get_case
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.tasks import services as tasks
from app.tasks.services import is_candidate
from app.units.models import Unit
from app.web.workbench import picker
from app.web.workbench.limits import category_limit
from app.web.workbench.queue import STAGE_FORMS
from app.workflow.models import HumanTask, TaskStatus


@dataclass(frozen=True)
class Done:
    case: Case
    decision: str  # accept | reject | duplicate | dispatch
    next_task: HumanTask | None  # after accepting: the case's dispatch task, claimed for the dispatcher
    handler: str | None = None  # after dispatching: whom to (a name)


def workbench_task(user: User, task_id: int, stage: str) -> tuple[HumanTask, Case]:
    """The open ``stage`` task ``task_id`` and its case, if the user may see both (404 otherwise, the same
    for "not yours" as for "does not exist")."""
    task = tasks.get_task(user, task_id)
    case = db.session.get(Case, task.case_id) if task.case_id is not None else None
    if task.form_key != STAGE_FORMS[stage] or case is None:
        raise NotFound(f"task {task_id} is not a {stage} task")
    return task, get_case(user, case.key)


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value or None


def triage(user: User, task_id: int, form: Mapping[str, str]) -> Done:
    task, case = workbench_task(user, task_id, "triage")
    decision = _text(form, "triage_decision") or ""
    data: dict[str, Any] = {"triage_decision": decision}
    if decision == "reject":
        data["reject_reason"] = _text(form, "reject_reason")
    elif decision == "duplicate":
        data["duplicate_of"] = _original(user, case, _text(form, "duplicate_of"))
    elif decision == "accept":
        # Only a correction is sent: the form refuses an inactive category, which the report may keep.
        for name in ("category_code", "severity"):
            value = _text(form, name)
            if value is not None and value != getattr(case, name):
                data[name] = value
    note = _text(form, "triage_note")
    if note is not None:
        data["triage_note"] = note
    tasks.complete(user, task.id, {name: value for name, value in data.items() if value is not None})
    return Done(case, decision, _take_dispatch(user, case) if decision == "accept" else None)


def _original(user: User, case: Case, key: str | None) -> str | None:
    """The case number a duplicate links to, checked here so the page can say what is wrong in the
    user's words (the process refuses it too, in English, naming its step)."""
    if key is None:
        return None
    if key == case.key:
        raise InvalidInput("duplicate_of: itself", {"duplicate_of": _("A report cannot duplicate itself.")})
    try:
        get_case(user, key)
    except NotFound:
        raise InvalidInput(
            f"duplicate_of: no case {key}", {"duplicate_of": _("No case %(key)s.", key=key)}
        ) from None
    return key


def _take_dispatch(user: User, case: Case) -> HumanTask | None:
    """The case's new dispatch task, claimed for the dispatcher who accepted it (None if not theirs)."""
    task = db.session.execute(
        select(HumanTask).where(
            HumanTask.case_id == case.id,
            HumanTask.form_key == STAGE_FORMS["dispatch"],
            HumanTask.status == TaskStatus.READY,
        )
    ).scalar_one_or_none()
    if task is None or not is_candidate(user, task):
        return None
    try:
        return tasks.claim(user, task.id)
    except (Conflict, NotFound):
        return None


def dispatch(user: User, task_id: int, form: Mapping[str, str]) -> Done:
    task, case = workbench_task(user, task_id, "dispatch")
    chosen = _text(form, "handler") or ""
    if chosen == "other":
        chosen = _text(form, "other_handler") or ""
    parsed = picker.split_value(chosen)
    if parsed is None:
        raise InvalidInput("choose a handler", {"handler": _("Choose a person or a unit.")})
    kind, name = parsed
    data: dict[str, Any] = {"handler_user" if kind == picker.USER else "handler_unit": name}
    note = _text(form, "dispatch_note")
    hours = _hours(form)
    limit = category_limit(case)
    if hours is not None and (limit is None or hours != limit.default_hours):
        if note is None:
            raise InvalidInput(
                "a changed time limit needs a reason",
                {"dispatch_note": _("Give the reason for changing the time limit.")},
            )
        data["time_limit_hours"] = hours
    if note is not None:
        data["dispatch_note"] = note
    tasks.complete(user, task.id, data)
    return Done(case, "dispatch", None, handler=_handler_name(kind, name))


def _hours(form: Mapping[str, str]) -> int | None:
    raw = _text(form, "time_limit_hours")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(
            "time_limit_hours: not a whole number", {"time_limit_hours": _("Enter a whole number of hours.")}
        ) from None


def _handler_name(kind: str, name: str) -> str:
    if kind == picker.USER:
        user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
        return user.display_name if user is not None and user.display_name else name
    unit = db.session.execute(select(Unit).where(Unit.code == name)).scalar_one_or_none()
    return unit.name if unit is not None else name
