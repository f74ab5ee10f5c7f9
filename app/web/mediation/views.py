"""Mediation routes: thin (who is asking → one service call → render or redirect); the request edge commits.

- ``/mediation/``: the disputes the user sees (``list_disputes``), filtered by status, type and grid;
- ``/mediation/new``: filing a dispute on a resident's behalf (``file_dispute``);
- ``/mediation/<key>``: the dispute as ``dispute_view`` shows it to this user, its documents, and its
  current task completed in place (``…/tasks/<id>/complete``, JSON as the task page's form sends it);
- ``/mediation/<key>/documents``: evidence or the signed agreement (``add_document``).
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case
from app.errors import InvalidInput, NotFound, PayloadTooLarge
from app.extensions import db
from app.grids.models import Grid
from app.mediation import services
from app.mediation.models import Dispute
from app.mediation.schemas import DisputeQueryArgs
from app.runtime import settings
from app.tasks import services as tasks
from app.web.errors import register_page_errors
from app.web.incident_notice import step_notice
from app.web.labels import task_title
from app.web.mediation import bp, filing, labels
from app.web.mediation.access import filing_page, may_file, mediation_page
from app.web.mediation.task_panel import task_views
from app.web.process_context import display_names, sections_for
from app.web.supervisor.access import SUPERVISE_ROLES
from app.web.supervisor.case_list import grid_choices, names_of
from app.web.worker import form_errors_response

register_page_errors(bp)

PAGE_SIZE = 20
LIST_FILTERS = ("status", "dispute_type", "grid")


@bp.context_processor
def _words() -> dict[str, Any]:
    return {"md": labels}


# -- the list -------------------------------------------------------------------------------------------


def _list_query() -> tuple[dict[str, Any], dict[str, str]]:
    """The filters and page from the query string (the API's own argument rules); a malformed filter is
    dropped and reported beside its field."""
    given = {k: v for k, v in request.args.items() if k in (*LIST_FILTERS, "page") and v != ""}
    try:
        args = DisputeQueryArgs().load(given)
    except ValidationError as exc:
        errors = {str(k): _("This filter is not valid.") for k in exc.normalized_messages()}
        args = DisputeQueryArgs().load({k: v for k, v in given.items() if k not in errors})
        return args, errors
    return args, {}


@bp.route("/")
@mediation_page
def disputes(user: User) -> ResponseReturnValue:
    args, errors = _list_query()
    page_number = args.pop("page")
    args.pop("page_size")
    try:
        page = services.list_disputes(user, services.DisputeFilters(**args), page_number, PAGE_SIZE)
    except InvalidInput:  # a well-formed grid filter naming no grid
        errors["grid"] = _("No such grid.")
        args.pop("grid", None)
        page = services.list_disputes(user, services.DisputeFilters(**args), page_number, PAGE_SIZE)
    filters = {k: v for k, v in args.items() if k in LIST_FILTERS}
    return render_template(
        "mediation/list.html",
        page=page,
        given=dict(request.args),
        errors=errors,
        grid_choices=grid_choices(user),
        grid_names=_grid_names({item["grid_code"] for item in page["items"]}),
        people=display_names({item["mediator"] for item in page["items"]}),
        may_file=may_file(user),
        page_url=lambda number: url_for("mediation.disputes", page=number, **filters),
    ), (422 if errors else 200)


def _grid_names(codes: set[str | None]) -> dict[str, str]:
    wanted = {code for code in codes if code}
    if not wanted:
        return {}
    rows = db.session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(wanted)))
    return {code: name for code, name in rows}


# -- filing ---------------------------------------------------------------------------------------------


def _filing_form(user: User, given: dict[str, str], errors: dict[str, str]) -> str:
    return render_template(
        "mediation/new.html",
        given=given,
        errors=errors,
        grid_choices=grid_choices(user),
        rows=range(filing.PARTY_ROWS),
        row_roles=filing.ROW_ROLES,
        field=filing.party_field,
    )


@bp.route("/new", methods=["GET", "POST"])
@filing_page
def new_dispute(user: User) -> ResponseReturnValue:
    if request.method == "GET":
        return _filing_form(user, {}, {})
    form = request.form.to_dict()
    rows: list[int] = []
    try:
        fields, rows = filing.load(form)
        dispute = services.file_dispute(user, fields)
    except InvalidInput as exc:
        db.session.rollback()
        errors = exc.details if isinstance(exc, filing.FormRefused) else filing.service_errors(exc, rows)
        flash(_("Please correct the marked fields."), "error")
        return _filing_form(user, form, errors), 422
    notice = step_notice()
    db.session.commit()
    flash(notice or _("Dispute %(key)s filed.", key=dispute.case.key), "warning" if notice else "success")
    return redirect(url_for("mediation.dispute_page", key=dispute.case.key))


# -- the dispute page -----------------------------------------------------------------------------------


def _render_dispute(user: User, dispute: Dispute, upload_errors: dict[str, str] | None = None) -> str:
    case = dispute.case
    view = services.dispute_view(user, dispute)
    readable = {d.id for d in dispute.documents if services.may_read_document(user, dispute, d)}
    grid_names, _categories = names_of([case])
    return render_template(
        "mediation/dispute.html",
        dispute=view,
        case=case,
        grid_name=grid_names.get(case.grid_code or ""),
        people=display_names({view["filed_by"], view["mediator"]}),
        # The case page (timeline, diagram) for those who may use the supervision pages.
        case_url=url_for("supervisor.case_page", key=case.key) if user.role in SUPERVISE_ROLES else None,
        readable=readable,
        upload_kinds=[
            kind for kind in ("agreement", "evidence") if services.may_add_document(user, dispute, kind)
        ],
        upload_errors=upload_errors or {},
        max_upload_mb=settings().max_upload_bytes // (1024 * 1024),
        tasks=task_views(user, dispute, lambda task, data: sections_for(user, task, case, data)),
    )


@bp.route("/<key>")
@mediation_page
def dispute_page(user: User, key: str) -> ResponseReturnValue:
    return _render_dispute(user, services.get_dispute(user, key))


@bp.route("/<key>/documents", methods=["POST"])
@mediation_page
def upload_document(user: User, key: str) -> ResponseReturnValue:
    kind = request.form.get("kind", "")
    upload = request.files.get("file")
    try:
        if kind not in ("agreement", "evidence"):
            raise InvalidInput("unknown kind", {"kind": _("Choose what the document is.")})
        if upload is None or not upload.filename:
            raise InvalidInput("no file", {"file": _("Choose a file.")})
        document = services.add_document(user, key, upload.read(), upload.filename, kind)
    except PayloadTooLarge:
        return _upload_refused(user, key, _("The file is too large."), 413)
    except InvalidInput as exc:
        words = exc.details.get("kind") or exc.details.get("file")
        if "kind" not in exc.details and upload is not None and upload.filename:
            words = _("Upload a PDF or a JPEG, PNG or WebP image (checked by its content).")
        return _upload_refused(user, key, str(words), 422)
    db.session.commit()
    flash(_("%(kind)s uploaded (#%(id)s).", kind=labels.word("document", kind), id=document.id), "success")
    return redirect(url_for("mediation.dispute_page", key=key) + "#documents")


def _upload_refused(user: User, key: str, words: str, status: int) -> ResponseReturnValue:
    """The page again with the reason beside the file field; nothing was stored."""
    db.session.rollback()
    flash(_("Please correct the marked fields."), "error")
    return _render_dispute(user, services.get_dispute(user, key), {"file": words}), status


@bp.route("/<key>/tasks/<int:task_id>/complete", methods=["POST"])
@mediation_page
def complete_task(user: User, key: str, task_id: int) -> ResponseReturnValue:
    """Complete the dispute's task with ``{"data": {...}}`` (JSON, X-CSRFToken), as the task page sends it:
    422 names each refused field; on success the answer's ``redirect`` is the dispute page again."""
    dispute = services.get_dispute(user, key)
    task = tasks.get_task(user, task_id)
    if task.case_id != dispute.case_id:
        raise NotFound(f"task {task_id} does not exist")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise InvalidInput("send the form as JSON", {"data": "expected an object"})
    try:
        tasks.complete(user, task_id, body["data"])
    except tasks.FormDataInvalid as exc:
        return form_errors_response(exc)
    notice = step_notice()
    db.session.commit()
    flash(
        notice or _("Task “%(name)s” completed.", name=task_title(task)), "warning" if notice else "success"
    )
    case = db.session.get(Case, dispute.case_id)
    return jsonify(
        task_id=task_id,
        case_status=case.status if case else None,
        redirect=url_for("mediation.dispute_page", key=key),
    )
