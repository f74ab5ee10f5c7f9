"""Which grids a user's inspection work covers: the grid scope of ``app/grids/scope.py``, and for a department
handler the grids their unit serves (a unit serves each of its grids' whole subtree)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, select, true

from app.auth.models import User
from app.auth.roles import Role
from app.extensions import db
from app.grids.models import Grid
from app.grids.scope import in_subtrees, scope_of, subtree_roots
from app.units.models import Unit, UnitGrid


@dataclass(frozen=True)
class Territory:
    everything: bool = False
    grid_codes: tuple[str, ...] = ()  # subtree roots

    def condition(self, column: Any) -> ColumnElement[bool]:
        """``column`` (a grid code) lies in this territory."""
        if self.everything:
            return true()
        if not self.grid_codes:
            return false()
        return in_subtrees(column, self.grid_codes)

    def covers(self, code: str) -> bool:
        return self.everything or any(code.startswith(root) for root in self.grid_codes)


def unit_grid_codes(unit_code: str) -> list[str]:
    return list(
        db.session.execute(
            select(Grid.code)
            .join(UnitGrid, UnitGrid.grid_id == Grid.id)
            .join(Unit, Unit.id == UnitGrid.unit_id)
            .where(Unit.code == unit_code)
        ).scalars()
    )


def territory_of(user: User) -> Territory:
    if user.role == Role.DEPARTMENT_HANDLER:
        return Territory(grid_codes=subtree_roots(unit_grid_codes(user.unit_code)) if user.unit_code else ())
    scope = scope_of(user)
    return Territory(everything=scope.everything, grid_codes=scope.grid_codes)
