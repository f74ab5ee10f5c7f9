"""Tokens and users."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth import accounts, resets, services
from app.auth.models import User
from app.auth.roles import ALL_ROLES, Role
from app.auth.signin import REFUSED, sign_in
from app.errors import Forbidden, NotAuthenticated
from app.extensions import db
from app.http import PageArgs, api_user, bearer_token, page_schema, paginate, require_roles
from app.inputs import BoundedInt
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


class ApiTokenSchema(Schema):
    """A token as its owner sees it later: never the token itself (only its hash is kept)."""

    id = BoundedInt()
    user_id = BoundedInt()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked = fields.Bool()


class TokenListArgs(PageArgs):
    user_id = BoundedInt(validate=validate.Range(min=1))


class PasswordChangeInput(Schema):
    current_password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    new_password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class UserSchema(Schema):
    id = fields.Int(dump_only=True)
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    display_name = fields.Str(validate=validate.Length(min=1, max=80))
    role = fields.Str(required=True, validate=validate.OneOf(sorted(ALL_ROLES)))
    unit_code = fields.Str(allow_none=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{1,39}$"))
    active = fields.Bool(dump_only=True)
    # The policy (app/auth/passwords.py) gives the reasons; the schema only bounds the size.
    password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class UserListArgs(PageArgs):
    q = fields.Str(validate=validate.Length(min=1, max=80))
    role = fields.Str(validate=validate.OneOf(sorted(ALL_ROLES)))
    active = fields.Bool()


class DeactivateInput(Schema):
    reason = fields.Str(validate=validate.Length(max=500))


class PasswordResetSchema(Schema):
    """A one-time reset code, shown once: give the user the link, or read them the code."""

    code = fields.Str()
    url = fields.Str()
    expires_at = fields.DateTime()
    user = fields.Str()


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.arguments(LoginInput)
    @blp.response(201, TokenSchema)
    @blp.doc(security=[])
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange username and password for a bearer token (shown once). Repeated wrong passwords lock the
        account for a while; sign-ins are rate limited per address (429)."""
        user = sign_in(body["username"], body["password"], channel="api", address=request.remote_addr)
        if user is None:
            db.session.commit()  # the failure count and its audit stay
            raise NotAuthenticated(REFUSED)
        token, row = services.issue_token(user)
        db.session.commit()
        return {
            "token": token,
            "token_type": "Bearer",
            "expires_at": row.expires_at,
            "user": user.username,
            "role": user.role,
        }

    @blp.arguments(TokenListArgs, location="query")
    @blp.response(200, page_schema(ApiTokenSchema, "ApiTokenPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your tokens, newest first (an admin may ask for another user's with ``user_id``)."""
        query = services.list_tokens(api_user(), args.get("user_id"))
        return paginate(query, args["page"], args["page_size"])


@blp.route("/tokens/<int:token_id>")
class TokenItem(MethodView):
    @blp.response(204)
    def delete(self, token_id: int) -> None:
        """Revoke a token: one of yours, or anyone's as an admin. It is refused (401) from now on."""
        services.revoke_token_id(api_user(), token_id)
        db.session.commit()


@blp.route("/users/me/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChangeInput)
    @blp.response(204)
    def post(self, body: dict[str, Any]) -> None:
        """Change your password (the policy applies); every token of yours is revoked, this one too."""
        user = api_user()
        if not user.check_password(body["current_password"]):
            raise Forbidden("当前密码不正确 (the current password is wrong)", {"current_password": "wrong"})
        services.change_password(user, body["new_password"])
        db.session.commit()


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
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, page_schema(UserSchema, "UserPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Admins and supervisors list users: ``q`` in the username or name, a ``role``, ``active`` or not."""
        require_roles({Role.ADMIN, Role.SUPERVISOR})
        query = accounts.find_users(args.get("q"), args.get("role"), args.get("active"))
        return paginate(query, args["page"], args["page_size"])

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


@blp.route("/users/<username>/deactivate")
class UserDeactivate(MethodView):
    @blp.arguments(DeactivateInput)
    @blp.response(200, UserSchema)
    def post(self, body: dict[str, Any], username: str) -> User:
        """Admins deactivate a user: sign-in is refused and every token of theirs is refused (401) at once.
        Their open tasks stay for reassignment. Deactivating an inactive user changes nothing."""
        admin = require_roles({Role.ADMIN})
        user = accounts.get_user(username)
        accounts.deactivate(user, admin, body.get("reason"))
        db.session.commit()
        return user


@blp.route("/users/<username>/reactivate")
class UserReactivate(MethodView):
    @blp.response(200, UserSchema)
    def post(self, username: str) -> User:
        """Admins reactivate a user: they may sign in again with their password (old tokens stay revoked)."""
        admin = require_roles({Role.ADMIN})
        user = accounts.get_user(username)
        accounts.reactivate(user, admin)
        db.session.commit()
        return user


@blp.route("/users/<username>/password-resets")
class UserPasswordReset(MethodView):
    @blp.response(201, PasswordResetSchema)
    def post(self, username: str) -> dict[str, Any]:
        """Admins issue a one-time password reset for an active user: a link (``/password-reset/?code=…``) and
        the same code to type at ``/password-reset/``, valid once for 24 hours; an earlier unused one stops
        working. Shown once."""
        admin = require_roles({Role.ADMIN})
        user = accounts.get_user(username)
        code, row = resets.issue_reset(user, admin)
        db.session.commit()
        return {
            "code": code,
            "url": url_for("password_reset.form", code=code, _external=True),
            "expires_at": row.expires_at,
            "user": user.username,
        }
