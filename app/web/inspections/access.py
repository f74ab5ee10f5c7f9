"""Who may use the inspection pages: the readers of the place registry (``app.inspections.places``), the
same roles the API lets read places and campaigns; everyone else gets 403. What each of them sees is the
services' rule (their territory, their unit's campaigns): a campaign or place outside it answers 404, like
one that does not exist. Launching follows ``campaigns.LAUNCHERS``, unblacklisting ``places.PLACE_EDITORS``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.errors import Forbidden
from app.inspections.campaigns import LAUNCHERS
from app.inspections.places import PLACE_EDITORS, PLACE_READERS

INSPECTION_PAGE_ROLES: frozenset[str] = frozenset(PLACE_READERS)

F = TypeVar("F", bound=Callable[..., Any])


def _signed_in() -> User:
    user = cast(User, current_user._get_current_object())
    if user.role not in INSPECTION_PAGE_ROLES:
        raise Forbidden(
            f"a {user.role} may not use the inspection pages",
            {"role": f"needs one of {sorted(INSPECTION_PAGE_ROLES)}"},
        )
    return user


def inspection_page(view: F) -> F:
    """A page, or the JSON a page's script reads (like ``/geo/...``): anonymous visitors go to the sign-in
    page and come back; other roles get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(_signed_in(), *args, **kwargs)

    return cast(F, wrapper)


def may_launch(user: User) -> bool:
    return user.role in LAUNCHERS


def require_launcher(user: User) -> None:
    """403 for a role ``campaigns.launch`` refuses, before the form is even shown."""
    if not may_launch(user):
        raise Forbidden(f"a {user.role} may not launch inspection campaigns", {"role": user.role})


def may_unblacklist(user: User) -> bool:
    return user.role in PLACE_EDITORS
