"""Reading a list page's filters from the query string: empty values (an untouched field) mean no filter;
a malformed one is refused naming its field, and the page shows the reason beside it."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from app.errors import InvalidInput


def parse_filters(schema: Schema, raw: dict[str, str]) -> dict[str, Any]:
    given = {name: value.strip() for name, value in raw.items() if value and value.strip()}
    try:
        loaded: dict[str, Any] = schema.load(given, unknown="exclude")
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        details = {
            str(name): " ".join(map(str, value if isinstance(value, list) else [value]))
            for name, value in messages.items()
        }
        raise InvalidInput(f"invalid filter: {', '.join(sorted(details))}", details) from exc
    return loaded


def as_args(values: dict[str, Any], defaults: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Query-string arguments of a filter (defaults and empty values left out), with ``changes``."""
    merged = {**values, **changes}
    return {
        name: value
        for name, value in merged.items()
        if value is not None and value != "" and defaults.get(name) != value
    }
