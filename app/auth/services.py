"""Users, passwords and bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Select, select

from app import runtime
from app.audit.services import record
from app.auth.models import ApiToken, User
from app.auth.passwords import password_problems
from app.auth.roles import ALL_ROLES, Role
from app.clock import as_utc, now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    unit_code: str | None = None,
    actor: User | None = None,
    password_hash: str | None = None,
) -> User:
    """A new active user. ``unit_code`` is stored as given: units sit above users, so callers taking a unit
    code from outside check it first (``app.units.services.require_unit``). ``password_hash``: the hash of
    ``password`` computed once by a caller creating many users with one password (the demo), since a hash
    costs ~0.1 s by design."""
    if role not in ALL_ROLES:
        raise InvalidInput("unknown role", {"role": f"{role!r}: expected one of {sorted(ALL_ROLES)}"})
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("bad username", {"username": "1-64 letters, digits, '_' or '-'"})
    check_new_password(password, username)
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists", {"username": "taken"})
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        unit_code=unit_code,
        active=True,
        created_at=now(),
    )
    if password_hash is not None:
        user.password_hash = password_hash
    else:
        user.set_password(password, runtime.settings().password_hash_method)
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        entity_type="user",
        entity_id=user.id,
        actor=actor,
        after={"username": username, "role": role, "unit_code": unit_code},
    )
    return user


def check_new_password(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise InvalidInput("密码不符合要求 (the password does not meet the policy)", {"password": problems})


def change_password(user: User, new_password: str, actor: User | None = None) -> None:
    """A new password (checked by the policy); the user's tokens are revoked, as after a leak."""
    check_new_password(new_password, user.username)
    user.set_password(new_password, runtime.settings().password_hash_method)
    user.failed_sign_ins, user.failed_since, user.locked_until = 0, None, None
    revoked = revoke_tokens_of(user, actor or user)
    record(
        "user.password_changed",
        entity_type="user",
        entity_id=user.id,
        actor=actor or user,
        data={"tokens_revoked": revoked},
    )


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A new bearer token; the caller shows it once, we keep only its hash."""
    token = "gc_" + secrets.token_urlsafe(32)
    ttl = timedelta(hours=runtime.settings().token_ttl_hours)
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), created_at=now(), expires_at=now() + ttl)
    db.session.add(row)
    db.session.flush()
    record("token.issued", entity_type="api_token", entity_id=row.id, actor=user)
    return token, row


def revoke_token(token: str) -> None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    if row is not None and not row.revoked:
        row.revoked = True
        record("token.revoked", entity_type="api_token", entity_id=row.id, actor=row.user)


def list_tokens(viewer: User, user_id: int | None = None) -> Select[tuple[ApiToken]]:
    """The viewer's own tokens, newest first; an admin may name another user's (``user_id``)."""
    owner = viewer.id if user_id is None else user_id
    if owner != viewer.id and viewer.role != Role.ADMIN:
        raise Forbidden("only an admin sees another user's tokens", {"user_id": "not yours"})
    return select(ApiToken).where(ApiToken.user_id == owner).order_by(ApiToken.id.desc())


def revoke_token_id(actor: User, token_id: int) -> ApiToken:
    """Revoke one token: one's own, or anyone's by an admin. Revoking twice changes nothing."""
    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and actor.role != Role.ADMIN):
        raise NotFound(f"token {token_id} does not exist")  # another's token: the same answer as none
    if not row.revoked:
        row.revoked = True
        record(
            "token.revoked",
            entity_type="api_token",
            entity_id=row.id,
            actor=actor,
            data={"user_id": row.user_id},
        )
    return row


def revoke_tokens_of(user: User, actor: User | None) -> int:
    """Revoke every live token of ``user``; how many were live. ``actor`` None: the command line (system)."""
    rows = list(
        db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
        ).scalars()
    )
    for row in rows:
        row.revoked = True
    if rows:
        record(
            "token.revoked_all",
            entity_type="user",
            entity_id=user.id,
            actor=actor,
            data={"tokens": [row.id for row in rows]},
        )
    return len(rows)


def user_from_token(token: str) -> User | None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.revoked or as_utc(row.expires_at) <= now() or not row.user.active:
        return None
    return row.user
