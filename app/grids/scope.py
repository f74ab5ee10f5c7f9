"""Who sees which cases: a user's scope, from their role and the grids they are assigned to.

The rules (``app.cases.services.visible_cases`` turns a scope into the one SQL condition that the case
list, search, get, timeline, comments, attachments, process instances, task inboxes and KPIs all use):

- **admin**: every case.
- **designer**: no case contents (process definitions and instances only, see ``app/processes/api.py``).
- **grid-scoped roles** (grid worker, grid leader, community staff, street and district coordinators,
  dispatcher, supervisor): the cases whose ``grid_code`` lies in the subtree of any grid they are assigned
  to (``GridMember``; a subtree is every code starting with the grid's code). Nobody is scoped by role
  alone: a dispatcher or supervisor with no assignment sees no located case.
- **unlocated cases** (no location, or outside every grid: ``grid_code IS NULL``) belong to the command
  centre: every dispatcher and supervisor, and whoever is assigned to a district-level grid (6 digits).
- **department handler**: the cases dispatched to their unit (``case.handler_unit`` or a task offered to
  the group ``user.unit_code``).
- **everybody** (residents included): the cases they reported, and the cases they have or had a task on
  personally (assignee, named candidate, or who completed it). That keeps each person's own work in view.

A task offered by role only is shown, claimable and completable by someone who can see its case
(``app.tasks.services``); a task of a case you cannot see answers 404, like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from sqlalchemy import ColumnElement, and_, false, or_, select

from app.auth.models import User
from app.auth.roles import Role
from app.extensions import db
from app.grids.codes import DISTRICT_LENGTH
from app.grids.models import Grid, GridMember

GRID_SCOPED_ROLES: frozenset[str] = frozenset(
    {
        Role.GRID_WORKER,
        Role.GRID_LEADER,
        Role.COMMUNITY_STAFF,
        Role.STREET_COORDINATOR,
        Role.DISTRICT_COORDINATOR,
        Role.DISPATCHER,
        Role.SUPERVISOR,
    }
)
# The command centre: sees the cases no grid holds, assigned or not.
COMMAND_CENTRE_ROLES: frozenset[str] = frozenset({Role.DISPATCHER, Role.SUPERVISOR})

_CACHE_KEY = "gridcase.scope"


@dataclass(frozen=True)
class Scope:
    """What a user sees beyond their own reports and tasks."""

    everything: bool = False
    # Roots of the subtrees the user sees: no code here lies under another one.
    grid_codes: tuple[str, ...] = ()
    # Cases with no grid.
    unlocated: bool = False
    # Cases dispatched to this unit.
    unit_code: str | None = None


def scope_of(user: User) -> Scope:
    """The user's scope, read once per request (assignments cost one query)."""
    if not has_request_context():
        return _compute(user)
    cached: tuple[int, Scope] | None = request.environ.get(_CACHE_KEY)
    if cached is not None and cached[0] == user.id:
        return cached[1]
    scope = _compute(user)
    request.environ[_CACHE_KEY] = (user.id, scope)
    return scope


def _compute(user: User) -> Scope:
    if user.role == Role.ADMIN:
        return Scope(everything=True)
    if user.role == Role.DEPARTMENT_HANDLER:
        return Scope(unit_code=user.unit_code)
    if user.role not in GRID_SCOPED_ROLES:
        return Scope()
    codes = subtree_roots(assigned_grid_codes(user.id))
    unlocated = user.role in COMMAND_CENTRE_ROLES or any(len(c) == DISTRICT_LENGTH for c in codes)
    if unlocated and _covers_every_district(codes):
        # Every case lies under some district or has no grid: no filter at all (the usual command centre of
        # a one-district deployment, whose queries then cost what an admin's do).
        return Scope(everything=True, grid_codes=codes, unlocated=True)
    return Scope(grid_codes=codes, unlocated=unlocated)


def _covers_every_district(roots: tuple[str, ...]) -> bool:
    districts = [r for r in roots if len(r) == DISTRICT_LENGTH]
    if not districts:
        return False
    known = db.session.execute(select(Grid.code).where(Grid.level == "district")).scalars()
    return set(known) <= set(districts)


def assigned_grid_codes(user_id: int) -> list[str]:
    return list(
        db.session.execute(
            select(Grid.code)
            .join(GridMember, GridMember.grid_id == Grid.id)
            .where(GridMember.user_id == user_id)
        ).scalars()
    )


def subtree_roots(codes: list[str]) -> tuple[str, ...]:
    """``codes`` without those lying under another one of them (their subtree is already covered)."""
    roots: list[str] = []
    for code in sorted(set(codes)):  # a prefix sorts before everything that starts with it
        if not roots or not code.startswith(roots[-1]):
            roots.append(code)
    return tuple(roots)


def in_subtrees(column: Any, codes: tuple[str, ...] | list[str]) -> ColumnElement[bool]:
    """``column`` (a grid code) lies in the subtree of one of ``codes``.

    Each prefix becomes ``column >= 'P' AND column < 'P+1' AND column LIKE 'P%'``: the range lets a plain
    b-tree index on ``column`` serve the lookup under any collation (PostgreSQL only uses an index for
    ``LIKE 'P%'`` under the C collation or with ``varchar_pattern_ops``), the LIKE keeps the answer exact.
    """
    if not codes:
        return false()
    return or_(*(_prefix(column, code) for code in codes))


def _prefix(column: Any, code: str) -> ColumnElement[bool]:
    if not code.isdigit():
        raise ValueError(f"grid code {code!r} must contain digits only")
    condition = and_(column >= code, column.like(f"{code}%"))
    following = str(int(code) + 1).zfill(len(code))
    if len(following) == len(code):  # 999… has no same-width successor: no upper bound needed
        condition = and_(condition, column < following)
    return condition
