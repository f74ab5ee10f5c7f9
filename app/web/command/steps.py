"""The command steps of an emergency: 宣布控制 (declare_control), 结束应急 (close_emergency) and 复盘
(review_emergency), the user tasks of ``bpmn/emergency_escalation.bpmn`` the board shows. Each step is read
from its task row (waiting, open, being done by someone, done by whom and when) and, when the user may do it,
its form is drawn on the board from the task's JSON Schema and completed through ``app.tasks.services``
like any task page (the same validation, the same 409 for a step someone else did first)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_pgettext
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case
from app.errors import NotFound
from app.extensions import db
from app.tasks import services as tasks
from app.web.auth import role_label
from app.web.i18n import current_language
from app.web.task_form import FormView
from app.workflow.models import HumanTask, TaskStatus

# In the order they happen; the names are the board's (the diagram's own names are the same words).
STEPS: tuple[tuple[str, Any], ...] = (
    ("declare_control", lazy_pgettext("command", "Declare under control")),
    ("close_emergency", lazy_pgettext("command", "End the emergency")),
    ("review_emergency", lazy_pgettext("command", "After-action review (复盘)")),
)
STEP_ELEMENTS = tuple(element for element, _name in STEPS)
_DRAWN_WIDGETS = ("text", "textarea", "number")


@dataclass
class Step:
    element: str
    name: str
    state: str  # waiting | open | claimed | done
    task: HumanTask | None = None
    holder: str | None = None  # who claimed it, or who did it
    done_at: datetime | None = None
    offered_to: str = ""  # the roles it waits for, by name
    fields: list[dict[str, Any]] = field(default_factory=list)  # drawn when the user may do it
    errors: dict[str, str] = field(default_factory=dict)
    given: dict[str, str] = field(default_factory=dict)
    link: bool = False  # the user may do it, but its form is one for the task page

    @property
    def actionable(self) -> bool:
        return bool(self.fields)


def _latest_tasks(case: Case) -> dict[str, HumanTask]:
    rows = db.session.execute(
        select(HumanTask)
        .where(HumanTask.case_id == case.id, HumanTask.element_id.in_(STEP_ELEMENTS))
        .where(HumanTask.status != TaskStatus.CANCELLED)
        .order_by(HumanTask.id)
    ).scalars()
    return {task.element_id: task for task in rows}  # the last of each element wins


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {user_id: display or username for user_id, display, username in rows}


def may_do(user: User, task: HumanTask) -> bool:
    if task.status == TaskStatus.CLAIMED:
        return task.assignee_id == user.id
    return task.status == TaskStatus.READY and tasks.is_candidate(user, task)


def fields_of(task: HumanTask) -> list[dict[str, Any]]:
    """The form's fields as the board draws them (text, textarea, number); a form with another kind of field
    is left to its task page (the board then links there)."""
    form = tasks.task_form(task)
    described = FormView(form.schema, form.ui_schema, current_language()).describe()["fields"]
    if any(f["widget"] not in _DRAWN_WIDGETS for f in described):
        return []
    return list(described)


def steps_of(user: User, case: Case) -> list[Step]:
    found = _latest_tasks(case)
    names = _names(
        {t.assignee_id or 0 for t in found.values()} | {t.completed_by_id or 0 for t in found.values()}
    )
    steps = []
    for element, name in STEPS:
        task = found.get(element)
        if task is None:
            steps.append(Step(element, str(name), "waiting"))
            continue
        if task.status == TaskStatus.COMPLETED:
            steps.append(
                Step(
                    element, str(name), "done", task, names.get(task.completed_by_id or 0), task.completed_at
                )
            )
            continue
        state = "claimed" if task.status == TaskStatus.CLAIMED else "open"
        step = Step(
            element,
            str(name),
            state,
            task,
            names.get(task.assignee_id or 0) if state == "claimed" else None,
            offered_to="、".join(role_label(r) for r in task.roles),
        )
        if may_do(user, task) and tasks.why_parked(task) is None:
            step.fields = fields_of(task)
            step.link = not step.fields
        steps.append(step)
    return steps


def other_tasks(user: User, case: Case) -> list[HumanTask]:
    """The emergency's other open tasks this user may do (研判, a call to a contact, urging a unit, 督办 of a
    unit that never reported in): the board links to their task pages. Report-ins are the responders'."""
    rows = db.session.execute(
        select(HumanTask)
        .where(HumanTask.case_id == case.id, HumanTask.status.in_(TaskStatus.OPEN))
        .where(HumanTask.element_id.not_in((*STEP_ELEMENTS, "emergency_report_in")))
        .order_by(HumanTask.id)
    ).scalars()
    return [task for task in rows if may_do(user, task)]


def key_of(steps: list[Step], others: list[HumanTask]) -> str:
    """What changes the steps' part of the board: the live update redraws it (and its forms) only then."""
    done = "|".join(f"{s.element}:{s.state}:{s.task.id if s.task else ''}:{s.holder or ''}" for s in steps)
    return done + "|" + ",".join(str(task.id) for task in others)


def form_data(task: HumanTask, form: Mapping[str, str]) -> dict[str, Any]:
    """The posted fields as the task's data: numbers as numbers (a value that is not one goes as typed, so the
    form's own check names it), empty optional fields left out."""
    data: dict[str, Any] = {}
    for described in fields_of(task):
        name = described["name"]
        raw = (form.get(name) or "").strip()
        if raw == "":
            if described["required"]:
                data[name] = ""  # the schema says which rule it breaks, in the page's language
            continue
        if described["type"] == "integer":
            data[name] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif described["type"] == "number":
            try:
                data[name] = float(raw)
            except ValueError:
                data[name] = raw
        else:
            data[name] = form.get(name, "")
    return data


def step_task(user: User, case: Case, task_id: int) -> HumanTask:
    """One of this emergency's steps by task id; any other task answers 404 like a missing one."""
    task = tasks.get_task(user, task_id)
    if task.case_id != case.id or task.element_id not in STEP_ELEMENTS:
        raise NotFound(f"task {task_id} is not a step of emergency {case.key}")
    return task
