"""gridcase's WSGI app with one slow path, to hold a request in flight while the server is told to stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from wsgi import app as gridcase

SLOW_SECONDS = 3.0


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/test-slow":
        time.sleep(SLOW_SECONDS)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"finished"]
    return gridcase(environ, start_response)  # type: ignore[no-any-return]
