"""What the operations pages call statuses, incident kinds and audit actions (translated when rendered)."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l

from app.workflow.models import IncidentKind, InstanceStatus

STATUSES: dict[str, Any] = {
    InstanceStatus.RUNNING: _l("Running"),
    InstanceStatus.ERROR: _l("Incident"),
    InstanceStatus.SUSPENDED: _l("Suspended"),
    InstanceStatus.COMPLETED: _l("Completed"),
    InstanceStatus.TERMINATED: _l("Terminated"),
}
KINDS: dict[str, Any] = {
    IncidentKind.STEP: _l("a person's step"),
    IncidentKind.TIMER: _l("timer"),
    IncidentKind.MESSAGE: _l("message"),
    IncidentKind.JOB: _l("job"),
    IncidentKind.GUARD: _l("engine guard"),
    IncidentKind.STUCK: _l("stuck"),
}
RESOLUTIONS: dict[str, Any] = {
    "retried": _l("retried"),
    "skipped": _l("skipped"),
    "moved": _l("token moved"),
    "migrated": _l("migrated"),
    "terminated": _l("terminated"),
    "resolved": _l("resolved"),
}
ACTIONS: dict[str, Any] = {
    "instance.started": _l("Instance started"),
    "instance.completed": _l("Instance completed"),
    "instance.retried": _l("Retried"),
    "instance.skipped": _l("Element skipped"),
    "instance.moved": _l("Token moved"),
    "instance.suspended": _l("Suspended"),
    "instance.resumed": _l("Resumed"),
    "instance.terminated": _l("Terminated"),
    "instance.variable_edited": _l("Variable edited"),
    "incident.opened": _l("Incident opened"),
    "incident.resolved": _l("Incident resolved"),
    "task.created": _l("Task created"),
    "task.claimed": _l("Task claimed"),
    "task.completed": _l("Task completed"),
    "task.cancelled": _l("Task cancelled"),
    "timer.fired": _l("Timer fired"),
    "message.correlated": _l("Message received"),
}


def status(value: str) -> Any:
    return STATUSES.get(value, value)


def kind(value: str) -> Any:
    return KINDS.get(value, value)


def resolution(value: str | None) -> Any:
    return RESOLUTIONS.get(value or "", value or "")


def action(value: str) -> Any:
    return ACTIONS.get(value, value)


def as_json(value: Any) -> str:
    """A variable's value as the JSON an operator edits (Chinese kept readable)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
