"""Every request: an id (the caller's ``X-Request-ID`` or a new one) bound to its log lines and returned in
the response, a count and a latency per endpoint and status, and one access line in the log."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, request

from app import logs, metrics

access_log = logging.getLogger("gridcase.access")

REQUEST_ID_HEADER = "X-Request-ID"


def _endpoint() -> str:
    """The route's rule (``/api/v1/cases/<key>``), never the raw path: one series per route, not per id."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def _username() -> str | None:
    user = request.environ.get("gridcase.user")  # the API's user (app.http.api_user)
    if user is None:
        user = g.get("_login_user")  # a page session's user, if Flask-Login loaded it for this request
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "username", None)


def _begin() -> None:
    request_id = logs.request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request.environ["gridcase.request_id"] = request_id
    request.environ["gridcase.log_tokens"] = logs.begin(request_id)
    request.environ["gridcase.started"] = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = request.environ.get("gridcase.request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = request.environ.get("gridcase.started")
    if started is None:
        return response
    elapsed = time.perf_counter() - started
    endpoint = _endpoint()
    metrics.HTTP_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    metrics.HTTP_LATENCY.labels(request.method, endpoint).observe(elapsed)
    logs.set_user(_username())
    access_log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 1),
        },
    )
    return response


def _end(_: Any) -> None:
    tokens = request.environ.pop("gridcase.log_tokens", None)
    if tokens is not None:
        logs.end(tokens)


def instrument_requests(app: Flask) -> None:
    # First before_request of the app, so the id is bound before anything else logs.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    app.teardown_request(_end)
