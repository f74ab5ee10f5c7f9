"""Errors on pages are pages: a page blueprint answers DomainErrors and HTTP errors with HTML, not JSON.

``register_page_errors(bp)`` is for every page blueprint (web, supervisor, designer); the REST API keeps
the JSON errors of app/errors.py. A refused request changes nothing: the session is rolled back first."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError, InvalidInput, error_body
from app.extensions import db
from app.web.refusals import field_errors


def wants_json() -> bool:
    """A page's script asked (fetch with JSON or ``Accept: application/json``): answer like the API."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _page(status: int, title: str, message: str) -> ResponseReturnValue:
    db.session.rollback()
    return render_template("error.html", status=status, title=title, message=message), status


def page_error_title(status: int) -> str:
    return {
        400: _("Bad request"),
        401: _("Please sign in"),
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Conflict"),
        413: _("File too large"),
        415: _("Unsupported file"),
        422: _("Please check your input"),
        429: _("Too many requests"),
    }.get(status, _("Something went wrong"))


def register_page_errors(bp: Blueprint) -> None:
    @bp.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> ResponseReturnValue:
        # Reload the page to get a fresh form; nothing was changed.
        if wants_json():
            db.session.rollback()
            return error_body("csrf", exc.description or "CSRF token missing or invalid", {}), 400
        return _page(
            400, _("The form has expired"), _("Reload the page and send it again.") + f" ({exc.description})"
        )

    @bp.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        if wants_json():
            db.session.rollback()
            body = error_body(exc.error, exc.message, exc.details)
            if isinstance(exc, InvalidInput) and isinstance(exc.details, dict) and exc.details:
                body["errors"] = field_errors(exc)  # the page marks each field in the page language
            return body, exc.status
        return _page(exc.status, page_error_title(exc.status), exc.message)

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if wants_json():
            db.session.rollback()
            return error_body(
                (exc.name or "error").lower().replace(" ", "_"), exc.description or "", {}
            ), status
        return _page(status, page_error_title(status), exc.description or "")
