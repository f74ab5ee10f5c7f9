"""``/admin/categories``: the catalogue (paged, by text, with the deactivated ones on request), a category's
form, a new one, and deactivation, through ``app.categories.services`` (the API's rules: a refused field is
marked with the reason and nothing is written)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import pgettext
from werkzeug.datastructures import MultiDict

from app.auth.models import User
from app.categories import services
from app.categories.models import RESPONSIBLE_LEVELS, Category
from app.errors import InvalidInput
from app.extensions import db
from app.http import paginate
from app.timelimits.calendar import SEVERITIES
from app.units.models import UNIT_KINDS
from app.web.admin_data import bp, words
from app.web.admin_data.access import admin_page
from app.web.admin_data.paging import page_number

PAGE_SIZE = 50
FORM_FIELDS = (
    "name",
    "name_en",
    "default_severity",
    "responsible_level",
    "responsible_unit_kind",
    "handle_limit",
    "close_limit",
    "process_key",
)


@bp.route("/categories")
@admin_page
def categories_home(user: User) -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip()[:80]
    inactive = request.args.get("inactive") == "1"
    page = paginate(
        services.list_categories(q=q or None, include_inactive=inactive), page_number(), PAGE_SIZE
    )
    return render_template("admin_data/categories.html", page=page, q=q, inactive=inactive)


def _entry(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form as the API's body: empty optional fields are absent (None), the rest as typed."""
    entry: dict[str, Any] = {name: (form.get(name) or "").strip() or None for name in FORM_FIELDS}
    entry["active"] = form.get("active") == "1"
    return entry


def _form(category: Category | None, entry: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    return (
        render_template(
            "admin_data/category.html",
            category=category,
            entry=entry,
            errors=errors,
            severities=SEVERITIES,
            levels=RESPONSIBLE_LEVELS,
            unit_kinds=UNIT_KINDS,
            process_keys=sorted(services.known_process_keys()),
        ),
        status,
    )


def _refused(category: Category | None, entry: dict[str, Any], exc: InvalidInput) -> Any:
    db.session.rollback()
    flash(pgettext("admin_data", "Please correct the marked fields; nothing was saved."), "error")
    return _form(category, entry, words.field_errors(exc.details, words.CATEGORY_FIELD_WORDS), 422)


@bp.route("/categories/new", methods=["GET", "POST"])
@admin_page
def category_new(user: User) -> ResponseReturnValue:
    if request.method == "GET":
        return _form(None, {"active": True, "default_severity": "yellow", "responsible_level": "grid"}, {})
    entry = _entry(request.form) | {"code": (request.form.get("code") or "").strip() or None}
    try:
        category = services.create_category(user, entry)
    except InvalidInput as exc:
        return _refused(None, entry, exc)
    db.session.commit()
    flash(_("Category %(code)s created.", code=category.code), "success")
    return redirect(url_for("admin_data.category_page", code=category.code))


@bp.route("/categories/<code>", methods=["GET", "POST"])
@admin_page
def category_page(user: User, code: str) -> ResponseReturnValue:
    category = services.require_category(code)
    if request.method == "GET":
        return _form(category, services.as_entry(category) | {"active": category.active}, {})
    entry = _entry(request.form)
    try:
        services.update_category(user, code, entry, replace=True)
    except InvalidInput as exc:
        return _refused(category, entry | {"code": code}, exc)
    db.session.commit()
    flash(_("Category %(code)s saved.", code=code), "success")
    return redirect(url_for("admin_data.category_page", code=code))
