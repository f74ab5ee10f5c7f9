"""The case timeline as a supervisor reads it, from the case's audit events (``app.cases.services.timeline``).

Each event becomes an entry: when, who, what (the action and its facts), what kind of step it is, the time
since the previous step, and, where the event is measured against a time limit, whether the limit was met or
missed. Beside the entries, the case's time limits (handling, closing, each summoned unit's report-in) with
their verdicts, and the escalations (三级联动) in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases.models import Case, CaseStatus
from app.cases.services import get_case
from app.cases.services import timeline as case_events
from app.clock import as_utc, now
from app.extensions import db
from app.workflow.models import HumanTask
from app.workflow.operations import OPERATOR_ACTIONS

# What kind of step an action is: the page styles and filters by it.
STEP = "step"  # someone did something that moves the case
LIMIT = "limit"  # a time limit was set
WARNING = "warning"  # a limit is near or passed
ESCALATION = "escalation"  # 三级联动: escalation, summons, report-in, resolution
SYSTEM = "system"  # bookkeeping of the engine and tasks
ACTION_KINDS: dict[str, str] = {
    "case.reported": STEP,
    "task.completed": STEP,
    "case.status_changed": STEP,
    "case.dispatch_overridden": STEP,
    "case.redispatched": STEP,
    "case.reclassified": STEP,
    "case.supervised": STEP,
    "case.rework": STEP,
    "case.linked": STEP,
    "case.reopened": STEP,
    "case.commented": STEP,
    "task.urged": STEP,
    "task.reassigned": STEP,
    "case.time_limit_extended": LIMIT,
    "attachment.added": STEP,
    "case.time_limit_set": LIMIT,
    # An operator's repair of the case's process (app/workflow/operations.py): with its reason.
    **dict.fromkeys(OPERATOR_ACTIONS, STEP),
    "case.due_warning": WARNING,
    "case.overdue": WARNING,
    "case.escalated": ESCALATION,
    "case.units_summoned": ESCALATION,
    "case.reported_in": ESCALATION,
    "case.report_in_missed": ESCALATION,
    "case.escalation_resolved": ESCALATION,
    "case.referred_to_supervisor": ESCALATION,
}

MET = "met"
MISSED = "missed"
OPEN = "open"  # not done yet, still within the limit


@dataclass(frozen=True)
class LimitCheck:
    """A moment measured against a limit: ``verdict`` is met, missed or open (not done, not yet due)."""

    due_at: datetime
    done_at: datetime | None
    verdict: str


@dataclass
class TimelineEntry:
    id: int
    occurred_at: datetime
    actor: str  # username, or "system"
    actor_name: str | None  # display name of a user actor
    action: str
    kind: str
    facts: dict[str, Any]  # what the event says, flattened for the page (task name, statuses, level, …)
    since_previous: timedelta | None = None  # since the previous entry that is not system bookkeeping
    limit: LimitCheck | None = None


@dataclass(frozen=True)
class LimitSummary:
    name: str  # handling | closing | report_in
    subject: str | None  # the unit, for report-in limits
    check: LimitCheck


@dataclass
class CaseTimeline:
    case: Case
    entries: list[TimelineEntry] = field(default_factory=list)
    limits: list[LimitSummary] = field(default_factory=list)
    escalations: list[TimelineEntry] = field(default_factory=list)
    elapsed: timedelta | None = None  # report to close (or to now while open)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


def check(due_at: datetime | None, done_at: datetime | None, current: datetime) -> LimitCheck | None:
    if due_at is None:
        return None
    if done_at is not None:
        return LimitCheck(due_at, done_at, MET if done_at <= due_at else MISSED)
    return LimitCheck(due_at, None, MISSED if current >= due_at else OPEN)


def _facts(event: AuditEvent) -> dict[str, Any]:
    before, after, data = event.before or {}, event.after or {}, event.data or {}
    facts: dict[str, Any] = {}
    if event.entity_type == "human_task":
        facts.update(task=data.get("name"), element_id=data.get("element_id"))
    action = event.action
    if action in ("case.status_changed", "case.reopened"):
        facts.update(
            status_from=before.get("status"), status_to=after.get("status"), reason=data.get("reason")
        )
    elif action == "case.time_limit_set":
        facts.update(due_at=_aware(after.get("due_at")), limit=after.get("limit"), source=after.get("source"))
    elif action in ("case.due_warning", "case.overdue"):
        facts.update(due_at=_aware(data.get("due_at")))
    elif action == "case.escalated":
        facts.update(
            level=after.get("escalation_level"), trigger=data.get("trigger"), reason=data.get("reason")
        )
    elif action == "case.units_summoned":
        facts.update(
            level=data.get("level"), units=data.get("units"), due_at=_aware(data.get("report_in_due"))
        )
    elif action in ("case.reported_in", "case.report_in_missed"):
        facts.update(unit=data.get("unit"), level=data.get("level"), person=data.get("responsible_person"))
    elif action in ("case.escalation_resolved", "case.referred_to_supervisor"):
        facts.update(level=data.get("level"), outcome=data.get("outcome") or data.get("reason"))
    elif action in ("case.redispatched", "case.dispatch_overridden"):
        facts.update(
            handler_user=after.get("handler_user"),
            handler_unit=after.get("handler_unit"),
            reason=data.get("reason"),
        )
    elif action == "case.supervised":
        facts.update(
            supervision=data.get("action"),
            handler_user=data.get("handler_user"),
            due_at=_aware(data.get("due_at")),
        )
    elif action == "case.rework":
        facts.update(rework_count=after.get("rework_count"), comment=data.get("comment"))
    elif action == "case.reported":
        facts.update(title=after.get("title"), severity=after.get("severity"))
    elif action == "attachment.added":
        facts.update(photo_kind=after.get("kind"))
    elif action == "case.commented":
        facts.update(comment=data.get("body"))
    elif action == "task.urged":
        facts.update(comment=data.get("note"))
    elif action == "task.reassigned":
        facts.update(handler_user=after.get("candidate_user"), reason=data.get("reason"))
    elif action == "case.time_limit_extended":
        facts.update(due_at=_aware(after.get("due_at")), hours=data.get("hours"), reason=data.get("reason"))
    elif action.startswith("instance.") and "reason" in data:
        facts.update(reason=data.get("reason"))
    return {name: value for name, value in facts.items() if value not in (None, "", [])}


def build(user: Any, key: str) -> CaseTimeline:
    """The timeline of case ``key`` for ``user`` (404 when they cannot see it, like the API)."""
    case = get_case(user, key)
    events = list(db.session.execute(case_events(user, key)).scalars())
    current = now()
    names = _display_names({e.actor_id for e in events if e.actor_id is not None})
    task_due = _task_due_times(events)
    summoned_due: dict[str, datetime] = {}  # unit → report-in due of its latest summons
    result = CaseTimeline(case=case)
    previous_step: datetime | None = None
    for event in events:
        occurred = as_utc(event.occurred_at)
        entry = TimelineEntry(
            id=event.id,
            occurred_at=occurred,
            actor=event.actor_label,
            actor_name=names.get(event.actor_id) if event.actor_id is not None else None,
            action=event.action,
            kind=ACTION_KINDS.get(event.action, SYSTEM),
            facts=_facts(event),
        )
        if entry.kind != SYSTEM:
            if previous_step is not None:
                entry.since_previous = occurred - previous_step
            previous_step = occurred
        entry.limit = _limit_of(event, entry, occurred, task_due, summoned_due)
        result.entries.append(entry)
        if entry.kind == ESCALATION:
            result.escalations.append(entry)
    result.limits = _limits(case, summoned_due, result.entries, current)
    created = as_utc(case.created_at)
    end = as_utc(case.closed_at) if case.closed_at and case.status in CaseStatus.FINAL else current
    result.elapsed = end - created
    return result


def _limit_of(
    event: AuditEvent,
    entry: TimelineEntry,
    occurred: datetime,
    task_due: dict[int, datetime],
    summoned_due: dict[str, datetime],
) -> LimitCheck | None:
    facts = entry.facts
    if event.action == "task.completed" and event.entity_id.isdigit():
        due = task_due.get(int(event.entity_id))
        return check(due, occurred, occurred) if due else None
    if event.action == "case.units_summoned" and facts.get("due_at"):
        for unit in facts.get("units", []):
            summoned_due[unit] = facts["due_at"]
        return None
    if event.action == "case.reported_in":
        due = summoned_due.get(facts.get("unit", ""))
        return check(due, occurred, occurred) if due else None
    if event.action == "case.report_in_missed":
        due = summoned_due.get(facts.get("unit", "")) or _aware((event.data or {}).get("report_in_due"))
        return LimitCheck(due, None, MISSED) if due else None
    if event.action == "case.overdue" and facts.get("due_at"):
        return LimitCheck(facts["due_at"], None, MISSED)
    return None


def _limits(
    case: Case, summoned_due: dict[str, datetime], entries: list[TimelineEntry], current: datetime
) -> list[LimitSummary]:
    limits: list[LimitSummary] = []
    # A case that ended without being handled (rejected, duplicate, withdrawn) has no limit to judge.
    stopped = case.status in CaseStatus.FINAL and case.status != CaseStatus.CLOSED
    handling = check(_aware(case.due_at), _aware(case.handled_at), current)
    if handling is not None and handling.verdict == OPEN and case.overdue_at is not None:
        handling = LimitCheck(handling.due_at, None, MISSED)  # the overdue timer said so
    if handling is not None and not (stopped and case.handled_at is None):
        limits.append(LimitSummary("handling", None, handling))
    closed_at = _aware(case.closed_at) if case.status == CaseStatus.CLOSED else None
    closing = check(_aware(case.close_due_at), closed_at, current)
    if closing is not None and not stopped:
        limits.append(LimitSummary("closing", None, closing))
    # Each summoned unit's latest report-in: the entry that settled it, or still waiting.
    settled = {
        e.facts.get("unit"): e.limit
        for e in entries
        if e.action in ("case.reported_in", "case.report_in_missed") and e.limit is not None
    }
    for unit, due in summoned_due.items():
        outcome = settled.get(unit) or LimitCheck(due, None, MISSED if current >= due else OPEN)
        limits.append(LimitSummary("report_in", unit, outcome))
    return limits


def _display_names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def _task_due_times(events: list[AuditEvent]) -> dict[int, datetime]:
    """Due times of the tasks completed in ``events`` (the tasks that had one)."""
    ids = {int(e.entity_id) for e in events if e.action == "task.completed" and e.entity_id.isdigit()}
    if not ids:
        return {}
    rows = db.session.execute(
        select(HumanTask.id, HumanTask.due_at).where(HumanTask.id.in_(ids), HumanTask.due_at.is_not(None))
    )
    return {task_id: as_utc(due) for task_id, due in rows if due is not None}
