"""``/admin/plans``: the emergency plan library (paged, by text, with the deactivated ones on request), a
plan's page to read and change it, a new plan, deactivation and reactivation, importing a plans file (all
or nothing) and exporting the library, through ``app.emergency.plans`` (the API's rules and audit events)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import select

from app.auth.models import User
from app.devices.types import ALARM_TYPES
from app.emergency import plans as library
from app.emergency.models import EmergencyPlan
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.http import paginate
from app.imports import decode_text
from app.units.models import UNIT_KINDS, Unit
from app.web.admin_data import bp, words
from app.web.admin_data.access import admin_page
from app.web.admin_data.paging import page_number
from app.web.admin_data.plan_form import read_form, row_errors, rows_of, values_of

PAGE_SIZE = 50


@bp.route("/plans")
@admin_page
def plans_home(user: User) -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip()[:80]
    inactive = request.args.get("inactive") == "1"
    page = paginate(
        library.list_plans(active=None if inactive else True, q=q or None), page_number(), PAGE_SIZE
    )
    return render_template("admin_data/plans.html", page=page, q=q, inactive=inactive, import_errors={})


def _form(
    plan: EmergencyPlan | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Any:
    units = db.session.execute(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).scalars()
    return (
        render_template(
            "admin_data/plan.html",
            plan=plan,
            values=values,
            errors=errors,
            unit_kinds=UNIT_KINDS,
            units=list(units),
            alarm_types=ALARM_TYPES,
        ),
        status,
    )


def _refused(plan: EmergencyPlan | None, values: dict[str, Any], used: list[int], exc: Any) -> Any:
    db.session.rollback()
    flash(pgettext("admin_data", "Please correct the marked fields; nothing was saved."), "error")
    details = dict(exc.details) if isinstance(exc.details, dict) else {"plan": exc.message}
    if isinstance(exc, Conflict) and details.get("code") == "taken":
        details["code"] = _("A plan with this code exists already.")
    return _form(plan, values, words.plan_errors(row_errors(details, used)), 422)


@bp.route("/plans/new", methods=["GET", "POST"])
@admin_page
def plan_new(user: User) -> ResponseReturnValue:
    if request.method == "GET":
        return _form(None, {"rows": rows_of([]), "alarm_types": []}, {})
    values, entry, used = read_form(request.form)
    try:
        plan = library.create_plan(user, entry)
    except (InvalidInput, Conflict) as exc:
        return _refused(None, values, used, exc)
    db.session.commit()
    flash(_("Plan %(name)s created.", name=plan.name), "success")
    return redirect(url_for("admin_data.plan_page", code=plan.code))


@bp.route("/plans/<code>", methods=["GET", "POST"])
@admin_page
def plan_page(user: User, code: str) -> ResponseReturnValue:
    plan = library.get_plan(code)
    if request.method == "GET":
        return _form(plan, values_of(plan), {})
    values, entry, used = read_form(request.form)
    values["code"] = plan.code
    try:
        library.replace_plan(user, code, entry | {"code": code})
    except InvalidInput as exc:
        return _refused(plan, values, used, exc)
    db.session.commit()
    flash(_("Plan %(name)s saved (version %(version)s).", name=plan.name, version=plan.version), "success")
    return redirect(url_for("admin_data.plan_page", code=code))


@bp.route("/plans/<code>/deactivate", methods=["POST"])
@admin_page
def plan_deactivate(user: User, code: str) -> ResponseReturnValue:
    plan = library.deactivate_plan(user, code)
    db.session.commit()
    flash(_("Plan %(name)s deactivated: it is no longer offered for launch.", name=plan.name), "success")
    return redirect(url_for("admin_data.plan_page", code=code))


@bp.route("/plans/<code>/reactivate", methods=["POST"])
@admin_page
def plan_reactivate(user: User, code: str) -> ResponseReturnValue:
    plan = library.get_plan(code)
    try:
        library.replace_plan(user, code, library.as_entry(plan))  # the API's PUT: same content, active again
    except InvalidInput as exc:  # e.g. a responder's unit deactivated since: the form shows which row
        db.session.rollback()
        flash(_("This plan cannot be reactivated as it is: correct it and save it."), "error")
        rows = list(range(len(plan.responders or [])))  # the form's rows are the plan's responders, in order
        details = dict(exc.details) if isinstance(exc.details, dict) else {"plan": exc.message}
        return _form(plan, values_of(plan), words.plan_errors(row_errors(details, rows)), 422)
    db.session.commit()
    flash(_("Plan %(name)s reactivated.", name=plan.name), "success")
    return redirect(url_for("admin_data.plan_page", code=code))


@bp.route("/plans/import", methods=["POST"])
@admin_page
def plans_import(user: User) -> ResponseReturnValue:
    """A plans file (``{"plans": [...]}``, what export writes): every plan created or replaced, or none."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("no file", {"file": "choose a plans file"})
        try:
            document = json.loads(decode_text(upload.read()))
        except ValueError as exc:
            raise InvalidInput("not JSON", {"file": str(exc)}) from exc
        entries = document.get("plans") if isinstance(document, dict) else document
        if not isinstance(entries, list) or not entries:
            raise InvalidInput("no plans", {"file": 'expected {"plans": [...]}'})
        report = library.import_plans(entries, actor=user)
    except InvalidInput as exc:
        db.session.rollback()
        page = paginate(library.list_plans(active=True), 1, PAGE_SIZE)
        errors = words.plan_file_errors(exc.details) if exc.details else {"file": exc.message}
        return (
            render_template("admin_data/plans.html", page=page, q="", inactive=False, import_errors=errors),
            422,
        )
    db.session.commit()
    flash(
        _(
            "Plans imported: %(created)s new, %(updated)s changed, %(unchanged)s unchanged.",
            created=len(report.created),
            updated=len(report.updated),
            unchanged=report.unchanged,
        ),
        "success",
    )
    return redirect(url_for("admin_data.plans_home"))


@bp.route("/plans/export.json")
@admin_page
def plans_export(user: User) -> ResponseReturnValue:
    return Response(
        json.dumps(library.export_plans(), ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="plans.json"'},
    )
