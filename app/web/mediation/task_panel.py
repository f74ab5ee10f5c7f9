"""The dispute's current process task on its page: which open tasks the user sees, whether they may act on
one, and its form (``app.web.task_form`` through the worker page's ``task_form_page``) fitted to the
dispute: the signed agreement is chosen among the agreements uploaded for it, the attending parties among
its parties by number (never by name). Completion goes through ``app.tasks.services.complete``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.mediation.models import Dispute
from app.mediation.privacy import sees_personal_data
from app.mediation.redaction import mask_name
from app.tasks import services as tasks
from app.web.i18n import datetime_filter
from app.web.labels import task_title
from app.web.mediation.labels import word
from app.web.worker import task_form_page
from app.workflow.models import HumanTask, TaskStatus

DOCUMENT_WIDGET = "dispute_document"  # the UI schema's widget for "a document of this dispute"
ATTENDEES = "attendees"


@dataclass
class OpenTask:
    task: HumanTask
    title: str
    may_act: bool
    holder: str | None
    parked: str | None
    form_page: dict[str, Any] | None = None
    sections: list[Any] = field(default_factory=list)


def open_tasks(user: User, dispute: Dispute) -> list[HumanTask]:
    """The dispute's open tasks the user may see (the task services' rule), oldest first."""
    found = db.session.execute(
        select(HumanTask)
        .where(HumanTask.case_id == dispute.case_id, HumanTask.status.in_(TaskStatus.OPEN))
        .order_by(HumanTask.id)
    ).scalars()
    return [task for task in found if tasks.can_see(user, task)]


def may_act(user: User, task: HumanTask) -> bool:
    if task.status == TaskStatus.CLAIMED:
        return task.assignee_id == user.id
    return task.status == TaskStatus.READY and tasks.is_candidate(user, task)


def _holder(task: HumanTask) -> str | None:
    if task.status != TaskStatus.CLAIMED or task.assignee_id is None:
        return None
    holder = db.session.get(User, task.assignee_id)
    return (holder.display_name or holder.username) if holder is not None else None


def _party_options(user: User, dispute: Dispute) -> list[dict[str, Any]]:
    full = sees_personal_data(user, dispute)
    return [
        {
            "value": party.position,
            "label": _("Party %(n)s", n=party.position)
            + f" · {word('party_role', party.role)} · {party.name if full else mask_name(party.name)}",
        }
        for party in dispute.parties
    ]


def _agreement_options(dispute: Dispute) -> list[dict[str, Any]]:
    return [
        {"value": d.id, "label": f"{word('document', d.kind)} #{d.id} · {datetime_filter(d.created_at)}"}
        for d in dispute.documents
        if d.kind == "agreement"
    ]


def _fit(form_page: dict[str, Any], ui_schema: dict[str, Any] | None, user: User, dispute: Dispute) -> None:
    """The dispute's own choices in the form: its agreements, its parties."""
    ui = ui_schema or {}
    for entry in form_page["model"].get("fields", []):
        name = entry.get("name")
        if (ui.get(name) or {}).get("ui:widget") == DOCUMENT_WIDGET:
            entry["widget"] = "select"
            entry["options"] = _agreement_options(dispute)
        elif name == ATTENDEES and entry.get("widget") == "list":
            entry["item"] = {**entry["item"], "widget": "select", "options": _party_options(user, dispute)}
            form_page["values"].setdefault(ATTENDEES, [p.position for p in dispute.parties])


def task_views(user: User, dispute: Dispute, process_sections: Any) -> list[OpenTask]:
    """The open tasks the user sees; the first one they may act on carries its form."""
    views: list[OpenTask] = []
    with_form = False
    for task in open_tasks(user, dispute):
        view = OpenTask(
            task=task,
            title=task_title(task),
            may_act=may_act(user, task),
            holder=_holder(task),
            parked=tasks.why_parked(task),
        )
        if view.may_act and not with_form:
            with_form = True
            form = tasks.task_form(task)
            declared = form.schema.get("properties", {})
            data = tasks.task_data(task)
            values = {k: v for k, v in data.items() if k in declared and v is not None}
            view.form_page = task_form_page(form.schema, form.ui_schema, values, [])
            _fit(view.form_page, form.ui_schema, user, dispute)
            # What the process shows beside the form (the proposed mediators at intake); the dispute's own
            # facts are the page itself.
            view.sections = [s for s in process_sections(task, data) if s.key != "dispute"]
        views.append(view)
    return views
