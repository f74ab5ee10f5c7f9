"""Rate limits (Flask-Limiter) on the endpoints worth abusing: sign-in, reporting and registration.

One limiter per app (its storage is per app: Redis in stack mode, so every web worker counts together;
memory in embedded mode, one process). The limits are settings, read at each request. Sign-in counts per
client address across the page (/login) and the API (POST /api/v1/tokens); reporting counts per user;
registration (creating users) per address. A refused request gets 429 with ``Retry-After``: the API's
error body, or a page on the web (the page blueprints' error handlers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app import runtime
from app.errors import NotAuthenticated
from app.http import api_user

RETRY_AFTER = "gridcase.retry_after"
LIMITER = "gridcase.limiter"


def _by_address() -> str:
    return get_remote_address() or "unknown"


def _by_user() -> str:
    """The signed-in user (bearer token or page session); their address when nobody is signed in."""
    if request.headers.get("Authorization"):
        try:
            return f"user:{api_user().id}"
        except NotAuthenticated:  # an invalid token: the endpoint refuses it with 401 itself
            return f"address:{_by_address()}"
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"address:{_by_address()}"


def _on_breach(limit: RequestLimit) -> None:
    # Read before the exception is built: its message and the Retry-After header both say it.
    setattr(g, RETRY_AFTER, max(1, int(limit.reset_at - time.time())))


def _message() -> str:
    seconds = g.get(RETRY_AFTER, 60)
    return f"请求过于频繁，请 {seconds} 秒后再试 (too many requests: try again in {seconds} s)"


def _add_retry_after(response: Response) -> Response:
    if response.status_code == 429 and RETRY_AFTER in g:
        response.headers["Retry-After"] = str(g.get(RETRY_AFTER))
    return response


# endpoint → (which setting, methods, whose count, shared scope)
LIMITED: dict[str, tuple[str, tuple[str, ...], Callable[[], str], str]] = {
    "web.login": ("rate_limit_sign_in", ("POST",), _by_address, "sign-in"),
    "auth.Tokens": ("rate_limit_sign_in", ("POST",), _by_address, "sign-in"),
    "cases.Cases": ("rate_limit_report", ("POST",), _by_user, "report"),
    "web.resident_report": ("rate_limit_report", ("POST",), _by_user, "report"),
    "auth.Users": ("rate_limit_registration", ("POST",), _by_address, "registration"),
    "password_reset.form": ("rate_limit_sign_in", ("POST",), _by_address, "sign-in"),
}


def init_rate_limits(app: Flask) -> Limiter:
    """Call after every blueprint is registered: the limits wrap the registered view functions."""
    settings = runtime.settings(app)
    security = settings.security
    limiter = Limiter(
        _by_address,
        storage_uri=settings.redis_url or "memory://",
        key_prefix="gridcase-limits",
        strategy="fixed-window",
        enabled=security.rate_limits_enabled,
        # Redis down: count in memory for the moment rather than refuse every sign-in.
        in_memory_fallback_enabled=True,
        on_breach=_on_breach,
    )
    limiter.init_app(app)
    app.extensions[LIMITER] = limiter  # the decorated views hold it weakly: the app keeps it alive
    app.after_request(_add_retry_after)
    for endpoint, (setting, methods, key_func, scope) in LIMITED.items():

        def value(setting: str = setting) -> str:
            limit: str = getattr(runtime.settings().security, setting)
            return limit

        view: Any = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.shared_limit(
            value, scope=scope, key_func=key_func, methods=list(methods), error_message=_message
        )(view)
    return limiter
