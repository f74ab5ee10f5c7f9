"""One-time password resets: an admin issues a code for a user, who sets a new password with it.

- The code is shown once (as a link, or read out and typed); only its SHA-256 is kept. 20 characters of a
  32-letter alphabet (100 bits), so guessing one is hopeless and a fast hash is enough.
- It works once, until ``RESET_TTL`` has passed, and only the newest one of a user: issuing another voids
  the earlier ones. A deactivated user's code does not work (reactivate first).
- Using it sets the new password under the policy (``check_new_password``), clears a lockout and revokes
  the user's tokens (``change_password``). A refused password leaves the code usable.
Each step is audited (``user.password_reset_issued``, ``user.password_reset_used``); the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from app.audit.services import record
from app.auth.models import PasswordReset, User
from app.auth.services import change_password, check_new_password
from app.clock import as_utc, now
from app.errors import InvalidInput
from app.extensions import db

RESET_TTL = timedelta(hours=24)
# Crockford's base32: no I, L, O or U, so a code read out over the phone is typed right.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 20
GROUP = 5
INVALID_CODE = "重置码无效、已使用或已过期 (the reset code is invalid, used or expired)"


def _hash(code: str) -> str:
    return hashlib.sha256(normalized(code).encode("ascii", "ignore")).hexdigest()


def normalized(code: str) -> str:
    """A code as typed: any case, with or without the dashes and spaces between its groups."""
    return "".join(ch for ch in code.upper() if ch.isalnum())[: CODE_LENGTH * 2]


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def issue_reset(user: User, actor: User | None) -> tuple[str, PasswordReset]:
    """A new reset code for ``user`` (shown once by the caller); earlier unused codes stop working.
    ``actor`` None: the command line."""
    if not user.active:
        raise InvalidInput(
            "账户已停用，请先启用 (the account is deactivated: reactivate it first)",
            {"username": "账户已停用，请先启用 (the account is deactivated: reactivate it first)"},
        )
    earlier = list(
        db.session.execute(
            select(PasswordReset).where(
                PasswordReset.user_id == user.id,
                PasswordReset.used_at.is_(None),
                PasswordReset.voided.is_(False),
            )
        ).scalars()
    )
    for old in earlier:
        old.voided = True
    code = _new_code()
    at = now()
    row = PasswordReset(
        user_id=user.id,
        code_hash=_hash(code),
        created_at=at,
        created_by_id=actor.id if actor is not None else None,
        expires_at=at + RESET_TTL,
        voided=False,
    )
    db.session.add(row)
    db.session.flush()
    record(
        "user.password_reset_issued",
        entity_type="user",
        entity_id=user.id,
        actor=actor,
        data={"reset_id": row.id, "expires_at": row.expires_at.isoformat(), "earlier_voided": len(earlier)},
    )
    return code, row


def valid_reset(code: str) -> PasswordReset | None:
    """The reset ``code`` names if it may still be used; None otherwise (unknown, used, voided, expired,
    or its user deactivated): the same answer for each, so the page tells nothing about codes."""
    if not normalized(code):
        return None
    row = db.session.execute(
        select(PasswordReset).where(PasswordReset.code_hash == _hash(code))
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.voided or as_utc(row.expires_at) <= now():
        return None
    return row if row.user.active else None


def use_reset(code: str, new_password: str) -> User:
    """Set the user's new password with ``code``; the code is used up. 422 naming ``code`` or ``password``."""
    row = db.session.execute(
        select(PasswordReset).where(PasswordReset.code_hash == _hash(code)).with_for_update()
    ).scalar_one_or_none()
    if row is None or valid_reset(code) is None:
        raise InvalidInput(INVALID_CODE, {"code": INVALID_CODE})
    user = row.user
    check_new_password(new_password, user.username)
    row.used_at = now()
    change_password(user, new_password, actor=user)
    record(
        "user.password_reset_used",
        entity_type="user",
        entity_id=user.id,
        actor=user,
        data={"reset_id": row.id},
    )
    return user
