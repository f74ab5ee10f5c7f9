"""Who may use the admin console: admins. Anonymous visitors go to the sign-in page and come back; every
other role gets 403, on every page of it (the console as a whole is theirs alone, like the API's admin
endpoints); a user that does not exist answers 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.auth.roles import Role
from app.errors import Forbidden

ADMIN_ROLES: frozenset[str] = frozenset({Role.ADMIN})

F = TypeVar("F", bound=Callable[..., Any])


def admin_page(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        user = cast(User, current_user._get_current_object())
        if user.role not in ADMIN_ROLES:
            raise Forbidden(
                f"a {user.role} may not use the admin console",
                {"role": f"needs one of {sorted(ADMIN_ROLES)}"},
            )
        return view(user, *args, **kwargs)

    return cast(F, wrapper)
