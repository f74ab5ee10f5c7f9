"""Which devices (and their alarms, incidents, dead letters) a user sees: the grid scope of cases
(``app/grids/scope.py``) applied to where a device is. Admins see every device; grid-scoped staff the devices
in their subtrees; the command centre (and whoever holds a district) also the devices no grid holds. Who
may read sensors at all is a role rule of its own (``app.devices.api.READERS``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from app.auth.models import User
from app.devices.models import DeadLetter, Device
from app.errors import NotFound
from app.extensions import db
from app.grids.scope import in_subtrees, scope_of


def located_in_scope(user: User, grid_column: Any) -> ColumnElement[bool]:
    """``grid_column`` (a device's or an incident's grid code) lies where ``user`` sees cases."""
    scope = scope_of(user)
    if scope.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if scope.grid_codes:
        conditions.append(in_subtrees(grid_column, scope.grid_codes))
    if scope.unlocated:
        conditions.append(grid_column.is_(None))
    return or_(*conditions) if conditions else false()


def visible_device(user: User, device_id: str) -> Device:
    """The device, if the user may see it; one they may not see answers like one that does not exist."""
    device = db.session.execute(
        select(Device).where(Device.device_id == device_id, located_in_scope(user, Device.grid_code))
    ).scalar_one_or_none()
    if device is None:
        raise NotFound(f"device {device_id!r} is not registered")
    return device


def dead_letter_in_scope(user: User) -> ColumnElement[bool]:
    """Dead letters of no device (nobody can place them: every sensor reader sees them), and those of the
    devices the user sees."""
    in_scope = select(Device.id).where(located_in_scope(user, Device.grid_code))
    return or_(DeadLetter.device_id.is_(None), DeadLetter.device_id.in_(in_scope))
