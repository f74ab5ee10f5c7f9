"""Logs as JSON, one object per line, each carrying the request id and the user it was written for.

The request id comes from an incoming ``X-Request-ID`` (or is made here), is returned in the response, and
travels with the jobs a request queues (RQ job meta; ``app.jobs``), so one id finds the web line and the
worker line of the same action. ``LOG_FORMAT=text`` keeps the plain format for a developer's terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("gridcase_request_id", default=None)
_user: ContextVar[str | None] = ContextVar("gridcase_log_user", default=None)

# An incoming id is kept when it is short and plain (it ends up in logs and headers); otherwise a new one.
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_HANDLER_NAME = "gridcase"
# LogRecord's own attributes: anything else on a record came as ``extra=`` and is written as a field.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def request_id_from(incoming: str | None) -> str:
    """The id of a request: the caller's ``X-Request-ID`` when it is acceptable, else a fresh one."""
    if incoming and _ACCEPTED_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def set_user(username: str | None) -> None:
    """Name the user of the current request once it is known (after authentication)."""
    _user.set(username)


def job_context() -> dict[str, str]:
    """What a queued job carries from the code that queued it (RQ job meta)."""
    request_id = _request_id.get()
    return {"request_id": request_id} if request_id else {}


@contextmanager
def bound(request_id: str | None, user: str | None = None) -> Iterator[None]:
    """Log lines written inside carry ``request_id`` and ``user`` (a request, a job)."""
    id_token = _request_id.set(request_id)
    user_token = _user.set(user)
    try:
        yield
    finally:
        _request_id.reset(id_token)
        _user.reset(user_token)


def begin(request_id: str) -> tuple[Any, Any]:
    """``bound`` for a request, whose start and end are two hooks; returns what ``end`` needs."""
    return _request_id.set(request_id), _user.set(None)


def end(tokens: tuple[Any, Any]) -> None:
    _request_id.reset(tokens[0])
    _user.reset(tokens[1])


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger, message, request_id, user, then any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id.get(),
            "user": _user.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = _request_id.get() or "-"
        return super().format(record)


LOG_FORMATS = ("json", "text")
QUIET_LOGGERS = ("spiff", "alembic.runtime.plugins")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written (as logging's last resort does), not the
    stream of the moment it was made: a test runner swaps stderr, a server may redirect it."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """One handler on the root logger writing to stderr (replaced, not added, when called again)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that say at INFO what only their own debugging needs: SpiffWorkflow logs every task state
    # change (thousands of lines per case, and the cost of writing them), alembic a line per plugin.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
