"""Dispatch by location (依据上报点定位派单): who should handle a case, and by when, in working time.

Who: a case's grid comes from its location (``app.grids.services.locate``, the deepest grid). Its category
says whether the grid's own workers handle it or a unit of some kind (water, gas, property company, …):

* grid workers: active ``grid_worker`` users with a ``GridMember`` row on the case's grid or one of its
  ancestors, the deepest such level winning (a worker of the comprehensive grid before one assigned to the
  whole community). Only when nobody is on that path do workers assigned *below* the case's grid count (a
  case located on a grid, outside its compounds, when the workers are assigned to compounds).
* units: active units of the category's kind with a ``UnitGrid`` row on the case's grid or an ancestor
  (a unit serves its grids' whole subtrees), again the deepest level winning.

Among several, the least loaded wins (fewest open tasks: for a person, the open tasks assigned or offered to
them by name; for a unit, open tasks whose candidate group is the unit code), ties by name. The proposal
explains itself in ``reason`` (zh-CN, then English); the dispatcher may choose someone else.

By when: the category's ``handle_limit`` (and ``close_limit``), scaled by severity, on the app's working
calendar (China's working days and the configured working hours). A dispatcher's ``time_limit_hours`` are
working hours and are not scaled: the dispatcher chose them for this case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from app import runtime
from app.audit.services import Actor, record_case_event
from app.auth.models import User
from app.auth.roles import Role
from app.cases.models import Case
from app.categories.models import Category
from app.categories.services import get_category, responsibility
from app.clock import as_utc
from app.errors import InvalidInput
from app.extensions import db
from app.grids.codes import path_codes
from app.grids.models import Grid, GridMember
from app.timelimits.calendar import (
    SEVERITY_FACTORS,
    CalendarError,
    Deadline,
    Severity,
    TimeLimit,
    WorkingCalendar,
    deadline,
)
from app.units.models import UNIT_KINDS, Unit, UnitGrid
from app.workflow.models import HumanTask, TaskStatus

HANDLER_ROLES = (Role.GRID_WORKER, Role.DEPARTMENT_HANDLER)
NO_LOCATION = "上报未提供位置,请人工派遣 / the report has no location: choose a handler"
OUTSIDE_EVERY_GRID = (
    "上报位置不在任何网格内,请人工派遣 / the location is outside every grid: choose a handler"
)
# A dispatcher's own limit is taken as given, whatever the severity.
UNSCALED = {severity: 1.0 for severity in Severity}


def unlocated_reason(case: Case) -> str | None:
    """Why the case has no grid (None when it has one)."""
    if case.grid_code is not None:
        return None
    return NO_LOCATION if case.lat is None or case.lon is None else OUTSIDE_EVERY_GRID


# -- who ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    name: str  # username or unit code
    label: str  # display name or unit name
    grid_code: str  # the grid that makes them a candidate
    load: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "grid_code": self.grid_code, "open_tasks": self.load}


@dataclass(frozen=True)
class Proposal:
    handler_user: str | None
    handler_unit: str | None
    reason: str
    responsible_level: str
    responsible_unit_kind: str | None
    grid_code: str | None
    category_code: str | None
    unlocated: str | None = None
    candidates: list[Candidate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "handler_user": self.handler_user,
            "handler_unit": self.handler_unit,
            "reason": self.reason,
            "responsible_level": self.responsible_level,
            "responsible_unit_kind": self.responsible_unit_kind,
            "grid_code": self.grid_code,
            "category_code": self.category_code,
            "unlocated": self.unlocated,
            "candidates": [c.as_dict() for c in self.candidates],
        }


def _deepest(rows: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    depth = max(len(code) for _, code in rows)
    return [(item, code) for item, code in rows if len(code) == depth]


def user_loads(user_ids: list[int]) -> dict[int, int]:
    """Open tasks per user: held by them, or offered to them by name and not yet taken."""
    offered = and_(HumanTask.assignee_id.is_(None), HumanTask.candidate_user == User.username)
    rows = db.session.execute(
        select(User.id, func.count(HumanTask.id))
        .outerjoin(
            HumanTask,
            and_(HumanTask.status.in_(TaskStatus.OPEN), or_(HumanTask.assignee_id == User.id, offered)),
        )
        .where(User.id.in_(user_ids))
        .group_by(User.id)
    ).all()
    return {user_id: count for user_id, count in rows}


def unit_loads(unit_codes: list[str]) -> dict[str, int]:
    """Open tasks per unit: those whose candidate group is the unit's code."""
    rows = db.session.execute(
        select(HumanTask.candidate_group, func.count())
        .where(HumanTask.status.in_(TaskStatus.OPEN), HumanTask.candidate_group.in_(unit_codes))
        .group_by(HumanTask.candidate_group)
    ).all()
    return {code: count for code, count in rows if code is not None}


def grid_worker_candidates(grid_code: str) -> list[Candidate]:
    """The grid's workers (see the module docstring), least loaded first, ties by username."""
    base = (
        select(User, Grid.code)
        .join(GridMember, GridMember.user_id == User.id)
        .join(Grid, Grid.id == GridMember.grid_id)
        .where(User.role == Role.GRID_WORKER, User.active.is_(True))
    )
    rows = [(u, c) for u, c in db.session.execute(base.where(Grid.code.in_(path_codes(grid_code)))).all()]
    if rows:
        rows = _deepest(rows)
    else:
        below = base.where(Grid.code.startswith(grid_code), Grid.code != grid_code)
        rows = [(u, c) for u, c in db.session.execute(below).all()]
    first_grid: dict[int, tuple[User, str]] = {}
    for user, code in sorted(rows, key=lambda r: r[1]):
        first_grid.setdefault(user.id, (user, code))
    loads = user_loads(list(first_grid))
    candidates = [
        Candidate(user.username, user.display_name, code, loads.get(user.id, 0))
        for user, code in first_grid.values()
    ]
    return sorted(candidates, key=lambda c: (c.load, c.name))


def unit_candidates(grid_code: str, kind: str) -> list[Candidate]:
    """Active units of ``kind`` serving the grid (on it or an ancestor), least loaded first, ties by name."""
    rows = [
        (u, c)
        for u, c in db.session.execute(
            select(Unit, Grid.code)
            .join(UnitGrid, UnitGrid.unit_id == Unit.id)
            .join(Grid, Grid.id == UnitGrid.grid_id)
            .where(Unit.kind == kind, Unit.active.is_(True), Grid.code.in_(path_codes(grid_code)))
        ).all()
    ]
    if not rows:
        return []
    units: dict[int, tuple[Unit, str]] = {}
    for unit, code in _deepest(rows):
        units.setdefault(unit.id, (unit, code))
    loads = unit_loads([unit.code for unit, _ in units.values()])
    candidates = [
        Candidate(unit.code, unit.name, code, loads.get(unit.code, 0)) for unit, code in units.values()
    ]
    return sorted(candidates, key=lambda c: (c.load, c.label, c.name))


def department_handler_candidates(grid_code: str) -> list[Candidate]:
    """The active department handlers of the active units serving the grid (on it or an ancestor), by the
    grid their unit serves, least loaded first, ties by username: whom a case may be handed to besides the
    grid's workers."""
    rows = db.session.execute(
        select(User, Grid.code)
        .join(Unit, Unit.code == User.unit_code)
        .join(UnitGrid, UnitGrid.unit_id == Unit.id)
        .join(Grid, Grid.id == UnitGrid.grid_id)
        .where(
            User.role == Role.DEPARTMENT_HANDLER,
            User.active.is_(True),
            Unit.active.is_(True),
            Grid.code.in_(path_codes(grid_code)),
        )
        .order_by(Grid.code.desc())  # the nearest grid first: a handler is named by it
    ).all()
    first_grid: dict[int, tuple[User, str]] = {}
    for user, code in rows:
        first_grid.setdefault(user.id, (user, code))
    loads = user_loads(list(first_grid))
    candidates = [
        Candidate(user.username, user.display_name, code, loads.get(user.id, 0))
        for user, code in first_grid.values()
    ]
    return sorted(candidates, key=lambda c: (c.load, c.name))


def _explain(chosen: Candidate, candidates: list[Candidate], what_zh: str, what_en: str) -> str:
    others = len(candidates) - 1
    zh = f"{what_zh}中待办最少: {chosen.label}({chosen.load} 项待办,另有 {others} 个备选)"
    en = f"least loaded {what_en}: {chosen.name} with {chosen.load} open tasks ({others} other candidates)"
    if others == 0:
        zh = f"{what_zh}中唯一人选: {chosen.label}({chosen.load} 项待办)"
        en = f"the only {what_en}: {chosen.name} with {chosen.load} open tasks"
    return f"{zh} / {en}"


def propose(case: Case) -> Proposal:
    """Who should handle ``case``: its grid's least-loaded worker, or the least-loaded responsible unit."""
    category = get_category(case.category_code, active_only=False)
    level, unit_kind = responsibility(category)
    common: dict[str, Any] = {
        "responsible_level": level,
        "responsible_unit_kind": unit_kind,
        "grid_code": case.grid_code,
        "category_code": case.category_code,
    }
    unlocated = unlocated_reason(case)
    if unlocated is not None or case.grid_code is None:
        return Proposal(None, None, unlocated or NO_LOCATION, unlocated=unlocated, **common)
    grid = case.grid_code
    if unit_kind is None:
        workers = grid_worker_candidates(grid)
        if not workers:
            reason = f"网格 {grid} 及其上级没有在岗网格员 / no active grid worker is assigned to grid {grid}"
            return Proposal(None, None, reason, **common)
        why = _explain(workers[0], workers, f"网格 {grid} 的网格员", f"grid worker of grid {grid}")
        return Proposal(workers[0].name, None, why, candidates=workers, **common)
    kind_zh, kind_en = UNIT_KINDS[unit_kind]
    units = unit_candidates(grid, unit_kind)
    if not units:
        reason = f"没有服务网格 {grid} 的{kind_zh}单位 / no active {kind_en.lower()} unit serves grid {grid}"
        return Proposal(None, None, reason, **common)
    why = _explain(
        units[0], units, f"服务网格 {grid} 的{kind_zh}单位", f"{kind_en.lower()} unit serving grid {grid}"
    )
    return Proposal(None, units[0].name, why, candidates=units, **common)


def check_handler(handler_user: str | None, handler_unit: str | None) -> None:
    """The chosen handler exists and is active: a 422 naming the field otherwise."""
    if handler_user is not None:
        user = db.session.execute(select(User).where(User.username == handler_user)).scalar_one_or_none()
        if user is None or not user.active or user.role not in HANDLER_ROLES:
            raise InvalidInput(
                "unknown handler",
                {"handler_user": f"no active grid worker or department handler {handler_user!r}"},
            )
    if handler_unit is not None:
        unit = db.session.execute(select(Unit).where(Unit.code == handler_unit)).scalar_one_or_none()
        if unit is None or not unit.active:
            raise InvalidInput("unknown unit", {"handler_unit": f"no active unit {handler_unit!r}"})


# -- filing (立案) ------------------------------------------------------------------------------------


def file_case(case: Case, data: dict[str, Any], actor: Actor | None, at: datetime) -> None:
    """Triage accepted the case: note when, and take the category or severity the dispatcher corrected."""
    if case.filed_at is None:
        case.filed_at = at
    changes: dict[str, Any] = {}
    code = data.get("category_code")
    if code and code != case.category_code:
        if get_category(code) is None:
            raise InvalidInput("unknown category", {"category_code": f"no active category {code!r}"})
        changes["category_code"] = code
    severity = data.get("severity")
    if severity and severity != case.severity:
        changes["severity"] = severity
    if not changes:
        return
    before = {name: getattr(case, name) for name in changes}
    for name, value in changes.items():
        setattr(case, name, value)
    record_case_event(
        "case.reclassified",
        case,
        actor=actor,
        before=before,
        after=changes,
    )


# -- by when -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    handle: Deadline
    close_due_at: datetime | None
    limit: TimeLimit
    source: str  # "dispatcher" | "category E0102" | "default"


def calendar() -> WorkingCalendar:
    working = runtime.working_calendar()
    return working


def compute_limits(case: Case, hours: float | None, start: datetime, category: Category | None) -> Limits:
    """The handling deadline from ``start`` (and the closing due time from filing); see the module doc."""
    settings = runtime.settings()
    fraction = settings.warning_fraction
    factors: Any = SEVERITY_FACTORS
    if hours:
        limit, source, factors = TimeLimit(float(hours), "working_hours"), "dispatcher", UNSCALED
    elif category is not None:
        limit, source = TimeLimit.parse(category.handle_limit), f"category {category.code}"
    else:
        limit, source = TimeLimit(float(settings.default_time_limit_hours), "working_hours"), "default"
    working = calendar()
    try:
        handle = deadline(working, start, limit, case.severity, fraction, factors=factors)
        close_due_at = None
        if category is not None:
            close_start = as_utc(case.filed_at) if case.filed_at else start
            close = TimeLimit.parse(category.close_limit)
            close_due_at = deadline(working, close_start, close, case.severity, fraction).due_at
    except CalendarError as exc:
        raise InvalidInput(
            f"cannot compute the time limit of case {case.key}: {exc}", {"time_limit": str(exc)}
        ) from exc
    return Limits(handle, close_due_at, limit, source)
