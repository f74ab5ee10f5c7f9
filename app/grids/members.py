"""People on grids (GridMember): who is assigned where, and which role may be assigned to which level.

A grid worker or grid leader works a comprehensive grid (or a compound, a building below it); community
staff and community mediators their community; a street coordinator their street; district coordinators,
supervisors and dispatchers their district or a street. Residents, department handlers (who belong to
units), designers and admins are not assigned to grids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from app.audit.services import Actor, record
from app.auth.models import User
from app.auth.roles import Role
from app.clock import now
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.grids.codes import LEVEL_LABELS, LEVELS, code_problem, level_of
from app.grids.models import Grid, GridMember

_GRID_AND_BELOW = frozenset({"grid", "compound", "building"})
_DISTRICT_OR_STREET = frozenset({"district", "street"})
ASSIGNABLE_LEVELS: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: _GRID_AND_BELOW,
    Role.GRID_LEADER: _GRID_AND_BELOW,
    Role.COMMUNITY_STAFF: frozenset({"community"}),
    Role.STREET_COORDINATOR: frozenset({"street"}),
    Role.DISTRICT_COORDINATOR: _DISTRICT_OR_STREET,
    Role.SUPERVISOR: _DISTRICT_OR_STREET,
    Role.DISPATCHER: _DISTRICT_OR_STREET,
    Role.MEDIATOR: frozenset({"community"}),  # community mediators (社区调解员) serve their community
}


def _levels_text(levels: frozenset[str]) -> str:
    return " or ".join(f"{level} ({LEVEL_LABELS[level]})" for level in LEVELS if level in levels)


def get_user(username: str) -> User:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username!r}", {"username": "unknown"})
    return user


def user_grids(user: User) -> list[Grid]:
    """The grids ``user`` is assigned to, by code."""
    return list(
        db.session.execute(
            select(Grid)
            .join(GridMember, GridMember.grid_id == Grid.id)
            .where(GridMember.user_id == user.id)
            .order_by(Grid.code)
        ).scalars()
    )


def user_grid_codes(user: User) -> list[str]:
    return sorted(g.code for g in user_grids(user))


def can_see_grid(user: User, code: str) -> bool:
    """Admins see every grid; others the grids in the subtrees they are assigned to."""
    if user.role == Role.ADMIN:
        return True
    return any(code.startswith(own) for own in user_grid_codes(user))


def grid_members(code: str, subtree: bool = False) -> list[tuple[User, str]]:
    """(user, grid code) of the people assigned to grid ``code`` (and below it, with ``subtree``)."""
    where = Grid.code.startswith(code) if subtree else Grid.code == code
    rows = db.session.execute(
        select(User, Grid.code)
        .join(GridMember, GridMember.user_id == User.id)
        .join(Grid, Grid.id == GridMember.grid_id)
        .where(where)
        .order_by(Grid.code, User.role, User.username)
    ).all()
    return [(user, grid_code) for user, grid_code in rows]


def _checked_grids(user: User, codes: Sequence[str]) -> list[Grid]:
    """The grids named by ``codes`` (each once); 422 when a code is malformed or unknown, or when the user's
    role may not be assigned to that level."""
    wanted = list(dict.fromkeys(codes))
    bad = [problem for code in wanted if (problem := code_problem(code)) is not None]
    if bad:
        raise InvalidInput("invalid grid code", {"grids": "; ".join(bad)})
    allowed = ASSIGNABLE_LEVELS.get(user.role)
    if allowed is None and wanted:
        raise InvalidInput(
            f"a {user.role} is not assigned to grids",
            {"grids": f"{user.username} is a {user.role}; grids are for {', '.join(ASSIGNABLE_LEVELS)}"},
        )
    wrong = [code for code in wanted if allowed is not None and level_of(code) not in allowed]
    if wrong and allowed is not None:
        levels = ", ".join(f"{code} is a {level_of(code)}" for code in wrong)
        raise InvalidInput(
            f"a {user.role} may be assigned to a {_levels_text(allowed)} only",
            {"grids": f"{levels}; a {user.role} may be assigned to a {_levels_text(allowed)} only"},
        )
    found = {g.code: g for g in db.session.execute(select(Grid).where(Grid.code.in_(wanted))).scalars()}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise InvalidInput(
            f"unknown grid code: {', '.join(unknown)}", {"grids": f"no grid with code {', '.join(unknown)}"}
        )
    return [found[code] for code in wanted]


def set_user_grids(user: User, codes: Sequence[str], actor: Actor | None = None) -> list[Grid]:
    """Replace the grids ``user`` is assigned to (an empty list removes every assignment)."""
    grids = _checked_grids(user, codes)
    before = user_grid_codes(user)
    after = sorted(g.code for g in grids)
    if before == after:
        return user_grids(user)
    db.session.execute(delete(GridMember).where(GridMember.user_id == user.id))
    timestamp = now()
    db.session.add_all(GridMember(user_id=user.id, grid_id=g.id, created_at=timestamp) for g in grids)
    db.session.flush()
    record(
        "user.grids_set",
        entity_type="user",
        entity_id=user.username,
        actor=actor,
        before={"grids": before},
        after={"grids": after},
    )
    return user_grids(user)


def add_user_grids(user: User, codes: Sequence[str], actor: Actor | None = None) -> list[Grid]:
    """Assign ``user`` to ``codes`` as well as to the grids they have already."""
    return set_user_grids(user, [*user_grid_codes(user), *codes], actor=actor)
