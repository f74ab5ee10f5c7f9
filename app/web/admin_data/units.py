"""``/admin/units``: the units (paged, by text), a unit's page (its members, the grids it serves), a new
unit, and changes, through ``app.units.services`` (the API's rules and audit events)."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import pgettext

from app.auth.models import User
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.http import paginate
from app.units import services
from app.units.models import UNIT_KINDS, Unit
from app.web.admin_data import bp, words
from app.web.admin_data.access import admin_page
from app.web.admin_data.paging import page_number

PAGE_SIZE = 50


@bp.route("/units")
@admin_page
def units_home(user: User) -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip()[:80]
    page = paginate(services.list_units(q=q or None), page_number(), PAGE_SIZE)
    return render_template("admin_data/units.html", page=page, q=q)


def _grid_codes(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,，;；|]+", text or "") if part]


def _values(form: Any) -> dict[str, Any]:
    """The form as typed (shown again when refused)."""
    return {
        "code": (form.get("code") or "").strip(),
        "name": (form.get("name") or "").strip(),
        "kind": form.get("kind") or "",
        "phone": (form.get("phone") or "").strip() or None,
        "grids": form.get("grids") or "",
        "active": form.get("active") == "1",
    }


def _page(unit: Unit | None, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    return (
        render_template(
            "admin_data/unit.html",
            unit=unit,
            values=values,
            errors=errors,
            unit_kinds=UNIT_KINDS,
            members=services.unit_members(unit) if unit is not None else [],
        ),
        status,
    )


def _refused(unit: Unit | None, values: dict[str, Any], exc: InvalidInput | Conflict) -> Any:
    db.session.rollback()
    flash(pgettext("admin_data", "Please correct the marked fields; nothing was saved."), "error")
    details = dict(exc.details) if isinstance(exc.details, dict) else {"form": exc.message}
    if isinstance(exc, Conflict) and details.get("code") == "taken":
        details["code"] = _("A unit with this code exists already.")
    return _page(unit, values, words.field_errors(details, words.UNIT_FIELD_WORDS), 422)


def _form_problems(values: dict[str, Any], new: bool) -> dict[str, str]:
    """What the API's schema refuses before the service is called, every field at once."""
    problems = {}
    if new and (problem := services.code_problems(values["code"])):
        problems["code"] = problem
    if problem := services.kind_problem(values["kind"]):
        problems["kind"] = problem
    if not values["name"] or len(values["name"]) > services.MAX_NAME_LENGTH:
        problems["name"] = f"1-{services.MAX_NAME_LENGTH} characters"
    if values["phone"] and len(values["phone"]) > services.MAX_PHONE_LENGTH:
        problems["phone"] = f"at most {services.MAX_PHONE_LENGTH} characters"
    return problems


@bp.route("/units/new", methods=["GET", "POST"])
@admin_page
def unit_new(user: User) -> ResponseReturnValue:
    if request.method == "GET":
        return _page(None, {"kind": "property", "active": True}, {})
    values = _values(request.form)
    try:
        if problems := _form_problems(values, new=True):
            raise InvalidInput("invalid unit", problems)
        unit = services.create_unit(
            values["code"],
            values["name"],
            values["kind"],
            values["phone"],
            _grid_codes(values["grids"]),
            user,
        )
    except (InvalidInput, Conflict) as exc:
        return _refused(None, values, exc)
    db.session.commit()
    flash(_("Unit %(name)s created.", name=unit.name), "success")
    return redirect(url_for("admin_data.unit_page", code=unit.code))


@bp.route("/units/<code>", methods=["GET", "POST"])
@admin_page
def unit_page(user: User, code: str) -> ResponseReturnValue:
    unit = services.get_unit(code)
    if request.method == "GET":
        values = {
            "code": unit.code,
            "name": unit.name,
            "kind": unit.kind,
            "phone": unit.phone,
            "active": unit.active,
            "grids": "\n".join(g.code for g in unit.grids),
        }
        return _page(unit, values, {})
    values = _values(request.form) | {"code": unit.code}
    try:
        if problems := _form_problems(values, new=False):
            raise InvalidInput("invalid unit", problems)
        services.update_unit(
            code,
            {
                "name": values["name"],
                "kind": values["kind"],
                "phone": values["phone"],
                "active": values["active"],
            },
            actor=user,
        )
        services.set_unit_grids(code, _grid_codes(str(values["grids"])), actor=user)
    except InvalidInput as exc:
        return _refused(unit, values, exc)
    db.session.commit()
    flash(_("Unit %(name)s saved.", name=unit.name), "success")
    return redirect(url_for("admin_data.unit_page", code=code))
