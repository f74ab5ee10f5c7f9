"""Grid worker pages (phone first, under /m/): the task inbox, a task page with its case, map, photos and
form, and the actions claim, hand back (release), upload a photo and complete. Every action calls the same
services as the REST API (app.tasks.services, app.cases.services); the request edge commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.audit.services import record
from app.auth.models import User
from app.cases import services as cases
from app.cases.models import Attachment, Case
from app.errors import InvalidInput, NotFound, error_body
from app.extensions import db
from app.idempotency import idempotent
from app.inputs import INT_MAX
from app.tasks import services as tasks
from app.tasks.supervision import urges_of
from app.web import inspection_photos  # also registers its upload route
from app.web.blueprint import bp
from app.web.case_picker import duplicate_choices
from app.web.geo import grid_feature_of
from app.web.i18n import current_language
from app.web.incident_notice import step_notice
from app.web.labels import ATTACHMENT_KIND_LABELS, category_name, task_title, time_left
from app.web.nav import TASK_ROLES
from app.web.process_context import sections_for, subject_of, unit_names
from app.web.review_panel import REVIEW_ELEMENTS, latest_rework, panel_context
from app.web.task_context import task_context
from app.web.task_form import CaseChoices, FormView, client_messages
from app.workflow.models import HumanTask, TaskStatus

INBOX_PAGE_SIZE = 20
INBOX_SCOPES = ("all", "mine", "claimable")


def task_user() -> User:
    """The signed-in user, if their role holds tasks (403 otherwise)."""
    user: User = current_user._get_current_object()
    if user.role not in TASK_ROLES:
        abort(403, description=_("Your role has no task inbox."))
    return user


@dataclass(frozen=True)
class InboxRow:
    task: HumanTask
    case: Case | None
    left: timedelta | None
    mine: bool
    unit: str | None = None  # the unit the task is offered to, by name
    holder: str | None = None  # who claimed it (when not you), by name
    subject: str | None = None  # what a task without a case is about (an inspection's place)

    @property
    def overdue(self) -> bool:
        return self.left is not None and self.left < timedelta(0)


def _cases_by_id(ids: set[int]) -> dict[int, Case]:
    if not ids:
        return {}
    return {c.id: c for c in db.session.execute(select(Case).where(Case.id.in_(ids))).scalars()}


def _names_by_id(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {user_id: display or username for user_id, display, username in rows}


@bp.route("/m/")
@login_required
def worker_inbox() -> ResponseReturnValue:
    user = task_user()
    scope = request.args.get("scope", "all")
    scope = scope if scope in INBOX_SCOPES else "all"
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), INT_MAX)  # past the end: an empty page
    result = tasks.inbox(user, scope, page, INBOX_PAGE_SIZE)
    by_id = _cases_by_id({t.case_id for t in result["items"] if t.case_id})
    units = unit_names({t.candidate_group for t in result["items"] if t.candidate_group})
    holders = _names_by_id(
        {t.assignee_id for t in result["items"] if t.assignee_id and t.assignee_id != user.id}
    )
    rows = [
        InboxRow(
            task=task,
            case=by_id.get(task.case_id) if task.case_id else None,
            left=time_left(task.due_at or (by_id[task.case_id].due_at if task.case_id in by_id else None)),
            mine=task.status == TaskStatus.CLAIMED and task.assignee_id == user.id,
            unit=units.get(task.candidate_group or ""),
            holder=holders.get(task.assignee_id or 0),
            subject=None if task.case_id else subject_of(task),
        )
        for task in result["items"]
    ]
    return render_template(
        "worker/inbox.html",
        rows=rows,
        result=result,
        scope=scope,
        scopes=INBOX_SCOPES,
        category_name=category_name,
    )


# -- the task page ----------------------------------------------------------------------------------


def _case_of(user: User, task: HumanTask) -> Case | None:
    if task.case_id is None:
        return None
    case = db.session.get(Case, task.case_id)
    if case is None:
        return None
    try:
        return cases.get_case(user, case.key)
    except NotFound:
        return None  # a task named to you on a case outside your grids: the task, without the case


def thumbnail_url(attachment: Attachment) -> str:
    return f"/api/v1/attachments/{attachment.id}/content?thumbnail=1"


def content_url(attachment: Attachment) -> str:
    return f"/api/v1/attachments/{attachment.id}/content"


def made_thumbnail_url(attachment: Attachment) -> str | None:
    """The small version once the photos job has made it; before that, None (never the full original, which
    would download megabytes in place of a thumbnail)."""
    return thumbnail_url(attachment) if attachment.thumbnail_path else None


@bp.route("/m/tasks/<int:task_id>")
@login_required
def worker_task(task_id: int) -> ResponseReturnValue:
    user = task_user()
    task = tasks.get_task(user, task_id)
    case = _case_of(user, task)
    form = tasks.task_form(task)
    declared = form.schema.get("properties", {})
    data = tasks.task_data(task)
    photos = cases.attachments(user, case.key) if case is not None else []
    mine = task.status == TaskStatus.CLAIMED and task.assignee_id == user.id
    context = task_context(task.form_key, data, declared)
    form_page = task_form_page(
        form.schema,
        form.ui_schema,
        {**context.start_values, **{k: v for k, v in data.items() if k in declared and v is not None}},
        photos,
        case_choices=lambda: duplicate_choices(user, case),
    )
    inspection_photos.add_to_page(form_page, user, task, data)
    return render_template(
        "worker/task.html",
        task=task,
        case=case,
        mine=mine,
        claimable=task.status == TaskStatus.READY and tasks.is_candidate(user, task),
        left=time_left(task.due_at or (case.due_at if case else None)),
        form_page=form_page,
        context=context,
        photos=photos,
        thumbnail_url=thumbnail_url,
        content_url=content_url,
        kind_labels=ATTACHMENT_KIND_LABELS,
        category_name=category_name,
        grid=grid_feature_of(case.grid_code) if case else None,
        parked=tasks.why_parked(task),
        process_sections=sections_for(user, task, case, data),
        urges=urges_of(task) if task.status in TaskStatus.OPEN else [],
        rework=latest_rework(case)
        if case is not None and task.element_id in tasks.HANDLING_ELEMENTS
        else None,
        # The review task shows the handler's result, the photos with their check, the completion places.
        **(panel_context(user, case) if case is not None and task.element_id in REVIEW_ELEMENTS else {}),
    )


def task_form_page(
    schema: dict[str, Any],
    ui_schema: dict[str, Any] | None,
    values: dict[str, Any],
    photos: list[Attachment],
    case_choices: CaseChoices | None = None,
) -> dict[str, Any]:
    """What ``_task_form.html`` draws: the form's fields in the user's language, its start values, this
    case's photos to pick from, other cases to pick (``case_picker``), and the page's check messages."""
    view = FormView(schema, ui_schema, current_language(), case_choices)
    model = {"widget": "object", "name": "", "label": "", "messages": {}, **view.describe()}
    return {
        "title": view.title(),
        "description": view.description(),
        "model": model,
        "values": values,
        "texts": client_messages(current_language() == "en"),
        "photos": [
            {
                "id": photo.id,
                "kind": photo.kind,
                "label": str(ATTACHMENT_KIND_LABELS.get(photo.kind, photo.kind)),
                "thumbnail": made_thumbnail_url(photo),
                "content": content_url(photo),
            }
            for photo in photos
        ],
    }


# -- actions ----------------------------------------------------------------------------------------


@bp.route("/m/tasks/<int:task_id>/claim", methods=["POST"])
@login_required
def worker_claim(task_id: int) -> ResponseReturnValue:
    task = tasks.claim(task_user(), task_id)
    db.session.commit()
    flash(_("You took the task “%(name)s”.", name=task_title(task)), "success")
    return redirect(url_for("web.worker_task", task_id=task_id))


@bp.route("/m/tasks/<int:task_id>/release", methods=["POST"])
@login_required
def worker_release(task_id: int) -> ResponseReturnValue:
    task = tasks.unclaim(task_user(), task_id)
    db.session.commit()
    flash(_("You handed the task “%(name)s” back.", name=task_title(task)), "success")
    return redirect(url_for("web.worker_inbox"))


@bp.route("/m/tasks/<int:task_id>/photos", methods=["POST"])
@login_required
@idempotent(task_user)
def worker_photo(task_id: int) -> ResponseReturnValue:
    """One photo (multipart ``file``, ``?kind=``) added to the task's case; answers its id, its thumbnail
    (null until the photos job has made it: ``status`` tells when) and the photo. An ``Idempotency-Key``
    header makes a retry (the offline queue's) answer the first upload instead of storing the photo twice."""
    user = task_user()
    task = tasks.get_task(user, task_id)
    case = _case_of(user, task)
    if case is None:
        raise NotFound(f"task {task_id} has no case to attach photos to")
    kind = cases.attachment_kind_valid(request.args.get("kind", "other"))
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("no file uploaded", {"file": _("Choose or take a photo.")})
    attachment = cases.add_attachment(user, case.key, upload.read(), upload.filename, kind)
    db.session.commit()
    return (
        jsonify(
            id=attachment.id,
            kind=attachment.kind,
            thumbnail=made_thumbnail_url(attachment),
            thumbnail_when_made=thumbnail_url(attachment),
            status=f"/api/v1/attachments/{attachment.id}",
            content=content_url(attachment),
        ),
        201,
    )


def _location(raw: Any) -> dict[str, float] | None:
    """The phone's position sent with a completion: ``{lat, lon, accuracy?}`` in range, else refused."""
    if raw is None:
        return None
    problems: dict[str, str] = {}
    values: dict[str, float] = {}
    if not isinstance(raw, dict):
        raise InvalidInput("bad location", {"location": "expected {lat, lon, accuracy}"})
    for name, low, high, required in (
        ("lat", -90, 90, True),
        ("lon", -180, 180, True),
        ("accuracy", 0, 1e6, False),
    ):
        value = raw.get(name)
        if value is None and not required:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            problems[f"location.{name}"] = f"expected a number from {low} to {high}"
        else:
            values[name] = float(value)
    if problems:
        raise InvalidInput("bad location", problems)
    return values


def next_task_of(user: User, task: HumanTask) -> HumanTask | None:
    """The task of the same case this user now holds (claimed for them, e.g. 处置反馈 after 处置: the
    diagram names the handler as its assignee), so both are done in one visit."""
    if task.case_id is None:
        return None
    return db.session.execute(
        select(HumanTask)
        .where(
            HumanTask.case_id == task.case_id,
            HumanTask.status == TaskStatus.CLAIMED,
            HumanTask.assignee_id == user.id,
            HumanTask.id != task.id,
        )
        .order_by(HumanTask.id)
        .limit(1)
    ).scalar_one_or_none()


@bp.route("/m/tasks/<int:task_id>/complete", methods=["POST"])
@login_required
@idempotent(task_user)
def worker_complete(task_id: int) -> ResponseReturnValue:
    """Complete with ``{"data": {...}, "location": {"lat", "lon", "accuracy"} | null}`` (JSON, X-CSRFToken).
    422 names each field that fails, as the API does; the location is recorded with the completion. An
    ``Idempotency-Key`` header makes a retry answer the first completion. The answer's ``redirect`` is the
    next task of the same case this user holds (处置 → 处置反馈), else the inbox."""
    user = task_user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise InvalidInput("send the form as JSON", {"data": "expected an object"})
    location = _location(body.get("location"))
    task = tasks.get_task(user, task_id)
    try:
        outcome = tasks.complete(user, task_id, body["data"])
    except tasks.FormDataInvalid as exc:
        return form_errors_response(exc)
    record(
        "task.location",
        entity_type="task",
        entity_id=task_id,
        actor=user,
        case_id=task.case_id,
        instance_id=task.instance_id,
        data={"location": location, "source": "browser geolocation" if location else "not shared"},
    )
    notice = step_notice()
    db.session.commit()
    case = db.session.get(Case, task.case_id) if task.case_id else None
    following = next_task_of(user, task)
    if notice is not None:  # completed and kept; the process stopped after it and waits for a repair
        flash(notice, "warning")
    elif following is not None:
        flash(
            _(
                "Task “%(name)s” completed. Next: “%(next)s”.",
                name=task_title(task),
                next=task_title(following),
            ),
            "success",
        )
    else:
        flash(_("Task “%(name)s” completed.", name=task_title(task)), "success")
    return jsonify(
        task_id=task_id,
        case_status=case.status if case else None,
        instance_status=outcome.instance.status,
        next_task_id=following.id if following else None,
        redirect=url_for("web.worker_task", task_id=following.id)
        if following
        else url_for("web.worker_inbox"),
    )


def form_errors_response(exc: tasks.FormDataInvalid) -> ResponseReturnValue:
    """422 of a refused form for the pages: ``errors`` lists each field's JSON pointer and message in the
    user's language (``details`` too, by dotted field, as the API's 422 has them)."""
    db.session.rollback()
    language = "en" if current_language() == "en" else "zh-CN"
    errors = [
        {"field": e["field"], "pointer": e["pointer"], "message": e["messages"][language]}
        for e in exc.field_errors
    ]
    body = error_body(
        exc.error,
        _("Please correct the marked fields."),
        {e["field"] or "data": e["message"] for e in errors},
    )
    body["errors"] = errors
    return jsonify(body), exc.status
