"""Administering accounts: a user's role, name and unit, deactivating and reactivating them. Each change
writes its audit event (actor, action, target); the caller commits.

Deactivation takes effect at once: ``active`` is false, so sign-in refuses (app/auth/signin.py), the page
session ends at the next request (the session loader in app/web/auth.py) and every live token is revoked
(``user_from_token`` also refuses an inactive user's token, revoked or not). Their open tasks stay where they
are, listed for a supervisor or an admin to reassign (``app.tasks.holders.open_tasks_of``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select

from app.audit.services import record
from app.auth.models import User
from app.auth.roles import ALL_ROLES
from app.auth.services import revoke_tokens_of
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.inputs import contains_text

MAX_DISPLAY_NAME = 80


def find_users(
    q: str | None = None, role: str | None = None, active: bool | None = None
) -> Select[tuple[User]]:
    """Users by id: ``q`` in the username or display name, a role, active or not."""
    query = select(User).order_by(User.id)
    if q:
        query = query.where(or_(contains_text(User.username, q), contains_text(User.display_name, q)))
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    return query


def get_user(username: str) -> User:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username!r}", {"username": "unknown"})
    return user


def update_user(
    user: User,
    actor: User,
    *,
    role: str | None = None,
    display_name: str | None = None,
    unit_code: Any = ...,
) -> dict[str, Any]:
    """Change ``user``'s role, display name or unit (``...``: leave the unit as it is; None: no unit).
    Like ``create_user``, the unit code is stored as given and the grids are not looked at: units and grids
    sit above users, so the caller checks the unit exists and that the user's grids suit a new role
    (``app.grids.members.set_user_grids`` with the role changed). What changed, before → after."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if role is not None and role != user.role:
        if role not in ALL_ROLES:
            raise InvalidInput("unknown role", {"role": f"{role!r}: expected one of {sorted(ALL_ROLES)}"})
        if user.id == actor.id:
            raise InvalidInput(
                "不能修改自己的角色 (you cannot change your own role)",
                {"role": "不能修改自己的角色 (you cannot change your own role)"},
            )
        before["role"], after["role"] = user.role, role
    if display_name is not None:
        name = display_name.strip()
        if not name or len(name) > MAX_DISPLAY_NAME:
            raise InvalidInput(
                "bad display name",
                {"display_name": f"姓名须为 1-{MAX_DISPLAY_NAME} 个字符 (1-{MAX_DISPLAY_NAME} characters)"},
            )
        if name != user.display_name:
            before["display_name"], after["display_name"] = user.display_name, name
    if unit_code is not ... and unit_code != user.unit_code:
        before["unit_code"], after["unit_code"] = user.unit_code, unit_code
    if not after:
        return {}
    for name, value in after.items():
        setattr(user, name, value)
    record("user.updated", entity_type="user", entity_id=user.id, actor=actor, before=before, after=after)
    return {"before": before, "after": after}


def deactivate(user: User, actor: User | None, reason: str | None = None) -> int:
    """``user`` can no longer sign in and their tokens are refused from now on; how many live tokens were
    revoked. An admin cannot deactivate themselves (nobody could undo it from their session). ``actor`` None:
    the command line."""
    if actor is not None and user.id == actor.id:
        raise InvalidInput(
            "不能停用自己的账户 (you cannot deactivate your own account)",
            {"username": "不能停用自己的账户 (you cannot deactivate your own account)"},
        )
    if not user.active:
        return 0
    user.active = False
    revoked = revoke_tokens_of(user, actor)
    record(
        "user.deactivated",
        entity_type="user",
        entity_id=user.id,
        actor=actor,
        before={"active": True},
        after={"active": False},
        data={"tokens_revoked": revoked, **({"reason": reason} if reason else {})},
    )
    return revoked


def reactivate(user: User, actor: User | None) -> None:
    """``user`` may sign in again (with their password; the revoked tokens stay revoked)."""
    if user.active:
        return
    user.active = True
    user.failed_sign_ins, user.failed_since, user.locked_until = 0, None, None
    record(
        "user.reactivated",
        entity_type="user",
        entity_id=user.id,
        actor=actor,
        before={"active": False},
        after={"active": True},
    )
