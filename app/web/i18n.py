"""Language: zh_CN by default, English by the switch (cookie ``lang``); localised dates, numbers, durations.

Templates use ``_()`` with English msgids (zh_CN catalogue in app/web/translations/), and the filters
``datetime``, ``date``, ``number`` and ``duration`` registered here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_timedelta,
    get_locale,
    refresh,
)

from app.clock import as_utc
from app.web.blueprint import bp

DEFAULT_LOCALE = "zh_CN"
# code → what the switch shows (each in its own language)
LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """Flask-Babel's locale selector: the switch's cookie, else zh_CN (never the browser's guess).

    Babel parses "zh_CN" as zh_Hans_CN, and gettext looks for a catalogue folder zh_Hans_CN, then zh: so the
    Chinese catalogues live in ``translations/zh/`` (``pybabel init -l zh``)."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


@bp.before_app_request
def _fresh_locale() -> None:
    # Flask-Babel caches the locale on ``g``, which lives as long as the app context; one app context can
    # span several requests (tests, CLI), so each request chooses again.
    refresh()


def current_language() -> str:
    """The page's language as a switch code: "zh_CN" or "en"."""
    locale = get_locale()
    if locale is None:
        return DEFAULT_LOCALE
    return DEFAULT_LOCALE if locale.language == "zh" else locale.language


def html_lang() -> str:
    """The ``lang`` attribute of <html>: BCP 47 (zh-CN), not the gettext code (zh_CN)."""
    return current_language().replace("_", "-")


def _safe_next(target: str | None) -> str:
    # Only same-site paths: no open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("web.index")


@bp.route("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    """Remembers the language in a cookie and goes back to the page (``?next=``). Only a preference: a GET
    that changes no data, so it needs no CSRF token."""
    response = redirect(_safe_next(request.args.get("next")))
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=LANG_COOKIE_MAX_AGE, samesite="Lax", httponly=True, path="/"
        )
    return response


def _aware(value: datetime) -> datetime:
    return as_utc(value)


@bp.app_template_filter("datetime")
def datetime_filter(value: datetime | None, format: str = "short") -> str:
    return "" if value is None else format_datetime(_aware(value), format)


@bp.app_template_filter("date")
def date_filter(value: datetime | None, format: str = "medium") -> str:
    return "" if value is None else format_date(_aware(value), format)


@bp.app_template_filter("number")
def number_filter(value: float | int | None, format: str | None = None) -> str:
    return "" if value is None else format_decimal(value, format)


@bp.app_template_filter("duration")
def duration_filter(value: timedelta | None, threshold: float = 0.85) -> str:
    """A localised duration (「3小时」, "3 hours"), always positive; say "overdue" in the template."""
    if value is None:
        return ""
    return format_timedelta(abs(value), granularity="minute", threshold=threshold)


@bp.app_context_processor
def _language_context() -> dict[str, Any]:
    return {"languages": LANGUAGES, "current_language": current_language(), "html_lang": html_lang()}
