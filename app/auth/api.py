"""Tokens and users."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.auth import services
from app.auth.models import User
from app.auth.roles import ALL_ROLES, Role
from app.extensions import db
from app.http import PageArgs, api_user, bearer_token, page_schema, paginate, require_roles
from app.units.services import require_unit

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="认证 Authentication and users")


class LoginInput(Schema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    password = fields.Str(required=True, validate=validate.Length(min=1, max=200), load_only=True)


class TokenSchema(Schema):
    token = fields.Str()
    token_type = fields.Str()
    expires_at = fields.DateTime()
    user = fields.Str()
    role = fields.Str()


class UserSchema(Schema):
    id = fields.Int(dump_only=True)
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    display_name = fields.Str(validate=validate.Length(min=1, max=80))
    role = fields.Str(required=True, validate=validate.OneOf(sorted(ALL_ROLES)))
    unit_code = fields.Str(allow_none=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{1,39}$"))
    active = fields.Bool(dump_only=True)
    password = fields.Str(required=True, load_only=True, validate=validate.Length(min=8, max=200))


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.arguments(LoginInput)
    @blp.response(201, TokenSchema)
    @blp.doc(security=[])
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange username and password for a bearer token (shown once)."""
        user = services.authenticate(body["username"], body["password"])
        token, row = services.issue_token(user)
        db.session.commit()
        return {
            "token": token,
            "token_type": "Bearer",
            "expires_at": row.expires_at,
            "user": user.username,
            "role": user.role,
        }


@blp.route("/tokens/current")
class CurrentToken(MethodView):
    @blp.response(204)
    def delete(self) -> None:
        """Sign out: revoke the token this request carries."""
        api_user()
        token = bearer_token()
        if token:
            services.revoke_token(token)
            db.session.commit()


@blp.route("/users/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self) -> User:
        return api_user()


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(PageArgs(), location="query")
    @blp.response(200, page_schema(UserSchema, "UserPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Admins and supervisors list users."""
        require_roles({Role.ADMIN, Role.SUPERVISOR})
        return paginate(select(User).order_by(User.id), args["page"], args["page_size"])

    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> User:
        """Admins create users."""
        admin = require_roles({Role.ADMIN})
        require_unit(body.get("unit_code"))
        user = services.create_user(
            body["username"],
            body["password"],
            body["role"],
            body.get("display_name"),
            body.get("unit_code"),
            actor=admin,
        )
        db.session.commit()
        return user
