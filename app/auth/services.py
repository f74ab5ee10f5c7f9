"""Users, passwords and bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from app import runtime
from app.audit.services import record
from app.auth.models import ApiToken, User
from app.auth.roles import ALL_ROLES
from app.clock import as_utc, now
from app.errors import Conflict, InvalidInput, NotAuthenticated
from app.extensions import db

MIN_PASSWORD_LENGTH = 8


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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password too short", {"password": f"at least {MIN_PASSWORD_LENGTH} characters"})
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("bad username", {"username": "1-64 letters, digits, '_' or '-'"})
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


def authenticate(username: str, password: str) -> User:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active or not user.check_password(password):
        raise NotAuthenticated("wrong username or password")
    return user


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


def user_from_token(token: str) -> User | None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.revoked or as_utc(row.expires_at) <= now() or not row.user.active:
        return None
    return row.user
