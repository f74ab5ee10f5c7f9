"""Idempotency keys: a client retrying a request (after a dropped connection) gets the first answer again
instead of a second case, completion or photo.

A request that changes something may carry ``Idempotency-Key: <1-255 printable ASCII characters>`` (the
resident's report page carries it as a hidden form field, made when the form is shown). Keys belong to the
user who sent them and are kept for ``IDEMPOTENCY_HOURS``:

- first use: the key is claimed in the request's own transaction, so it is committed together with what
  the request creates (or not at all); the successful answer (status, body, Location) is then stored on it;
- same key, same request (method, path, query and body; a multipart body by its fields and the files'
  contents, not by its random boundary): the stored answer, unchanged, with ``Idempotent-Replayed: true``;
- same key, another request: 422 naming the header; same key while the first is still running (or ended
  without a stored answer): 409, and nothing is done twice;
- an answer that is not a success (a refused input) is not kept: the key stays free for the corrected retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, make_response, request
from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app import runtime
from app.auth.models import User
from app.clock import now
from app.errors import Conflict, InvalidInput
from app.extensions import db

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"[!-~]{1,255}")  # printable ASCII, no spaces
_NOT_FINGERPRINTED = frozenset({"csrf_token", FORM_FIELD})

# The header as the OpenAPI document describes it (``@blp.doc(parameters=[HEADER_PARAMETER])``).
HEADER_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": (
        "重试时带上同一个键，返回第一次的结果而不重复执行 "
        "(a retry with the same key gets the first answer; the request is not done twice). "
        "Kept per user for IDEMPOTENCY_HOURS."
    ),
}

View = TypeVar("View", bound=Callable[..., Any])


class IdempotencyKey(db.Model):  # type: ignore[name-defined]
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: claimed, no answer stored (yet)
    content_type: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def header_key() -> str | None:
    return request.headers.get(HEADER)


def form_key() -> str | None:
    return request.form.get(FORM_FIELD) or request.headers.get(HEADER)


def fingerprint() -> str:
    """What makes two requests "the same request" (see the module doc)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(json.dumps(sorted(request.args.items(multi=True))).encode())
    if request.is_json:
        body = request.get_json(silent=True)
        digest.update(json.dumps(body, sort_keys=True).encode() if body is not None else request.get_data())
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = sorted((k, v) for k, v in request.form.items(multi=True) if k not in _NOT_FINGERPRINTED)
        digest.update(json.dumps(fields).encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            content = upload.stream.read()
            upload.stream.seek(0)
            digest.update(f"{name}:{upload.filename}:{hashlib.sha256(content).hexdigest()}".encode())
    else:
        digest.update(request.get_data())
    return digest.hexdigest()


def idempotent(
    user_of: Callable[[], User], key_of: Callable[[], str | None] = header_key
) -> Callable[[View], View]:
    """Make a view idempotent per (user, key); see the module doc. Put it outermost, above the input
    parsing, so a refused input leaves the key free."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = key_of()
            if key is None:
                return view(*args, **kwargs)
            if not _KEY.fullmatch(key):
                raise InvalidInput(
                    f"{HEADER} 须为 1-255 个可打印 ASCII 字符 (1-255 printable ASCII characters, no spaces)",
                    {HEADER: "1-255 printable ASCII characters"},
                )
            user = user_of()
            claim = _claim(user.id, key, fingerprint())
            if isinstance(claim, Response):
                return claim
            response = make_response(view(*args, **kwargs))
            _settle(claim, response)
            return response

        return cast(View, wrapper)

    return decorate


def _claim(user_id: int, key: str, print_: str) -> int | Response:
    """Claim the key in the request's transaction (its id), or the answer for a key already used."""
    at = now()
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.expires_at <= at
        )
    )
    existing = _find(user_id, key)
    if existing is not None:
        return _replay(existing, print_)
    hours = runtime.settings().security.idempotency_hours
    row = IdempotencyKey(
        user_id=user_id, key=key, fingerprint=print_, created_at=at, expires_at=at + timedelta(hours=hours)
    )
    db.session.add(row)
    try:
        db.session.flush()  # PostgreSQL: a concurrent claim of the same key waits here for the first one
    except IntegrityError:
        db.session.rollback()
        existing = _find(user_id, key)
        if existing is None:
            raise Conflict(f"{HEADER} 正在使用中，请重试 (in use by a concurrent request: retry)") from None
        return _replay(existing, print_)
    return row.id


def _settle(claim_id: int, response: Response) -> None:
    """Store a successful answer on the claimed key; free the key of an answer that is not one."""
    if 200 <= response.status_code < 400:
        row = db.session.get(IdempotencyKey, claim_id)
        if row is not None:  # the view committed the claim with its work
            row.status_code = response.status_code
            row.content_type = response.content_type
            row.location = response.headers.get("Location")
            row.body = response.get_data()
    else:
        db.session.rollback()  # the claim, if the view did not commit it
        db.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id == claim_id, IdempotencyKey.status_code.is_(None))
        )
    db.session.commit()


def _find(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).scalar_one_or_none()


def _replay(row: IdempotencyKey, print_: str) -> Response:
    if row.fingerprint != print_:
        raise InvalidInput(
            f"{HEADER} 已用于另一个请求：新的请求请换一个键 (this key was used for a different request; "
            "use a new key for a new request)",
            {HEADER: "used for a different request"},
        )
    if row.status_code is None:
        raise Conflict(
            f"带此 {HEADER} 的请求仍在处理或结果未知，请稍后查询 (the request with this key is still being "
            "processed or its answer was not kept: check before retrying with a new key)",
            {HEADER: "in progress"},
        )
    response = Response(row.body or b"", status=row.status_code, content_type=row.content_type)
    if row.location:
        response.headers["Location"] = row.location
    response.headers[REPLAYED] = "true"
    return response
