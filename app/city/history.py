"""The rows of a district's closed history, made in bulk instead of walked through the engine.

Each historic case gets what a walked case of the same outcome leaves (compare ``flask seed-demo``): its
``case_file`` row, a completed ``process_instance`` of ``case_handling``, its ``human_task`` rows (triage,
dispatch, handle, photo proof, review; a second round after a rework; the community's coordination of an
overdue case), the after photo of its proof (one row per case, the files stored once by content hash) and
the audit trail the timeline shows, event by event, in the same shapes the services write.

What is not kept: the engine state of these completed instances (``state`` is empty: a completed instance
takes no more steps, and ~26 KB each would make 10 GB; the diagram of such a case is drawn from its
tasks). Summons and report-ins (吹哨报到) are left to the live cases walked through the engine. Time limits
are the category's limits read as calendar time (a working hour as three hours, a working day as 1.4 days)
rather than the working-time calendar.

A pure function of the seed and its inputs; ``HistoryWriter`` receives tuples in the column order of
``COLUMNS``; a JSON column holds a Python value, or JSON text already dumped (a str)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from app.demo.plans import (
    CATEGORY_WEIGHTS,
    CHINA,
    HANDLE_NOTES,
    REJECT_REASONS,
    REVIEW_COMMENTS,
    SOURCES,
    TITLES,
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "case_file": (
        "id", "key", "title", "description", "category_code", "grid_code", "lat", "lon", "address",
        "source_channel", "reporter_id", "severity", "status", "handler_user", "handler_unit",
        "duplicate_of_id", "reject_reason", "rework_count", "redispatch_count", "escalation_level",
        "escalated_at", "postponed_count", "due_at", "close_due_at", "warned_at", "overdue_at", "created_at",
        "updated_at", "filed_at", "dispatched_at", "handled_at", "closed_at",
    ),
    "process_instance": (
        "id", "definition_id", "process_key", "business_key", "case_id", "status", "state", "started_at",
        "updated_at", "completed_at",
    ),
    "human_task": (
        "id", "instance_id", "case_id", "spiff_task_id", "element_id", "name", "form_key", "lane",
        "candidate_roles", "candidate_user", "candidate_group", "assignee_id", "status", "case_status",
        "created_at", "claimed_at", "completed_at", "due_at", "completed_by_id", "submitted_data",
    ),
    "attachment": (
        "id", "case_id", "uploaded_by_id", "kind", "content_type", "size", "sha256", "storage_path",
        "original_name", "width", "height", "thumbnail_path", "created_at",
    ),
    "audit_event": (
        "occurred_at", "actor_id", "actor_label", "action", "entity_type", "entity_id", "case_id",
        "instance_id", "before", "after", "data",
    ),
}  # fmt: skip
JSON_COLUMNS = {"submitted_data", "before", "after", "data"}

# outcome → weight: a district that works closes most cases on time (compare app.demo.plans.OUTCOMES).
OUTCOMES: dict[str, int] = {
    "closed": 62,
    "warned": 8,  # handled after the 80 % warning, before the limit
    "late": 7,  # overdue: the community coordinates, then handled and closed
    "rework": 8,
    "rejected": 7,
    "duplicate": 5,
    "withdrawn": 3,
}
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 12, 12, 11, 10, 8, 9, 11, 11, 10, 9, 8, 7, 5, 4, 3, 2]  # Beijing time
ESCALATE_WORDS = "已超期,提请社区协调处置"


@dataclass(frozen=True)
class Photo:
    sha256: str
    storage_path: str
    thumbnail_path: str
    size: int
    width: int
    height: int


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    severity: str
    handle_hours: float
    unit_kind: str | None  # None: the grid's workers handle it


@dataclass
class Place:
    grid: str  # the comprehensive grid
    code: str  # the deepest grid containing the point (what the case stores)
    lat: float
    lon: float
    address: str


@dataclass
class HistoryInputs:
    """What the rows refer to: people by username, the territory's places, units, the definition."""

    user_ids: dict[str, int]
    workers_by_grid: dict[str, list[str]]
    residents: list[str]
    dispatchers: list[str]
    supervisors: list[str]
    community_staff: dict[str, str]  # community code → username
    handlers: dict[str, list[str]]  # unit code → usernames
    units_for: Callable[[Place, str], list[str]]  # (place, unit kind) → unit codes serving it
    places: Callable[[random.Random, str], Place]  # (rng, comprehensive grid) → a place in it
    grids: list[str]
    categories: list[Category]
    definition_id: int
    definition_version: int
    user_tasks: dict[str, dict[str, Any]]  # element id → the definition's user task entry
    photos: list[Photo]


@dataclass
class Ids:
    """The next id of each table (the rows carry explicit ids; the loader moves the sequences after)."""

    case: int
    instance: int
    task: int
    attachment: int
    keys: dict[int, int] = field(default_factory=dict)  # year → last key number


def limit_hours(limit: str) -> float:
    """A category's TimeLimit text ("4wh", "20wd", "24h", "3d") as calendar hours, roughly."""
    number = float("".join(ch for ch in limit if ch.isdigit() or ch == ".") or 24)
    unit = limit.lstrip("0123456789.")
    return {"wh": number * 3, "wd": number * 24 * 1.4, "h": number, "d": number * 24}.get(unit, 24.0)


@cache
def _status_json(status: str) -> str:
    """``{"status": …}`` as JSON text, made once: a few such payloads are most of the history's events
    (a str in a JSON column is taken as JSON text by the writer)."""
    return json.dumps({"status": status})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class CaseHistory:
    """Makes the rows of one historic case at a time; ``rows(count)`` yields (table, row) pairs."""

    def __init__(self, inputs: HistoryInputs, ids: Ids, start: datetime, end: datetime, seed: int) -> None:
        self.inputs, self.ids, self.start, self.end = inputs, ids, start, end
        self.rng = random.Random(f"city-history-{seed}")
        self.category_weights = [CATEGORY_WEIGHTS.get(c.code, 1) for c in inputs.categories]
        self.grid_weights = [self.rng.randint(2, 6) for _ in inputs.grids]
        self.last_case_of_grid: dict[str, tuple[int, str]] = {}
        self.out: list[tuple[str, tuple[Any, ...]]] = []

    # -- the moments ----------------------------------------------------------------------------------

    def report_times(self, count: int) -> list[datetime]:
        """``count`` moments between start and end, busier by day than by night (Beijing time), sorted."""
        rng, days = self.rng, (self.end - self.start).days
        first_midnight = (self.start + CHINA).replace(hour=0, minute=0, second=0, microsecond=0) - CHINA
        hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
        moments = []
        for hour in hours:
            moment = first_midnight + timedelta(
                days=rng.randrange(days + 1), hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60)
            )
            if self.start <= moment < self.end:
                moments.append(moment)
        while len(moments) < count:  # the few that fell outside: evenly spread instead
            moments.append(self.start + (self.end - self.start) * rng.random())
        return sorted(moments)

    # -- one case --------------------------------------------------------------------------------------

    def rows(
        self, count: int, progress: Callable[[int], None] | None = None
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        for reported_at in self.report_times(count):
            self.case(reported_at)
            yield from self.out
            self.out.clear()
            if progress is not None:
                progress(1)

    def _audit(
        self,
        at: datetime,
        actor: str | None,
        action: str,
        entity_type: str,
        entity_id: Any,
        case_id: int,
        instance_id: int | None,
        before: Any = None,
        after: Any = None,
        data: Any = None,
    ) -> None:
        actor_id = self.inputs.user_ids[actor] if actor else None
        self.out.append(
            (
                "audit_event",
                (
                    at,
                    actor_id,
                    actor or "system",
                    action,
                    entity_type,
                    str(entity_id),
                    case_id,
                    instance_id,
                    before,
                    after,
                    data,
                ),
            )
        )

    def _key(self, at: datetime) -> str:
        number = self.ids.keys.get(at.year, 0) + 1
        self.ids.keys[at.year] = number
        return f"GC-{at.year}-{number:06d}"

    def case(self, t0: datetime) -> None:
        rng, inputs = self.rng, self.inputs
        category = rng.choices(inputs.categories, weights=self.category_weights)[0]
        grid = rng.choices(inputs.grids, weights=self.grid_weights)[0]
        place = inputs.places(rng, grid)
        source = rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]
        outcome = rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
        if source == "resident":
            reporter = rng.choice(inputs.residents)
        elif source == "grid_worker":
            reporter = rng.choice(inputs.workers_by_grid[grid])
        else:
            reporter = rng.choice(inputs.dispatchers)
        if outcome == "withdrawn" and source != "resident":
            outcome = "closed"  # only a resident withdraws their own report
        duplicate_of = self.last_case_of_grid.get(grid) if outcome == "duplicate" else None
        if outcome == "duplicate" and duplicate_of is None:
            outcome = "closed"
        severity = category.severity
        if rng.random() < 0.1 and severity != "red":
            severity = {"blue": "yellow", "yellow": "orange", "orange": "red"}[severity]
        title = rng.choice(TITLES.get(category.code, [category.name]))
        lead = {
            "grid_worker": "巡查发现",
            "resident": "居民反映",
            "hotline": "12345热线转来",
            "camera": "视频监控智能识别",
            "sensor": "物联感知设备告警",
            "web": "网上留言反映",
        }[source]
        case = CaseRow(
            self, t0, category, place, source, reporter, severity, title, f"{lead}:{place.address}{title}。"
        )
        case.play(outcome, duplicate_of)
        if outcome != "duplicate":
            self.last_case_of_grid[grid] = (case.id, case.key)


class CaseRow:
    """One historic case being written: its columns, and the helpers that add its tasks and events."""

    def __init__(
        self,
        history: CaseHistory,
        t0: datetime,
        category: Category,
        place: Place,
        source: str,
        reporter: str,
        severity: str,
        title: str,
        description: str,
    ) -> None:
        self.h, self.t0, self.category, self.place = history, t0, category, place
        self.source, self.reporter, self.severity = source, reporter, severity
        self.title, self.description = title, description
        ids = history.ids
        self.id, self.instance_id = ids.case, ids.instance
        ids.case += 1
        ids.instance += 1
        self.key = history._key(t0)
        self.columns: dict[str, Any] = {
            "status": "triage",
            "handler_user": None,
            "handler_unit": None,
            "duplicate_of_id": None,
            "reject_reason": None,
            "rework_count": 0,
            "escalation_level": None,
            "escalated_at": None,
            "due_at": None,
            "close_due_at": None,
            "warned_at": None,
            "overdue_at": None,
            "filed_at": None,
            "dispatched_at": None,
            "handled_at": None,
            "closed_at": None,
        }
        self.status = "reported"

    def audit(self, at: datetime, actor: str | None, action: str, **rest: Any) -> None:
        entity_type = rest.pop("entity_type", "case")
        entity_id = rest.pop("entity_id", self.key)
        instance_id = rest.pop("instance_id", None)
        self.h._audit(at, actor, action, entity_type, entity_id, self.id, instance_id, **rest)

    def status_to(self, at: datetime, actor: str | None, status: str, data: Any = None) -> None:
        self.audit(
            at,
            actor,
            "case.status_changed",
            before=_status_json(self.status),
            after=_status_json(status),
            data=data,
        )
        self.status = status

    def task(
        self,
        element_id: str,
        created: datetime,
        done: datetime,
        actor: str | None,
        form_data: dict[str, Any] | None,
        *,
        user: str | None = None,
        group: str | None = None,
        claimed: bool = False,
        due: datetime | None = None,
        cancelled: bool = False,
    ) -> None:
        """A user task created at ``created`` and completed (or cancelled) at ``done`` by ``actor``."""
        h, spec = self.h, self.h.inputs.user_tasks[element_id]
        props = spec.get("properties", {})
        roles = [r for r in props.get("candidateRoles", "").split(",") if r]
        task_id = h.ids.task
        h.ids.task += 1
        assignee = h.inputs.user_ids[user] if claimed and user else None
        self.audit(
            created,
            None,
            "task.created",
            entity_type="human_task",
            entity_id=task_id,
            instance_id=self.instance_id,
            after={
                "status": "claimed" if assignee else "ready",
                "candidate_roles": roles,
                "candidate_user": user,
                "candidate_group": group,
                "assignee_id": assignee,
            },
            data={"element_id": element_id, "name": spec["name"], "due_at": _iso(due)},
        )
        actor_id = h.inputs.user_ids[actor] if actor else None
        if cancelled:
            status, completed_by = "cancelled", None
            self.audit(
                done,
                None,
                "task.cancelled",
                entity_type="human_task",
                entity_id=task_id,
                instance_id=self.instance_id,
                data={"element_id": element_id, "name": spec["name"]},
            )
        else:
            status, completed_by = "completed", actor_id
            self.audit(
                done,
                actor,
                "task.completed",
                entity_type="human_task",
                entity_id=task_id,
                instance_id=self.instance_id,
                before={"status": "claimed" if assignee else "ready", "assignee_id": assignee},
                after=_status_json("completed"),
                data={"element_id": element_id, "name": spec["name"], "form_data": form_data},
            )
        h.out.append(
            (
                "human_task",
                (
                    task_id,
                    self.instance_id,
                    self.id,
                    str(uuid.UUID(int=h.rng.getrandbits(128), version=4)),
                    element_id,
                    spec["name"],
                    props.get("formJsonSchemaFilename"),
                    spec.get("lane"),
                    "," + ",".join(roles) + ",",
                    user,
                    group,
                    assignee or (None if cancelled else actor_id),
                    status,
                    props.get("caseStatus"),
                    created,
                    created if assignee else (None if cancelled else done),
                    done,
                    due,
                    completed_by,
                    form_data,
                ),
            )
        )

    # -- the outcomes ------------------------------------------------------------------------------------

    def play(self, outcome: str, duplicate_of: tuple[int, str] | None) -> None:
        h, rng, t0 = self.h, self.h.rng, self.t0
        inputs = h.inputs
        dispatcher = rng.choice(inputs.dispatchers)
        self.audit(
            t0,
            self.reporter,
            "case.reported",
            after={
                "key": self.key,
                "title": self.title,
                "status": "reported",
                "severity": self.severity,
                "category_code": self.category.code,
                "lat": self.place.lat,
                "lon": self.place.lon,
                "address": self.place.address,
                "source_channel": self.source,
            },
        )
        self.audit(
            t0,
            self.reporter,
            "instance.started",
            entity_type="process_instance",
            entity_id=self.instance_id,
            instance_id=self.instance_id,
            after={
                "process_key": "case_handling",
                "version": inputs.definition_version,
                "business_key": self.key,
            },
        )
        if outcome == "withdrawn":
            at = t0 + timedelta(minutes=rng.uniform(3, 25))
            self._withdrawn(at)
            return self._finish(at, self.reporter)
        t1 = t0 + timedelta(minutes=rng.uniform(8, 90))
        decision: dict[str, Any] = {
            "triage_decision": "accept",
            "reject_reason": None,
            "duplicate_of": None,
            "category_code": None,
            "severity": None,
            "triage_note": None,
        }
        if outcome == "rejected":
            reason = rng.choice(REJECT_REASONS)
            decision.update(triage_decision="reject", reject_reason=reason)
            self._triage(t0, t1, dispatcher, decision)
            self.columns["reject_reason"] = reason
            self.status_to(t1, dispatcher, "rejected", {"reason": reason})
            return self._finish(t1, dispatcher)
        if outcome == "duplicate" and duplicate_of is not None:
            decision.update(triage_decision="duplicate", duplicate_of=duplicate_of[1])
            self._triage(t0, t1, dispatcher, decision)
            self.columns["duplicate_of_id"] = duplicate_of[0]
            self.status_to(t1, dispatcher, "duplicate", {"duplicate_of": duplicate_of[1]})
            return self._finish(t1, dispatcher)
        self._triage(t0, t1, dispatcher, decision)
        self.columns["filed_at"] = t1
        self._handled(outcome, t1, dispatcher)

    def _triage(self, t0: datetime, t1: datetime, dispatcher: str, decision: dict[str, Any]) -> None:
        # The triage task is created with the case, then the case waits for triage.
        self.task("triage", t0, t1, dispatcher, decision)
        self.status_to(t0, self.reporter, "triage")

    def _withdrawn(self, at: datetime) -> None:
        self.task("triage", self.t0, at, None, None, cancelled=True)
        self.status_to(self.t0, self.reporter, "triage")
        self.status_to(at, self.reporter, "withdrawn", {"reason": None})
        self.audit(
            at,
            self.reporter,
            "message.correlated",
            entity_type="process_instance",
            entity_id=self.instance_id,
            instance_id=self.instance_id,
            data={
                "message": "report_withdrawn",
                "payload": {"reason": "问题已自行解决", "by": self.reporter},
            },
        )

    def _handler(self) -> tuple[str | None, str | None, str]:
        """(handler user, handler unit, who acts): the responsible unit serving the place, else a grid
        worker of the place's grid."""
        rng, inputs = self.h.rng, self.h.inputs
        if self.category.unit_kind is not None:
            units = inputs.units_for(self.place, self.category.unit_kind)
            if units:
                unit = rng.choice(units)
                return None, unit, rng.choice(inputs.handlers[unit])
        worker = rng.choice(inputs.workers_by_grid[self.place.grid])
        return worker, None, worker

    def _handled(self, outcome: str, t1: datetime, dispatcher: str) -> None:
        rng = self.h.rng
        t2 = t1 + timedelta(minutes=rng.uniform(4, 40))
        self.task(
            "dispatch",
            t1,
            t2,
            dispatcher,
            {"handler_user": None, "handler_unit": None, "time_limit_hours": None, "dispatch_note": None},
        )
        self.status_to(t1, dispatcher, "dispatching")
        user, unit, actor = self._handler()
        self.columns.update(handler_user=user, handler_unit=unit, dispatched_at=t2)
        # The time limit, scaled by severity like the category limits are.
        hours = self.category.handle_hours * {"red": 0.25, "orange": 0.5}.get(self.severity, 1.0)
        hours = max(1.0, min(hours, 72.0))
        due = t2 + timedelta(hours=hours)
        close_due = due + timedelta(hours=24)
        self.columns.update(due_at=due, close_due_at=close_due)
        self.audit(
            t2,
            dispatcher,
            "case.time_limit_set",
            before={"due_at": None},
            after={
                "due_at": _iso(due),
                "warn_at": _iso(t2 + timedelta(hours=hours * 0.8)),
                "close_due_at": _iso(close_due),
                "limit": f"{hours:g}h",
                "source": f"category {self.category.code}",
                "severity": self.severity,
                "provisional_years": None,
                "handler_user": user,
                "handler_unit": unit,
            },
        )
        span = due - t2
        fraction = {"warned": rng.uniform(0.82, 0.98), "late": rng.uniform(1.1, 1.8)}.get(
            outcome, rng.uniform(0.1, 0.75)
        )
        t3 = t2 + span * fraction
        if outcome in ("warned", "late"):
            warn = t2 + span * 0.8
            self.columns["warned_at"] = warn
            self.audit(warn, None, "case.due_warning", data={"due_at": _iso(due)})
            self.audit(
                warn,
                None,
                "timer.fired",
                entity_type="process_instance",
                entity_id=self.instance_id,
                instance_id=self.instance_id,
                data={"due_at": _iso(warn), "fired_at": _iso(warn)},
            )
        if outcome == "late":
            self._overdue(due, t3)
        handle_data = {
            "handle_result": "resolved",
            "handle_description": rng.choice(HANDLE_NOTES),
            "beyond_means_reason": None,
            "before_photos": None,
        }
        self.task("handle", t2, t3, actor, handle_data, user=user, group=unit, due=due)
        self.status_to(t2, dispatcher, "handling")
        rounds = 2 if outcome == "rework" else 1
        for round_ in range(1, rounds + 1):
            t4, t5 = self._proof_and_review(t3, actor, due, approve=round_ == rounds)
            if round_ < rounds:
                t3 = t5 + timedelta(hours=rng.uniform(1, 8))
                self.task("handle", t5, t3, actor, handle_data, user=actor, claimed=True, due=due)
        self.columns["handled_at"] = t4
        self.columns["closed_at"] = t5
        self._finish(t5, self.supervisor)

    def _overdue(self, due: datetime, handled: datetime) -> None:
        rng, h = self.h.rng, self.h
        community = self.place.grid[:12]
        staff = h.inputs.community_staff[community]
        self.columns.update(overdue_at=due, escalation_level="community", escalated_at=due)
        self.audit(due, None, "case.overdue", data={"due_at": _iso(due)})
        self.audit(
            due,
            None,
            "case.escalated",
            instance_id=self.instance_id,
            before={"escalation_level": None},
            after={"escalation_level": "community", "escalated_at": _iso(due)},
            data={"trigger": "overdue", "reason": ESCALATE_WORDS},
        )
        self.audit(
            due,
            None,
            "timer.fired",
            entity_type="process_instance",
            entity_id=self.instance_id,
            instance_id=self.instance_id,
            data={"due_at": _iso(due), "fired_at": _iso(due)},
        )
        decided = due + (handled - due) * rng.uniform(0.2, 0.8)
        note = "已协调,请尽快处置并反馈"
        self.task(
            "coordinate_community",
            due,
            decided,
            staff,
            {
                "coordinate_decision": "return",
                "summon_units": None,
                "coordinate_note": note,
                "handover_user": None,
                "handover_unit": None,
            },
        )
        self.audit(
            decided,
            staff,
            "case.escalation_resolved",
            instance_id=self.instance_id,
            data={"level": "community", "outcome": "returned", "note": note},
        )

    def _proof_and_review(
        self, t3: datetime, actor: str, due: datetime, approve: bool
    ) -> tuple[datetime, datetime]:
        h, rng = self.h, self.h.rng
        t4 = t3 + timedelta(minutes=rng.uniform(4, 30))
        photo = rng.choice(h.inputs.photos)
        attachment_id = h.ids.attachment
        h.ids.attachment += 1
        h.out.append(
            (
                "attachment",
                (
                    attachment_id,
                    self.id,
                    h.inputs.user_ids[actor],
                    "after",
                    "image/jpeg",
                    photo.size,
                    photo.sha256,
                    photo.storage_path,
                    "after.jpg",
                    photo.width,
                    photo.height,
                    photo.thumbnail_path,
                    t4,
                ),
            )
        )
        self.audit(
            t4,
            actor,
            "attachment.added",
            entity_type="attachment",
            entity_id=attachment_id,
            after={
                "kind": "after",
                "sha256": photo.sha256,
                "content_type": "image/jpeg",
                "size": photo.size,
                "taken_at": None,
                "gps": None,
            },
        )
        self.task(
            "photo_proof",
            t3,
            t4,
            actor,
            {"after_photos": [attachment_id], "proof_note": None},
            user=actor,
            claimed=True,
            due=due,
        )
        self.status_to(t3, actor, "feedback")
        t5 = t4 + timedelta(minutes=rng.uniform(30, 360))
        self.supervisor = rng.choice(h.inputs.supervisors)
        comment = None if approve else rng.choice(REVIEW_COMMENTS)
        self.task(
            "review",
            t4,
            t5,
            self.supervisor,
            {"review_decision": "approve" if approve else "reject", "review_comment": comment},
        )
        self.status_to(t4, actor, "review")
        if not approve:
            self.columns["rework_count"] += 1
            self.audit(
                t5,
                self.supervisor,
                "case.rework",
                after={"rework_count": self.columns["rework_count"]},
                data={"comment": comment},
            )
            self.status_to(t5, self.supervisor, "handling")
        else:
            self.status_to(t5, self.supervisor, "closed", {"reason": None})
        return t4, t5

    def _finish(self, at: datetime, actor: str | None) -> None:
        """The instance completes with the case; write the case and instance rows (before their tasks and
        events, which refer to them)."""
        h = self.h
        self.audit(
            at,
            actor,
            "instance.completed",
            entity_type="process_instance",
            entity_id=self.instance_id,
            instance_id=self.instance_id,
        )
        c = self.columns
        c["status"] = self.status
        c["closed_at"] = at  # every historic case ended: closed, rejected, duplicate or withdrawn
        place = self.place
        case_row = (
            self.id,
            self.key,
            self.title,
            self.description,
            self.category.code,
            place.code,
            place.lat,
            place.lon,
            place.address,
            self.source,
            h.inputs.user_ids[self.reporter],
            self.severity,
            c["status"],
            c["handler_user"],
            c["handler_unit"],
            c["duplicate_of_id"],
            c["reject_reason"],
            c["rework_count"],
            0,
            c["escalation_level"],
            c["escalated_at"],
            0,
            c["due_at"],
            c["close_due_at"],
            c["warned_at"],
            c["overdue_at"],
            self.t0,
            at,
            c["filed_at"],
            c["dispatched_at"],
            c["handled_at"],
            c["closed_at"],
        )
        instance_row = (
            self.instance_id,
            h.inputs.definition_id,
            "case_handling",
            self.key,
            self.id,
            "completed",
            "",
            self.t0,
            at,
            at,
        )
        h.out[:0] = [("case_file", case_row), ("process_instance", instance_row)]
        # Events in the order they happened (the timeline orders by id); ties keep their writing order.
        events = sorted((row for row in h.out if row[0] == "audit_event"), key=lambda row: row[1][0])
        h.out[:] = [row for row in h.out if row[0] != "audit_event"] + events
