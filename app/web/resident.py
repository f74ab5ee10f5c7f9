"""Resident pages (under /r/): report a problem, the receipt with the case number, my reports, and tracking a
case by its number.

Privacy decision for tracking (``/r/track?key=``): the case must be one the user may see by the one rule,
``visible_cases`` (for a resident: the cases they reported). An unknown number and someone else's case get the
same "not found" page (404), so case numbers cannot be probed. A case that is shown shows progress only:
status steps with their dates, time limit, escalation level, reasons given to the reporter, and the reporter's
own photos; never a person's name, username or phone number (no reporter, no handler, no unit contacts)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select

from app.auth.models import User
from app.cases import services as cases
from app.cases.models import Attachment, Case, CaseStatus
from app.cases.schemas import CaseReportSchema
from app.categories.models import Category
from app.errors import Conflict, DomainError, NotFound
from app.extensions import db
from app.http import paginate
from app.idempotency import FORM_FIELD, form_key, idempotent
from app.inputs import INT_MAX
from app.web.blueprint import bp
from app.web.i18n import current_language
from app.web.incident_notice import step_notice
from app.web.labels import category_name
from app.web.nav import REPORT_ROLES
from app.web.worker import thumbnail_url

ICONS_WITH_FILES = frozenset(
    {"E01", "E02", "E03", "E04", "E05", "E10", "E11", "E12", "P01", "P02", "P03", "P04", "P05", "P06"}
)
MY_REPORTS_PAGE_SIZE = 20
FINAL_OUTCOMES = {
    "rejected": _l("Not accepted"),
    "duplicate": _l("Merged with an earlier report"),
    "withdrawn": _l("Withdrawn"),
}


# The API's validation messages are English and name the API's rules; the page says what to do, in the
# page language, next to the field (one message per field, the location once for lat/lon).
PLACE_WORDS = _l("Pick the place on the map, or use your location.")
REPORT_FIELD_WORDS = {
    "title": _l("Give a title of 2 to 120 characters, or describe the problem."),
    "description": _l("Describe the problem in at most 4000 characters."),
    "category_code": _l("Choose a category from the list."),
    "location": PLACE_WORDS,
    "address": _l("Give the address in at most 300 characters."),
}
PHOTO_WORDS = {
    413: _l("The photo is too large."),
    415: _l("The photo must be a JPEG, PNG or WebP image."),
}
PHOTO_NOT_STORED = _l("The photo could not be stored; try another one.")


def page_errors(errors: dict[str, Any], status: int) -> dict[str, str]:
    """The refused fields of a report, each with the page's words for it (see REPORT_FIELD_WORDS)."""
    words: dict[str, str] = {}
    for name in errors:
        if name in ("lat", "lon", "location", "_schema"):
            words["location"] = str(PLACE_WORDS)
        elif name in ("photo", "file"):
            words["photo"] = str(PHOTO_WORDS.get(status, PHOTO_NOT_STORED))
        elif name in REPORT_FIELD_WORDS:
            words[name] = str(REPORT_FIELD_WORDS[name])
        else:
            words["form"] = _("The report could not be sent. Please check it and try again.")
    return words


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


# -- report -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryClass:
    code: str
    name: str
    icon: str
    subclasses: list[tuple[str, str]]


def category_classes() -> list[CategoryClass]:
    """Active category classes with their sub-classes, names in the page language."""
    english = current_language() == "en"
    rows = list(
        db.session.execute(
            select(Category).where(Category.active.is_(True)).order_by(Category.code)
        ).scalars()
    )

    def name(category: Category) -> str:
        return category.name_en if english and category.name_en else category.name

    classes = []
    for parent in (c for c in rows if c.parent_code is None):
        subclasses = [(c.code, name(c)) for c in rows if c.parent_code == parent.code]
        icon = parent.code if parent.code in ICONS_WITH_FILES else "other"
        classes.append(CategoryClass(parent.code, name(parent), f"icons/categories/{icon}.svg", subclasses))
    return classes


def _report_form(values: dict[str, Any], errors: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "resident/report.html",
            classes=category_classes(),
            values=values,
            # One key per filled form: sending it twice (a double tap, a retry) makes one case.
            idempotency_key=values.get(FORM_FIELD) or uuid.uuid4().hex,
            errors=page_errors(errors, status) if errors else {},
        ),
        status,
    )


def _report_fields(form: dict[str, str]) -> dict[str, Any]:
    raw = {
        k: form.get(k, "").strip() for k in ("title", "description", "category_code", "lat", "lon", "address")
    }
    raw = {k: v for k, v in raw.items() if v}
    if "title" not in raw:
        # A resident need not invent a title: the category, else the start of the description.
        named = category_name(raw.get("category_code"))
        raw["title"] = named or raw.get("description", "")[:30]
    return raw


@bp.route("/r/report", methods=["GET", "POST"])
@login_required
@idempotent(_user, form_key)
def resident_report() -> ResponseReturnValue:
    user = _user()
    if user.role not in REPORT_ROLES:
        abort(403, description=_("Your role cannot report problems here."))
    if request.method == "GET":
        return _report_form({}, {})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    raw = _report_fields(request.form)
    if ("lat" in raw) != ("lon" in raw):  # said in the page's words before the schema says it in the API's
        return _report_form(values, {"location": "lat and lon go together"}, 422)
    try:
        fields = CaseReportSchema().load(raw)
    except ValidationError as exc:
        return _report_form(values, dict(exc.messages), 422)  # type: ignore[arg-type]
    photo = request.files.get("photo")
    try:
        case = cases.report_case(user, fields)
        if photo is not None and photo.filename:
            cases.add_attachment(user, case.key, photo.read(), photo.filename, "report")
    except DomainError as exc:
        db.session.rollback()  # all or nothing: no case without its photo
        details = exc.details if isinstance(exc.details, dict) else {}
        return _report_form(values, details or {"form": exc.message}, exc.status)
    notice = step_notice()
    db.session.commit()
    if notice is not None:  # the report is kept; its process waits for a repair
        flash(notice, "warning")
    return redirect(url_for("web.resident_receipt", key=case.key))


@bp.route("/r/cases/<key>/receipt")
@login_required
def resident_receipt(key: str) -> ResponseReturnValue:
    case = cases.get_case(_user(), key)
    if case.reporter_id != _user().id:
        raise NotFound(f"case {key} does not exist")
    return render_template("resident/receipt.html", case=case, category_name=category_name)


@bp.route("/r/")
@login_required
def resident_home() -> ResponseReturnValue:
    user = _user()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), INT_MAX)  # past the end: an empty page
    query = (
        cases.visible_cases(user)
        .where(Case.reporter_id == user.id)
        .order_by(Case.created_at.desc(), Case.id.desc())
    )
    result = paginate(query, page, MY_REPORTS_PAGE_SIZE)
    return render_template("resident/home.html", result=result, category_name=category_name)


# -- tracking -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    label: str
    at: datetime | None
    done: bool
    current: bool = False
    note: str = ""


def progress_steps(case: Case) -> list[Step]:
    """The case's way so far as steps with dates, without people."""
    if case.status in FINAL_OUTCOMES:
        note = (case.reject_reason or "") if case.status == "rejected" else ""
        return [
            Step(_("Reported"), case.created_at, True),
            Step(str(FINAL_OUTCOMES[case.status]), case.updated_at, True, True, note),
        ]
    plan = [
        (_("Reported"), case.created_at),
        (_("Accepted"), case.filed_at),
        (_("Dispatched"), case.dispatched_at),
        (_("Handled"), case.handled_at),
        (_("Closed"), case.closed_at if case.status == "closed" else None),
    ]
    last_done = max(index for index, (_label, at) in enumerate(plan) if at is not None or index == 0)
    return [
        Step(label, at, at is not None or index == 0, index == last_done)
        for index, (label, at) in enumerate(plan)
    ]


def own_photos(user: User, case: Case) -> list[Attachment]:
    """Only the photos this user took for the report: others' photos may show people or homes."""
    return [a for a in cases.attachments(user, case.key) if a.uploaded_by_id == user.id]


@bp.route("/r/track")
@login_required
def resident_track() -> ResponseReturnValue:
    user = _user()
    key = request.args.get("key", "").strip().upper()
    if not key:
        return render_template("resident/track.html", key="", case=None, not_found=False)
    try:
        case = cases.get_case(user, key)
    except NotFound:
        # The same answer for "no such case" and "not yours": case numbers are not a way to probe.
        return render_template("resident/track.html", key=key, case=None, not_found=True), 404
    return resident_track_page(user, case)


def resident_track_page(
    user: User, case: Case, withdraw_error: str | None = None, withdraw_reason: str = "", status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "resident/track.html",
            key=case.key,
            case=case,
            not_found=False,
            steps=progress_steps(case),
            photos=own_photos(user, case),
            thumbnail_url=thumbnail_url,
            category_name=category_name,
            withdrawable=can_withdraw(user, case),
            withdraw_error=withdraw_error,
            withdraw_reason=withdraw_reason,
        ),
        status,
    )


# -- withdrawal ---------------------------------------------------------------------------------------

WITHDRAW_REASON_LENGTH = (2, 500)  # as the API's WithdrawInput


def can_withdraw(user: User, case: Case) -> bool:
    """The reporter may withdraw their report while it waits for triage (the boundary message on triage)."""
    return case.reporter_id == user.id and case.status == CaseStatus.TRIAGE


@bp.route("/r/cases/<key>/withdraw", methods=["POST"])
@login_required
def resident_withdraw(key: str) -> ResponseReturnValue:
    """撤销上报: the same service as ``POST /api/v1/cases/<key>/withdraw``. Someone else's case answers as an
    unknown one (404); a report already triaged is refused with the tracking page's explanation (409)."""
    user = _user()
    case = cases.get_case(user, key)  # 404 for "not yours" as for "no such case"
    if case.reporter_id != user.id:
        raise NotFound(f"case {key} does not exist")
    reason = request.form.get("reason", "").strip()
    low, high = WITHDRAW_REASON_LENGTH
    refused = _("This report has been accepted already and can no longer be withdrawn.")
    problem, status = None, 422
    if not can_withdraw(user, case):
        problem, status = refused, 409
    elif request.form.get("confirm") != "yes":
        problem = _("Tick the box to confirm that you withdraw this report.")
    elif not low <= len(reason) <= high:
        problem = _("Say in %(low)s to %(high)s characters why you withdraw the report.", low=low, high=high)
    if problem is None:
        try:
            cases.withdraw(user, key, reason)
        except Conflict:  # triaged between the check and the message
            db.session.rollback()
            problem, status = refused, 409
    if problem is not None:
        db.session.expire_all()
        return resident_track_page(user, cases.get_case(user, key), problem, reason, status)
    notice = step_notice()
    db.session.commit()
    flash(notice or _("Your report %(key)s is withdrawn.", key=key), "warning" if notice else "success")
    return redirect(url_for("web.resident_track", key=key))
