"""Domain errors, and how they become JSON responses: ``{error, message, details}``, in one place.

Services raise these (never HTTP exceptions); the HTTP edge maps them to status codes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    status = 400
    error = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    status = 422
    error = "invalid_input"


class NotAuthenticated(DomainError):
    status = 401
    error = "not_authenticated"


class Forbidden(DomainError):
    status = 403
    error = "forbidden"


class NotFound(DomainError):
    status = 404
    error = "not_found"


class Conflict(DomainError):
    status = 409
    error = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    error = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    error = "unsupported_media_type"


def error_body(error: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": error, "message": message, "details": details if details is not None else {}}


def register_error_handlers(app: Flask) -> None:
    from app.extensions import db

    # A refused request changes nothing: drop whatever the failed operation had flushed or queued.
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        db.session.rollback()
        return jsonify(error_body(exc.error, exc.message, exc.details)), exc.status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        db.session.rollback()
        # flask-smorest/webargs put field messages in exc.data["messages"]
        details: Any = {}
        data = getattr(exc, "data", None)
        if isinstance(data, dict) and "messages" in data:
            details = _flatten_webargs(data["messages"])
        name = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if details:
            fields = ", ".join(sorted(details))
            message = f"invalid input in: {fields}"
        return jsonify(error_body(name, message, details)), exc.code or 500


def _flatten_webargs(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests messages by location (json/query/form/files); callers care about the fields."""
    flat: dict[str, Any] = {}
    for location, location_messages in messages.items():
        if isinstance(location_messages, dict):
            flat.update(location_messages)
        else:
            # A problem with the location as a whole, e.g. {"json": ["Invalid JSON body."]}.
            flat[location] = location_messages
    return flat
