"""Who may use the data pages: admins (the API's rule for every change they make: ``require_roles({ADMIN})``
on grids, units, categories and plans). Anonymous visitors go to the sign-in page and come back; every other
role gets 403. An admin sees the whole territory, so nothing here is narrowed by grid."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.auth.roles import Role
from app.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])


def admin_page(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        user = cast(User, current_user._get_current_object())
        if user.role != Role.ADMIN:
            raise Forbidden(f"a {user.role} may not use the admin console", {"role": "needs admin"})
        return view(user, *args, **kwargs)

    return cast(F, wrapper)
