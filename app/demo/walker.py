"""Play a case plan through the real services, with the app's clock set back into the past.

The walker is data-driven: ``STEPS`` maps a user task's element id to a builder that decides, for one plan,
when the task is done, by whom and with what form data (or that it stays open). A diagram that gains a task
needs one more entry here; a task without an entry simply stays open. Between steps, due timers fire at
their own due times, so warnings, overdue marks and supervision tasks land where they would have.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app import runtime
from app.auth.models import User
from app.cases import services as cases
from app.cases.models import Case
from app.categories.services import get_category, responsibility
from app.clock import Clock, FrozenClock, as_utc
from app.demo.people import SURNAMES, Cast
from app.demo.photos import demo_photo
from app.demo.plans import CHINA, HANDLE_NOTES, REJECT_REASONS, REVIEW_COMMENTS, WITHDRAW_REASONS, CasePlan
from app.extensions import db
from app.grids.codes import path_codes
from app.grids.models import Grid, GridMember
from app.tasks import services as tasks
from app.units.services import units_serving
from app.workflow import instances
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus

# -- the clock -------------------------------------------------------------------------------------


@contextmanager
def app_clock(clock: Clock) -> Iterator[None]:
    """Make ``clock`` the app's clock (services, SpiffWorkflow timers, sandbox ``now()``); put the previous
    one back afterwards, whatever happens."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    previous = runtime.swap_clock(app, clock)
    try:
        yield
    finally:
        runtime.swap_clock(app, previous)


# -- what a step does ------------------------------------------------------------------------------


@dataclass
class Action:
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    # Runs first as the acting user and returns more form data (e.g. uploads the photo it names).
    prepare: Callable[[User], dict[str, Any]] | None = None
    # Runs instead of completing the task (e.g. the reporter withdraws the report).
    instead: Callable[[User], None] | None = None
    actor: str | None = None  # username; None: whoever the task is for


@dataclass
class Context:
    """What every walk shares: the cast, the end of history, case keys by plan index, users by name."""

    cast: Cast
    end: datetime
    keys: dict[int, str] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def user(self, username: str) -> User:
        if username not in self.users:
            self.users[username] = db.session.execute(
                select(User).where(User.username == username)
            ).scalar_one()
        return self.users[username]


@dataclass
class Walk:
    plan: CasePlan
    case: Case
    context: Context
    rng: random.Random
    handled: int = 0  # handle tasks completed so far
    summons: int = 0  # coordinators' summons (吹哨) so far
    coordinated: int = 0  # coordination decisions so far
    version: int = 0  # counts what happened (steps, timers)
    summoned: list[str] = field(default_factory=list)  # the units of the latest summons

    @property
    def escalation_route(self) -> str:
        """How an escalated case goes: ``summon`` (the community summons units, all report in), ``street``
        (the community passes it up, the street summons), ``missed`` (a summoned unit fails to report in,
        the case climbs to the street, which summons again). Drawn once per case."""
        return random.Random(f"{self.plan.seed}-route").choices(("summon", "street", "missed"), (5, 3, 2))[0]

    def after(
        self, task: HumanTask, low_minutes: float, high_minutes: float, daytime: bool = True
    ) -> datetime:
        when = as_utc(task.created_at) + timedelta(minutes=self.rng.uniform(low_minutes, high_minutes))
        return _daytime(when, self.rng) if daytime else when


def _daytime(when: datetime, rng: random.Random) -> datetime:
    """People act between 08:00 and 21:00 Beijing time: later or earlier moves to the next 08:xx."""
    local = when + CHINA
    if 8 <= local.hour < 21:
        return when
    morning = local.replace(hour=8, minute=rng.randint(0, 50), second=0, microsecond=0)
    if local.hour >= 21:
        morning += timedelta(days=1)
    return morning - CHINA


StepBuilder = Callable[[Walk, HumanTask], Action | None]


def triage_step(walk: Walk, task: HumanTask) -> Action | None:
    plan, rng = walk.plan, walk.rng
    if plan.outcome == "withdrawn":
        reason = rng.choice(WITHDRAW_REASONS)

        def withdraw(user: User) -> None:
            cases.withdraw(user, walk.case.key, reason)

        return Action(walk.after(task, 3, 25, daytime=False), actor=plan.reporter, instead=withdraw)
    at = walk.after(task, 8, 90)
    if plan.outcome == "rejected":
        return Action(at, {"triage_decision": "reject", "reject_reason": rng.choice(REJECT_REASONS)})
    if plan.outcome == "duplicate" and plan.duplicate_of in walk.context.keys:
        return Action(
            at, {"triage_decision": "duplicate", "duplicate_of": walk.context.keys[plan.duplicate_of]}
        )
    if plan.severity == "red":  # reported as orange (see ``report``): the dispatcher makes it red
        return Action(at, {"triage_decision": "accept", "severity": "red"})
    return Action(at, {"triage_decision": "accept"})


def _handler_choice(walk: Walk, schema: dict[str, Any]) -> dict[str, Any]:
    """Who the dispatcher sends the case to: the responsible unit for unit-level categories (when one serves
    the place), else a grid worker of the place's grid."""
    _, unit_kind = responsibility(get_category(walk.plan.category_code))
    properties = schema.get("properties", {})
    if unit_kind is not None and "handler_unit" in properties:
        units = units_serving(walk.plan.place.grid, unit_kind)
        if units:
            return {"handler_unit": walk.rng.choice(units).code}
    workers = walk.context.cast.workers_by_grid.get(walk.plan.place.grid) or ["worker1"]
    return {"handler_user": walk.rng.choice(workers)}


def dispatch_step(walk: Walk, task: HumanTask) -> Action | None:
    schema = tasks.task_form(task).schema
    data = _handler_choice(walk, schema)
    if "time_limit_hours" in schema.get("required", []):
        data["time_limit_hours"] = walk.rng.choice((4, 8, 24, 24, 48))
    return Action(walk.after(task, 4, 40), data)


def _due(walk: Walk, task: HumanTask) -> tuple[datetime, datetime]:
    start = as_utc(task.created_at)
    due = as_utc(walk.case.due_at) if walk.case.due_at is not None else start + timedelta(hours=24)
    return start, max(due, start + timedelta(minutes=30))


def handle_step(walk: Walk, task: HumanTask) -> Action | None:
    plan, rng = walk.plan, walk.rng
    first = walk.handled == 0 and walk.summons == 0 and not _coordinated(walk)
    if plan.outcome == "overdue":
        return None  # the handler never reports back: overdue, escalated, still open
    start, due = _due(walk, task)
    span = due - start
    data = {"handle_result": "resolved", "handle_description": rng.choice(HANDLE_NOTES)}
    if not first:  # after rework or coordination: quickly
        at = start + span * rng.uniform(0.1, 0.5)
    elif plan.outcome == "closed_late":
        at = due + span * rng.uniform(0.1, 0.8) + timedelta(minutes=15)
    elif plan.outcome in ("urged", "reassigned"):
        return None  # waits for the coordinator, who returns it (to someone else, when reassigned)
    elif plan.outcome == "escalated" and "beyond_means" in _enum(task, "handle_result"):
        at = start + span * rng.uniform(0.05, 0.3)
        data = {
            "handle_result": "beyond_means",
            "handle_description": "已到场查看,需多个部门共同处置",
            "beyond_means_reason": "涉及多个部门,超出网格处置能力,提请社区协调",
        }
    else:
        at = start + span * rng.uniform(0.15, 0.8)
    return Action(at, data)


def _enum(task: HumanTask, name: str) -> list[Any]:
    prop = tasks.task_form(task).schema.get("properties", {}).get(name, {})
    return list(prop.get("enum", []))


def _coordinated(walk: Walk) -> bool:
    """Has a coordinator returned the case to handling (so the next handle is the second round)?"""
    return walk.coordinated > 0


def photo_proof_step(walk: Walk, task: HumanTask) -> Action | None:
    variant = walk.rng.randrange(6)

    def upload(user: User) -> dict[str, Any]:
        photo = cases.add_attachment(user, walk.case.key, demo_photo(variant), "after.jpg", "after")
        return {"after_photos": [photo.id]}

    return Action(walk.after(task, 4, 30, daytime=False), prepare=upload)


def review_step(walk: Walk, task: HumanTask) -> Action | None:
    at = walk.after(task, 30, 360)
    if walk.plan.outcome == "rework" and walk.case.rework_count == 0:
        return Action(at, {"review_decision": "reject", "review_comment": walk.rng.choice(REVIEW_COMMENTS)})
    return Action(at, {"review_decision": "approve"})


def _other_worker(walk: Walk) -> str | None:
    """Another grid worker for the place: the grid's second worker, or the neighbouring grid's."""
    current = walk.case.handler_user
    workers = walk.context.cast.workers_by_grid
    grid, grids = walk.plan.place.grid, walk.context.cast.grids
    others = [w for w in workers.get(grid, []) if w != current]
    if not others and grid in grids:
        neighbour = grids[(grids.index(grid) + 1) % len(grids)]
        others = [w for w in workers.get(neighbour, []) if w != current]
    return walk.rng.choice(others) if others else None


def supervise_step(walk: Walk, task: HumanTask) -> Action | None:
    at = walk.after(task, 20, 120)
    if walk.plan.outcome == "overdue":
        return None
    if walk.plan.outcome == "reassigned" and (other := _other_worker(walk)) is not None:
        return Action(at, {"action": "reassign", "new_handler_user": other})
    if walk.plan.outcome == "urged":
        return Action(at, {"action": "extend", "extend_hours": 24, "supervise_note": "同意延期一天"})
    return Action(at, {"action": "urge", "supervise_note": "请尽快处置并反馈"})


def _summon_units(walk: Walk, count: int) -> list[str]:
    """The units to summon: the category's responsible unit first (the lead), then the street office or the
    property company serving the place."""
    _, unit_kind = responsibility(get_category(walk.plan.category_code))
    serving = units_serving(walk.plan.place.grid)
    ordered = [u.code for u in serving if u.kind == unit_kind]
    ordered += [u.code for u in serving if u.kind in ("street_office", "property") and u.code not in ordered]
    ordered += [u.code for u in serving if u.code not in ordered]
    return ordered[:count]


def coordinate_step(walk: Walk, task: HumanTask) -> Action | None:
    """社区/街道/区级协调: return the case to handling (to another worker when reassigned), summon units, or
    pass it up a level."""
    plan, route = walk.plan, walk.escalation_route
    level = task.element_id.removeprefix("coordinate_")
    at = walk.after(task, 20, 180)
    decisions = _enum(task, "coordinate_decision")
    if plan.outcome == "overdue":
        return None  # left with the coordinator: overdue and escalated
    if plan.outcome == "escalated":
        if level == "community" and route == "street" and "escalate" in decisions:
            return Action(
                at, {"coordinate_decision": "escalate", "coordinate_note": "涉及多个部门,提请街道协调"}
            )
        if "summon" in decisions and walk.summons < 2:
            units = _summon_units(walk, 2 if route == "missed" else walk.rng.choice((1, 2)))
            if units:
                note = "吹哨召集相关单位限时报到"
                return Action(
                    at, {"coordinate_decision": "summon", "summon_units": units, "coordinate_note": note}
                )
    data: dict[str, Any] = {"coordinate_decision": "return", "coordinate_note": "已协调,请尽快处置并反馈"}
    if plan.outcome == "reassigned" and (other := _other_worker(walk)) is not None:
        data["handover_user"] = other
    return Action(at, data)


_TITLES = ("科长", "主任", "站长", "经理", "队长")


def report_in_step(walk: Walk, task: HumanTask) -> Action | None:
    """部门报到: summoned units report in within minutes; on the ``missed`` route the second unit of the
    first summons does not, and the case climbs a level."""
    if walk.plan.outcome == "overdue":
        return None
    summoned = walk.summoned
    if walk.escalation_route == "missed" and walk.summons == 1 and summoned[1:] == [task.candidate_group]:
        return None
    person = walk.rng.choice(SURNAMES) + walk.rng.choice(_TITLES)
    data = {"responsible_person": person, "report_in_note": "已接到召集,马上安排人员到场"}
    return Action(walk.after(task, 5, 25, daytime=False), data)


# element id → builder. Adjust here when the diagram or a form changes.
STEPS: dict[str, StepBuilder] = {
    "triage": triage_step,
    "dispatch": dispatch_step,
    "handle": handle_step,
    "photo_proof": photo_proof_step,
    "review": review_step,
    "supervise": supervise_step,
    "coordinate_community": coordinate_step,
    "coordinate_street": coordinate_step,
    "coordinate_district": coordinate_step,
    "report_in": report_in_step,
}


# -- who acts ----------------------------------------------------------------------------------------


def _actor(walk: Walk, task: HumanTask) -> User:
    """Whoever the task is for: its assignee, its named user, a member of its unit, or someone of its roles
    whose grids cover the case's place (the deepest first)."""
    if task.assignee_id is not None:
        return db.session.get(User, task.assignee_id)  # type: ignore[return-value]
    if task.candidate_user:
        return walk.context.user(task.candidate_user)
    query = select(User).where(User.role.in_(task.roles), User.active.is_(True))
    if task.candidate_group:
        query = query.where(User.unit_code == task.candidate_group)
    else:
        covering = (
            select(GridMember.user_id, func.max(func.length(Grid.code)).label("depth"))
            .join(Grid, Grid.id == GridMember.grid_id)
            .where(Grid.code.in_(path_codes(walk.plan.place.grid)))
            .group_by(GridMember.user_id)
            .subquery()
        )
        query = query.outerjoin(covering, covering.c.user_id == User.id).order_by(
            covering.c.depth.is_(None), covering.c.depth.desc()
        )
    user = db.session.execute(query.order_by(User.username).limit(1)).scalar_one_or_none()
    if user is None:
        raise LookupError(f"nobody can do task {task.element_id} of {walk.case.key} (roles {task.roles})")
    return user


# -- the walk --------------------------------------------------------------------------------------


def _open_tasks(instance_id: int) -> list[HumanTask]:
    return list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id, HumanTask.status.in_(TaskStatus.OPEN))
            .order_by(HumanTask.id)
        ).scalars()
    )


def report(plan: CasePlan, context: Context, clock: FrozenClock) -> Case:
    clock.set(plan.reported_at)
    fields = {
        "title": plan.title,
        "description": plan.description,
        "category_code": plan.category_code,
        # A red report starts the emergency process, which the demo does not walk: the historic red cases
        # were reported orange and made red at triage, so they run the ordinary case loop.
        "severity": "orange" if plan.severity == "red" else plan.severity,
        "lat": plan.place.lat,
        "lon": plan.place.lon,
        "address": plan.place.address,
        "source_channel": plan.source_channel,
    }
    case = cases.report_case(context.user(plan.reporter), fields)
    context.keys[plan.index] = case.key
    return case


def walk_case(plan: CasePlan, context: Context, clock: FrozenClock) -> Case:
    """Report the plan's case at its time, then do each step at its time until the plan ends or the next step
    lies after ``context.end``. Timers due on the way fire at their due times."""
    case = report(plan, context, clock)
    walk = Walk(plan, case, context, random.Random(plan.seed))
    instance = cases.case_instance(case)
    # task id → (walk.version when decided, action). A task left open is looked at again once something
    # happened (a step, a timer): a coordinator's decision may be what it was waiting for.
    chosen: dict[int, tuple[int, Action | None]] = {}
    while True:
        pending = []
        for task in _open_tasks(instance.id):
            decided = chosen.get(task.id)
            if decided is None or (decided[1] is None and decided[0] != walk.version):
                builder = STEPS.get(task.element_id)
                chosen[task.id] = (walk.version, builder(walk, task) if builder is not None else None)
            action = chosen[task.id][1]
            if action is not None:
                pending.append((max(action.at, clock.now() + timedelta(minutes=1)), task.id, task, action))
        upcoming = min(pending, key=lambda p: (p[0], p[1])) if pending else None
        horizon = min(upcoming[0], context.end) if upcoming else context.end
        timer = _next_timer(instance)
        if timer is not None and timer <= horizon:
            clock.set(timer)
            instances.fire_due_timers(instance.id)
            walk.version += 1
            continue
        if upcoming is None or upcoming[0] > context.end:
            return case
        at, _, task, action = upcoming
        clock.set(at)
        _perform(walk, task, action)
        walk.version += 1


def _next_timer(instance: ProcessInstance) -> datetime | None:
    if instance.status != InstanceStatus.RUNNING or instance.next_timer_at is None:
        return None
    return as_utc(instance.next_timer_at)


def _perform(walk: Walk, task: HumanTask, action: Action) -> None:
    user = walk.context.user(action.actor) if action.actor else _actor(walk, task)
    if action.instead is not None:
        action.instead(user)
        return
    data = dict(action.data)
    if action.prepare is not None:
        data.update(action.prepare(user))
    tasks.complete(user, task.id, data)
    if task.element_id == "handle":
        walk.handled += 1
    if "coordinate_decision" in data:
        walk.coordinated += 1
        if data["coordinate_decision"] == "summon":
            walk.summons += 1
            walk.summoned = list(data["summon_units"])
