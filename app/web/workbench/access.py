"""Who may use the workbench: the roles the triage and dispatch tasks are offered to (``candidateRoles`` of
``bpmn/case_handling.bpmn``: the command centre's dispatchers). Everyone else gets 403; what a dispatcher
sees is their grid scope (the task inbox's rule), and a task outside it answers 404 like a missing one."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.auth.roles import Role
from app.errors import Forbidden

WORKBENCH_ROLES: frozenset[str] = frozenset({Role.DISPATCHER})

F = TypeVar("F", bound=Callable[..., Any])


def workbench_page(view: F) -> F:
    """Anonymous visitors go to the sign-in page and come back; other roles get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        user = cast(User, current_user._get_current_object())
        if user.role not in WORKBENCH_ROLES:
            raise Forbidden(
                f"a {user.role} may not use the dispatcher workbench",
                {"role": f"needs one of {sorted(WORKBENCH_ROLES)}"},
            )
        return view(user, *args, **kwargs)

    return cast(F, wrapper)
