"""What people read for the codes the data uses: case statuses, severities, attachment kinds, categories."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.categories.models import Category
from app.clock import as_utc, now
from app.extensions import db
from app.tasks.services import task_ui_schema
from app.timelimits.calendar import CalendarError, TimeLimit
from app.web.blueprint import bp
from app.web.i18n import current_language
from app.workflow.forms import FormNotFound
from app.workflow.models import HumanTask

STATUS_LABELS = {
    "reported": _l("Reported"),
    "triage": _l("Awaiting acceptance"),
    "dispatching": _l("Awaiting dispatch"),
    "handling": _l("Being handled"),
    "feedback": _l("Awaiting proof"),
    "review": _l("Under review"),
    "closed": _l("Closed"),
    "rejected": _l("Not accepted"),
    "duplicate": _l("Duplicate"),
    "withdrawn": _l("Withdrawn"),
}
SEVERITY_LABELS = {"red": _l("Red"), "orange": _l("Orange"), "yellow": _l("Yellow"), "blue": _l("Blue")}
ATTACHMENT_KIND_LABELS = {
    "report": _l("Reported"),
    "before": _l("Before handling"),
    "after": _l("After handling"),
    "other": _l("Other"),
}


TASK_STATUS_LABELS = {
    "ready": _l("Open to claim"),
    "claimed": _l("Claimed"),
    "completed": _l("Completed"),
    "cancelled": _l("Withdrawn by the process"),
}
ESCALATION_LABELS = {
    "community": _l("Community"),
    "street": _l("Street"),
    "district": _l("District"),
    "supervisor": _l("Supervisor"),
}


def task_status_label(status: str | None) -> str:
    return str(TASK_STATUS_LABELS.get(status or "", status or ""))


def escalation_label(level: str | None) -> str:
    return str(ESCALATION_LABELS.get(level or "", level or ""))


def status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status or "", status or ""))


def severity_label(severity: str | None) -> str:
    return str(SEVERITY_LABELS.get(severity or "", severity or ""))


def category_name(code: str | None) -> str:
    """The category's name in the page language ("" for none)."""
    if not code:
        return ""
    category = db.session.get(Category, code)
    if category is None:
        return code
    if current_language() == "en" and category.name_en:
        return category.name_en
    return category.name


def time_limit_text(text: str | None) -> str:
    """A time limit as configured ("4wh", "20wd", "24h") in words of the page language ("4 工作小时")."""
    if not text:
        return ""
    try:
        limit = TimeLimit.parse(text)
    except CalendarError:
        return text
    n = f"{limit.amount:g}"
    if limit.unit == "working_hours":
        return _("%(n)s working hours", n=n)
    if limit.unit == "working_days":
        return _("%(n)s working days", n=n)
    return _("%(n)s hours", n=n)


def task_title(task: HumanTask) -> str:
    """The task's name in the page language: the diagram names tasks in zh-CN; in English the task's form
    gives its title (``"ui:locales": {"en": {"title"}}`` of the UI schema), else the diagram's name stays."""
    if current_language() == "en" and task.form_key:
        try:
            ui = task_ui_schema(task) or {}  # the frozen form's: cached per app, no query per task
        except FormNotFound:
            ui = {}
        title = ((ui.get("ui:locales") or {}).get("en") or {}).get("title")
        if isinstance(title, str) and title:
            return title
    return task.name


def time_left(due_at: datetime | None) -> timedelta | None:
    """Due time minus now (negative: overdue); None without a time limit."""
    return None if due_at is None else as_utc(due_at) - now()


bp.add_app_template_filter(status_label, "status_label")
bp.add_app_template_filter(severity_label, "severity")
bp.add_app_template_filter(task_status_label, "task_status")
bp.add_app_template_filter(task_title, "task_title")
bp.add_app_template_filter(time_limit_text, "time_limit")
bp.add_app_template_filter(escalation_label, "escalation")
