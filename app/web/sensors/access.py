"""Who may use the sensor pages: the devices API's roles, not a second rulebook. Readers (admins,
dispatchers, supervisors) see devices, alarms and incidents; writers (admins, dispatchers: the command
centre's operators) also register and import devices and read the dead letters. Other roles get 403; what a
reader sees is their grid scope (``app.devices.visibility``), and a device outside it answers 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.devices.api import READERS, WRITERS
from app.errors import Forbidden, NotAuthenticated
from app.web.errors import wants_json

F = TypeVar("F", bound=Callable[..., Any])


def may_write(user: User) -> bool:
    return user.role in WRITERS


def _allowed(roles: frozenset[Any]) -> User:
    user = cast(User, current_user._get_current_object())
    if user.role not in roles:
        raise Forbidden(
            f"a {user.role} may not use these sensor pages",
            {"role": f"needs one of {sorted(str(role) for role in roles)}"},
        )
    return user


def _page(roles: frozenset[Any]) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            return view(_allowed(roles), *args, **kwargs)

        return cast(F, wrapper)

    return decorate


def _json(roles: frozenset[Any]) -> Callable[[F], F]:
    """For the page scripts: an anonymous script (asking for JSON) gets 401, since a redirect would read as
    data; an anonymous browser that opened the address goes to the sign-in page like on any page."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if wants_json():
                    raise NotAuthenticated("sign in first")
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            return view(_allowed(roles), *args, **kwargs)

        return cast(F, wrapper)

    return decorate


reader_page = _page(READERS)
writer_page = _page(WRITERS)
reader_json = _json(READERS)
writer_json = _json(WRITERS)
