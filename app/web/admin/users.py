"""The user list: search (username or name), filters (role, grid: people assigned in its subtree, unit,
active or not) and pagination; and what the user pages show beside a user (grids, unit, open tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, or_, select

from app.auth.models import User
from app.auth.roles import ALL_ROLES
from app.errors import InvalidInput
from app.extensions import db
from app.grids.codes import code_problem
from app.grids.models import Grid, GridMember
from app.grids.scope import in_subtrees
from app.http import MAX_PAGE_SIZE, paginate
from app.inputs import BoundedInt, contains_text
from app.units.models import Unit
from app.web.admin.filters import as_args, parse_filters

PAGE_SIZE = 25
STATES = ("active", "inactive")
_ROLE_ERROR = "没有这个角色 (no such role)"
_STATE_ERROR = "应为 active 或 inactive (expected active or inactive)"


class UserArgs(Schema):
    q = fields.Str(validate=validate.Length(max=80, error="最多 80 个字符 (at most 80 characters)"))
    role = fields.Str(validate=validate.OneOf(sorted(ALL_ROLES), error=_ROLE_ERROR))
    grid = fields.Str()
    unit = fields.Str(validate=validate.Length(max=40))
    state = fields.Str(validate=validate.OneOf(STATES, error=_STATE_ERROR))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


DEFAULTS: dict[str, Any] = {"page": 1, "page_size": PAGE_SIZE}


@dataclass(frozen=True)
class UserQuery:
    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def as_args(self, **changes: Any) -> dict[str, Any]:
        return as_args(self.values, DEFAULTS, **changes)


def parse_args(raw: dict[str, str]) -> UserQuery:
    loaded = parse_filters(UserArgs(), raw)
    grid = loaded.get("grid")
    if grid is not None:
        problem = code_problem(grid)
        if problem is None and db.session.execute(select(Grid.id).where(Grid.code == grid)).first() is None:
            problem = f"没有编码为 {grid} 的网格 (no grid with code {grid})"
        if problem is not None:
            raise InvalidInput("invalid filter: grid", {"grid": problem})
    return UserQuery({**DEFAULTS, **loaded})


def user_statement(query: UserQuery) -> Select[tuple[User]]:
    statement = select(User).order_by(User.username)
    if q := query.get("q"):
        statement = statement.where(or_(contains_text(User.username, q), contains_text(User.display_name, q)))
    if role := query.get("role"):
        statement = statement.where(User.role == role)
    if unit := query.get("unit"):
        statement = statement.where(User.unit_code == unit)
    if state := query.get("state"):
        statement = statement.where(User.active.is_(state == "active"))
    if grid := query.get("grid"):
        assigned = (
            select(GridMember.user_id)
            .join(Grid, Grid.id == GridMember.grid_id)
            .where(in_subtrees(Grid.code, (grid,)))
        )
        statement = statement.where(User.id.in_(assigned))
    return statement


def search(query: UserQuery) -> dict[str, Any]:
    """One page of users (``app.http.paginate``'s envelope) and ``grids``: each shown user's grid codes."""
    page = paginate(user_statement(query), query.get("page"), query.get("page_size"))
    page["grids"] = grids_of([user.id for user in page["items"]])
    return page


def grids_of(user_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(code, name) of the grids each of ``user_ids`` is assigned to."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(GridMember.user_id, Grid.code, Grid.name)
        .join(Grid, Grid.id == GridMember.grid_id)
        .where(GridMember.user_id.in_(user_ids))
        .order_by(Grid.code)
    )
    found: dict[int, list[tuple[str, str]]] = {}
    for user_id, code, name in rows:
        found.setdefault(user_id, []).append((code, name))
    return found


def unit_choices() -> list[tuple[str, str, bool]]:
    """(code, name, active) of every unit, by code."""
    rows = db.session.execute(select(Unit.code, Unit.name, Unit.active).order_by(Unit.code))
    return [(code, name, active) for code, name, active in rows]


def unit_names() -> dict[str, str]:
    return {code: name for code, name, _active in unit_choices()}
