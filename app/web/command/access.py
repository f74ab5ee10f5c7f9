"""Who may use the command centre pages: the people who watch and command emergencies (the supervision
pages' roles: supervisors, dispatchers, the coordinators of the three-level linkage, grid leaders, admins).
Responders report in from their task inbox (/m/), not here. Everyone else gets 403; what a user sees is the
emergency API's one rule (``visible_cases`` through ``app.emergency.services``), and an emergency outside it
answers 404 like one that does not exist. Launching is the API's ``LAUNCHERS``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.emergency.services import LAUNCHERS
from app.errors import Forbidden, NotAuthenticated
from app.web.errors import wants_json
from app.web.supervisor.access import SUPERVISE_ROLES

COMMAND_ROLES = SUPERVISE_ROLES

F = TypeVar("F", bound=Callable[..., Any])


def command_user() -> User:
    """The signed-in user, if their role may use the command centre (403 otherwise)."""
    if not current_user.is_authenticated:
        raise NotAuthenticated("sign in first")
    user = cast(User, current_user._get_current_object())
    if user.role not in COMMAND_ROLES:
        raise Forbidden(
            f"a {user.role} may not use the command centre", {"role": f"needs one of {sorted(COMMAND_ROLES)}"}
        )
    return user


def may_launch(user: User) -> bool:
    return user.role in LAUNCHERS


def command_page(view: F) -> F:
    """A page: anonymous visitors go to the sign-in page and come back; roles outside the pages get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(command_user(), *args, **kwargs)

    return cast(F, wrapper)


def command_json(view: F) -> F:
    """The board's polling endpoint: an anonymous script gets 401 (a redirect would read as data); a browser
    opening the address goes to the sign-in page like any page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated and not wants_json():
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(command_user(), *args, **kwargs)

    return cast(F, wrapper)
