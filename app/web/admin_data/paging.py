"""The ``page`` of a list's query string: a malformed or absurd one is the first page."""

from __future__ import annotations

from flask import request

MAX_PAGE = 100_000


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1
