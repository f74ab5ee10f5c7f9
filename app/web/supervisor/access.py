"""Who may use the supervisor pages, and the signed-in user of a page request.

The pages are for the people who watch cases rather than work them: supervisors, dispatchers (the command
centre), the coordinators of the three-level linkage (community staff, street and district coordinators),
grid leaders (for their grids) and admins. What each of them sees is ``visible_cases`` (their grid scope);
everyone else gets 403. KPIs follow ``app.kpi.services.KPI_READERS``, which leaves grid leaders out: their
dashboard has no KPI or trend panel.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.auth.roles import Role
from app.errors import Forbidden, NotAuthenticated
from app.kpi.services import KPI_READERS

SUPERVISE_ROLES: frozenset[str] = frozenset(
    {
        Role.SUPERVISOR,
        Role.DISPATCHER,
        Role.COMMUNITY_STAFF,
        Role.STREET_COORDINATOR,
        Role.DISTRICT_COORDINATOR,
        Role.GRID_LEADER,
        Role.ADMIN,
    }
)

F = TypeVar("F", bound=Callable[..., Any])


def signed_in_supervisor() -> User:
    """The signed-in user, if their role may use these pages (403 otherwise)."""
    if not current_user.is_authenticated:
        raise NotAuthenticated("sign in first")
    user = cast(User, current_user._get_current_object())
    if user.role not in SUPERVISE_ROLES:
        raise Forbidden(
            f"a {user.role} may not use the supervisor pages",
            {"role": f"needs one of {sorted(SUPERVISE_ROLES)}"},
        )
    return user


def reads_kpis(user: User) -> bool:
    return user.role in KPI_READERS


def supervisor_page(view: F) -> F:
    """A page: anonymous visitors go to the sign-in page and come back; other roles get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(signed_in_supervisor(), *args, **kwargs)

    return cast(F, wrapper)


def supervisor_json(view: F) -> F:
    """A JSON endpoint for the page scripts: anonymous callers get 401 (a redirect would read as data)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(signed_in_supervisor(), *args, **kwargs)

    return cast(F, wrapper)
