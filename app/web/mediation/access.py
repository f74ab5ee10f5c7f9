"""Who may use the mediation pages: the API's own rules (``app.mediation.services``), not a second rulebook.

- the pages: ``DISPUTE_LISTERS`` (who may list disputes); everyone else gets 403;
- filing on someone's behalf: ``FILERS``;
- which disputes, and how masked: ``get_dispute`` / ``list_disputes`` / ``dispute_view`` (a dispute the
  user may not see answers 404, like a missing one).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth.models import User
from app.errors import Forbidden
from app.mediation.services import DISPUTE_LISTERS, FILERS

F = TypeVar("F", bound=Callable[..., Any])


def may_file(user: User) -> bool:
    return user.role in FILERS


def _page(roles: frozenset[str], what: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            user = cast(User, current_user._get_current_object())
            if user.role not in roles:
                raise Forbidden(f"a {user.role} may not {what}", {"role": f"needs one of {sorted(roles)}"})
            return view(user, *args, **kwargs)

        return cast(F, wrapper)

    return decorate


# Anonymous visitors go to the sign-in page and come back; other roles get 403.
mediation_page = _page(DISPUTE_LISTERS, "use the mediation pages")
filing_page = _page(FILERS, "file disputes")
