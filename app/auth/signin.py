"""Signing in: the password check, the lockout after repeated failures, and the audit of both.

- The answer costs one password hash whether the username exists or not (a missing user's attempt is
  checked against a dummy hash of the configured method), so the time does not tell which usernames exist.
- ``lockout_failures`` wrong passwords for one account within ``lockout_minutes`` lock it for as long; a
  locked account refuses even the right password. The refusal reads the same as a wrong password (a
  lockout would otherwise tell that the account exists); its message says that repeated failures lock.
- Every sign-in, failure and lockout is an audit event (``auth.signed_in``, ``auth.sign_in_failed``,
  ``auth.locked``) with the channel (page or API) and the client's address.

The caller commits whatever the outcome (the failure count and the audit must stay), then refuses.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app import runtime
from app.audit.services import record
from app.auth.models import User
from app.clock import as_utc, now
from app.extensions import db

REFUSED = (
    "用户名或密码错误；连续输错多次后账户将暂时锁定 "
    "(wrong username or password; repeated failures lock the account for a while)"
)
ANONYMOUS = "anonymous"


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-password-of-anyone", method=method)


def sign_in(username: str, password: str, *, channel: str, address: str | None) -> User | None:
    """The user when ``password`` is theirs and they may sign in now; None otherwise (see module doc)."""
    where = {"channel": channel, "address": address}
    user = db.session.execute(
        select(User).where(User.username == username).with_for_update()
    ).scalar_one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(runtime.settings().password_hash_method), password)
        record(
            "auth.sign_in_failed",
            entity_type="user",
            entity_id=username[:64],
            actor_label=ANONYMOUS,
            data={**where, "reason": "unknown_user"},
        )
        return None
    correct = user.check_password(password)
    at = now()
    if user.locked_until is not None and as_utc(user.locked_until) > at:
        _failed(user, "locked", where)
        return None
    if not user.active:
        _failed(user, "inactive", where)
        return None
    if not correct:
        _count_failure(user, where)
        return None
    user.failed_sign_ins, user.failed_since, user.locked_until = 0, None, None
    record("auth.signed_in", entity_type="user", entity_id=user.id, actor=user, data=where)
    return user


def _failed(user: User, reason: str, where: dict[str, str | None]) -> None:
    record(
        "auth.sign_in_failed",
        entity_type="user",
        entity_id=user.id,
        actor_label=ANONYMOUS,
        data={**where, "reason": reason},
    )


def _count_failure(user: User, where: dict[str, str | None]) -> None:
    security = runtime.settings().security
    window = timedelta(minutes=security.lockout_minutes)
    at = now()
    if user.failed_since is None or as_utc(user.failed_since) <= at - window:
        user.failed_since, user.failed_sign_ins = at, 1
    else:
        user.failed_sign_ins += 1
    record(
        "auth.sign_in_failed",
        entity_type="user",
        entity_id=user.id,
        actor_label=ANONYMOUS,
        data={**where, "reason": "wrong_password", "failures": user.failed_sign_ins},
    )
    if user.failed_sign_ins >= security.lockout_failures:
        user.locked_until = at + window
        record(
            "auth.locked",
            entity_type="user",
            entity_id=user.id,
            actor_label=ANONYMOUS,
            data={**where, "failures": user.failed_sign_ins, "until": user.locked_until.isoformat()},
        )
        user.failed_sign_ins, user.failed_since = 0, None
