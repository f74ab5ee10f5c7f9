"""Who a report can be dispatched to, for the workbench's picker: people and units by name, each with the
grid that makes them a candidate and their open load, the engine's proposal (``data.proposal`` of the
dispatch task, from ``app.cases.dispatch.propose``) first and pre-selected.

``nearby``: the grid workers of the case's grid and the units of every kind serving it (the rules of
``app.cases.dispatch``, loads as they are now). ``others``: for a dispatcher who overrides the proposal,
every other active department handler and unit, and the grid workers of the case's street (of the whole
territory for an unlocated case): a district has a thousand grid workers, a street some dozens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.auth.roles import Role
from app.cases.dispatch import (
    HANDLER_ROLES,
    Candidate,
    grid_worker_candidates,
    unit_candidates,
    unit_loads,
    user_loads,
)
from app.cases.models import Case
from app.extensions import db
from app.grids.codes import LEVEL_LENGTHS
from app.grids.models import Grid, GridMember
from app.grids.scope import in_subtrees
from app.units.models import UNIT_KINDS, Unit

USER, UNIT = "user", "unit"
GRID_CODE = re.compile(r"(?<!\d)\d{6,24}(?!\d)")


@dataclass(frozen=True)
class Choice:
    value: str  # "user:<username>" or "unit:<code>", what the picker posts
    kind: str  # USER | UNIT
    name: str  # the person's or the unit's name
    role: str | None  # a person's role
    unit_kind: str | None  # a unit's kind
    grid_code: str | None  # the grid that makes them a candidate (a person's first grid for others)
    load: int  # open tasks

    @property
    def code(self) -> str:
        return self.value.split(":", 1)[1]


@dataclass(frozen=True)
class Picker:
    proposed: str | None  # the value of the engine's proposal, None when it has none
    reason: str  # why (zh-CN / English, as the engine wrote it)
    nearby: list[Choice]
    others: list[Choice]
    grid_names: dict[str, str]

    def find(self, value: str) -> Choice | None:
        return next((c for c in [*self.nearby, *self.others] if c.value == value), None)


def value_of(handler_user: str | None, handler_unit: str | None) -> str | None:
    if handler_user:
        return f"{USER}:{handler_user}"
    return f"{UNIT}:{handler_unit}" if handler_unit else None


def split_value(value: str) -> tuple[str, str] | None:
    """(kind, name) of a posted picker value; None when it is not one."""
    kind, _, name = value.partition(":")
    return (kind, name) if kind in (USER, UNIT) and name else None


def build(case: Case, proposal: dict[str, Any] | None) -> Picker:
    proposal = proposal or {}
    nearby = _nearby(case.grid_code) if case.grid_code else []
    taken = {choice.value for choice in nearby}
    street = case.grid_code[: LEVEL_LENGTHS["street"]] if case.grid_code else None
    others = [choice for choice in _everyone(street) if choice.value not in taken]
    proposed = value_of(proposal.get("handler_user"), proposal.get("handler_unit"))
    if proposed is not None and proposed not in taken:
        # The proposal from when the dispatch task was made, whoever serves the grid now: keep it first.
        moved = [c for c in others if c.value == proposed]
        nearby, others = moved + nearby, [c for c in others if c.value != proposed]
    if proposed is not None:
        nearby.sort(key=lambda c: c.value != proposed)  # stable: the proposal first, the rest in order
    reason = str(proposal.get("reason") or "")
    codes = {c.grid_code for c in [*nearby, *others] if c.grid_code} | set(GRID_CODE.findall(reason))
    names = _grid_names(codes)
    # The engine names grids by code; people read their names.
    reason = GRID_CODE.sub(lambda m: names.get(m.group(0), m.group(0)), reason)
    return Picker(proposed, reason, nearby, others, names)


def _nearby(grid_code: str) -> list[Choice]:
    workers = grid_worker_candidates(grid_code)
    names = [c.name for c in workers]
    users = {
        u.username: u for u in db.session.execute(select(User).where(User.username.in_(names))).scalars()
    }
    people = [_person(users[c.name], c.grid_code, c.load) for c in workers if c.name in users]
    units: list[Choice] = []
    for kind in UNIT_KINDS:
        units += [_unit_choice(c, kind) for c in unit_candidates(grid_code, kind)]
    return people + units


def _person(user: User, grid_code: str | None, load: int) -> Choice:
    return Choice(
        f"{USER}:{user.username}", USER, user.display_name or user.username, user.role, None, grid_code, load
    )


def _unit_choice(candidate: Candidate, kind: str) -> Choice:
    return Choice(
        f"{UNIT}:{candidate.name}", UNIT, candidate.label, None, kind, candidate.grid_code, candidate.load
    )


def _everyone(street: str | None) -> list[Choice]:
    """Every active handler (by name; grid workers of ``street`` only, when given) and unit, with their
    first grid and load."""
    statement = select(User).where(User.role.in_(HANDLER_ROLES), User.active.is_(True))
    if street is not None:
        on_street = (
            select(GridMember.user_id)
            .join(Grid, Grid.id == GridMember.grid_id)
            .where(in_subtrees(Grid.code, (street,)))
        )
        statement = statement.where((User.role != Role.GRID_WORKER) | User.id.in_(on_street))
    people = list(db.session.execute(statement.order_by(User.display_name, User.username)).scalars())
    first_grid: dict[int, str] = {}
    member_rows = db.session.execute(
        select(GridMember.user_id, Grid.code)
        .join(Grid, Grid.id == GridMember.grid_id)
        .where(GridMember.user_id.in_([u.id for u in people]))
        .order_by(Grid.code)
    )
    for user_id, code in member_rows:
        first_grid.setdefault(user_id, code)
    loads = user_loads([u.id for u in people])
    units = list(db.session.execute(select(Unit).where(Unit.active.is_(True)).order_by(Unit.name)).scalars())
    unit_load = unit_loads([u.code for u in units])
    return [_person(u, first_grid.get(u.id), loads.get(u.id, 0)) for u in people] + [
        Choice(f"{UNIT}:{u.code}", UNIT, u.name, None, u.kind, None, unit_load.get(u.code, 0)) for u in units
    ]


def _grid_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = db.session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(codes)))
    return {code: name for code, name in rows}
