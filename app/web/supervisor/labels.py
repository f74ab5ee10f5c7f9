"""What the supervisor pages call things, in the page's language (English msgids, zh_CN catalogue in
``app/web/supervisor/translations``). Templates read them as ``labels.status(...)`` and so on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

STATUSES: dict[str, Any] = {
    "reported": _l("Reported"),
    "triage": _l("Awaiting triage"),
    "dispatching": _l("Awaiting dispatch"),
    "handling": _l("Handling"),
    "feedback": _l("Awaiting feedback"),
    "review": _l("Awaiting review"),
    "closed": _l("Closed"),
    "rejected": _l("Rejected"),
    "duplicate": _l("Duplicate"),
    "withdrawn": _l("Withdrawn"),
}
SEVERITIES: dict[str, Any] = {
    "red": _l("Red"),
    "orange": _l("Orange"),
    "yellow": _l("Yellow"),
    "blue": _l("Blue"),
}
ACTIONS: dict[str, Any] = {
    "case.reported": _l("Reported the case"),
    "case.unlocated": _l("Location outside every grid"),
    "case.status_changed": _l("Status changed"),
    "case.reclassified": _l("Reclassified"),
    "case.dispatch_overridden": _l("Dispatched to someone else than proposed"),
    "case.redispatched": _l("Handler changed"),
    "case.time_limit_set": _l("Time limit set"),
    "case.due_warning": _l("Time limit near (warning)"),
    "case.overdue": _l("Time limit missed (overdue)"),
    "case.supervised": _l("Supervision decision"),
    "case.rework": _l("Sent back for rework"),
    "case.linked": _l("A duplicate was linked"),
    "case.reopened": _l("Case reopened"),
    "case.commented": _l("Commented"),
    "task.urged": _l("Urged"),
    "case.time_limit_extended": _l("Time limit extended"),
    "case.escalated": _l("Escalated"),
    "case.units_summoned": _l("Units summoned"),
    "case.reported_in": _l("Unit reported in"),
    "case.report_in_missed": _l("Unit did not report in"),
    "case.escalation_resolved": _l("Escalation resolved"),
    "case.referred_to_supervisor": _l("Referred to the supervisor"),
    "case.contact_called": _l("Phone call recorded"),
    "case.resolved_by_call": _l("Closed: all well, confirmed by phone"),
    "case.auto_resolved": _l("Closed: the alarm cleared"),
    "case.alarm_cleared": _l("The device reported the alarm cleared"),
    "case.alarm_repeated": _l("The device triggered the alarm again"),
    "case.alarm_retriggered": _l("The device alarmed again after the earlier case"),
    "case.alarm_joined": _l("Another device's alarm joined this case"),
    "case.snapshot_refused": _l("Camera snapshot refused"),
    "attachment.added": _l("Photo added"),
    "task.created": _l("Task created"),
    "task.claimed": _l("Task claimed"),
    "task.unclaimed": _l("Task handed back"),
    "task.completed": _l("Task completed"),
    "task.cancelled": _l("Task cancelled"),
    "task.reassigned": _l("Task reassigned"),
    "instance.started": _l("Process started"),
    "instance.completed": _l("Process finished"),
    "instance.failed": _l("Process failed"),
    "incident.opened": _l("Process stopped: waiting for a repair"),
    "incident.resolved": _l("Process repaired"),
    "instance.retried": _l("Operator retried the process"),
    "instance.skipped": _l("Operator skipped a process step"),
    "instance.moved": _l("Operator moved the process to another step"),
    "instance.suspended": _l("Operator suspended the process"),
    "instance.resumed": _l("Operator resumed the process"),
    "instance.terminated": _l("Operator terminated the process"),
    "instance.variable_edited": _l("Operator corrected process data"),
    "instance.migrated": _l("Process moved to another version"),
    "instance.migration_undone": _l("Process version change undone"),
    "timer.fired": _l("Timer fired"),
    "message.correlated": _l("Message received"),
}
KINDS: dict[str, Any] = {
    "step": _l("Step"),
    "limit": _l("Time limit"),
    "warning": _l("Warning"),
    "escalation": _l("Escalation"),
    "system": _l("System"),
}
VERDICTS: dict[str, Any] = {
    "met": _l("met"),
    "missed": _l("missed"),
    "open": _l("running"),
}
LIMITS: dict[str, Any] = {
    "handling": _l("Handling time limit"),
    "closing": _l("Closing time limit"),
    "report_in": _l("Report-in time limit"),
}
LEVELS: dict[str, Any] = {
    "community": _l("Community"),
    "street": _l("Street"),
    "district": _l("District"),
}
PHOTO_KINDS: dict[str, Any] = {
    "report": _l("Report photo"),
    "before": _l("Before"),
    "after": _l("After"),
    "other": _l("Other"),
}


def _lookup(table: dict[str, Any], key: str | None) -> str:
    if key is None:
        return ""
    return str(table.get(key, key))


def status(key: str | None) -> str:
    return _lookup(STATUSES, key)


def severity(key: str | None) -> str:
    return _lookup(SEVERITIES, key)


def action(key: str) -> str:
    return _lookup(ACTIONS, key)


def kind(key: str) -> str:
    return _lookup(KINDS, key)


def verdict(key: str) -> str:
    return _lookup(VERDICTS, key)


def limit(key: str) -> str:
    return _lookup(LIMITS, key)


def level(key: str | None) -> str:
    return _lookup(LEVELS, key)


def photo_kind(key: str) -> str:
    return _lookup(PHOTO_KINDS, key)


def js_strings() -> dict[str, str]:
    """The words the dashboard and diagram scripts show, passed to them as a data-* attribute (JSON)."""
    return {
        **{f"status.{k}": str(v) for k, v in STATUSES.items()},
        **{f"severity.{k}": str(v) for k, v in SEVERITIES.items()},
        **{f"level.{k}": str(v) for k, v in LEVELS.items()},
        "cases": _("Cases"),
        "open_cases": _("Open cases"),
        "received": _("Received"),
        "handled": _("Handled"),
        "closed": _("Closed"),
        "none": _("None"),
        "uncategorised": _("No category"),
        "diagram_failed": _("The diagram could not be shown"),
        "refresh_failed": _("Refresh failed; retrying"),
        "updated": _("Updated"),
    }


def duration(value: timedelta | None) -> str:
    """A duration to the minute, largest two units ("2 d 3 h", "2天3小时"; "45 min"; "< 1 min")."""
    if value is None:
        return ""
    minutes = int(abs(value).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)s d", n=days))
    if hours:
        parts.append(_("%(n)s h", n=hours))
    if minutes and not days:
        parts.append(_("%(n)s min", n=minutes))
    return " ".join(parts[:2]) if parts else _("< 1 min")
