"""Shared pieces of the HTTP edge: the requesting user, pagination and role checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import request
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select

from app.auth.models import User
from app.auth.services import user_from_token
from app.errors import Forbidden, NotAuthenticated
from app.extensions import db
from app.inputs import BoundedInt

MAX_PAGE_SIZE = 100
# API endpoints anyone may call: signing in. Every other endpoint of the API blueprints needs a user.
PUBLIC_API_ENDPOINTS = frozenset({("auth.Tokens", "POST")})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_user() -> User:
    """The user of this API request: bearer token first, else the signed-in page session."""
    # Cached on the request (not on g: g lives as long as the app context, which may span requests).
    cached = request.environ.get("gridcase.user")
    if cached is not None:
        return cached
    token = bearer_token()
    user: User | None = None
    if token is not None:
        user = user_from_token(token)
        if user is None:
            raise NotAuthenticated("invalid or expired token")
    elif current_user.is_authenticated and request.method in ("GET", "HEAD"):
        # Page sessions may read the API; changes need a bearer token (no cookie-driven CSRF).
        user = current_user._get_current_object()
    if user is None:
        raise NotAuthenticated("sign in: send 'Authorization: Bearer <token>' (POST /api/v1/tokens)")
    request.environ["gridcase.user"] = user
    return user


def authenticate_api_request() -> None:
    """``before_request`` of the API blueprints: who is asking is settled before any input is parsed, so an
    anonymous caller gets 401, not a validation error describing the endpoint's input."""
    if request.method == "OPTIONS" or (request.endpoint, request.method) in PUBLIC_API_ENDPOINTS:
        return
    api_user()


class PageArgs(Schema):
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A response envelope ``{items, page, page_size, total, pages}`` around ``item_schema``."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "page": BoundedInt(),
            "page_size": BoundedInt(),
            "total": BoundedInt(),
            "pages": BoundedInt(),
        },
        name=name,
    )


def paginate(query: Select[Any], page: int, page_size: int) -> dict[str, Any]:
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    items = list(db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).scalars())
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": (total + page_size - 1) // page_size,
    }


def require_roles(roles: Iterable[str]) -> User:
    user = api_user()
    allowed = set(roles)
    if user.role not in allowed:
        # Roles by their value ("admin"), not their repr ("<Role.ADMIN: 'admin'>").
        needed = ", ".join(sorted(str(role) for role in allowed))
        raise Forbidden(f"a {user.role} may not do this", {"role": f"needs one of {needed}"})
    return user


class RowRejectionSchema(Schema):
    row = BoundedInt()
    code = fields.Str(allow_none=True)
    field = fields.Str()
    reason = fields.Str()


class RowImportReportSchema(Schema):
    """``app.imports.ImportReport`` of an all-or-nothing import."""

    rows = BoundedInt()
    created = BoundedInt()
    updated = BoundedInt()
    unchanged = BoundedInt()
    rejected_rows = BoundedInt()
    rejected = fields.List(fields.Nested(RowRejectionSchema))
