"""Workbench routes: thin (who is asking → one service call → render or redirect). The queue and the
selected report share one page; actions post to the task and come back to the queue with its filters."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.auth.models import User
from app.cases import services as cases
from app.cases.models import SOURCE_CHANNELS, Case
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.tasks import services as tasks
from app.timelimits.calendar import SEVERITIES
from app.web.errors import register_page_errors
from app.web.geo import grid_feature_of
from app.web.i18n import current_language
from app.web.supervisor.case_list import category_choices, grid_choices, names_of
from app.web.workbench import actions, bp, duplicates, labels, picker, queue
from app.web.workbench.access import workbench_page
from app.web.workbench.limits import category_limit
from app.workflow.models import HumanTask, TaskStatus

register_page_errors(bp)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"wb_labels": labels}


def _query() -> tuple[queue.QueueQuery, dict[str, str]]:
    """The queue's filters from the query string; a malformed one is dropped and reported beside its field."""
    try:
        return queue.parse_args(request.args.to_dict()), {}
    except InvalidInput as exc:
        return queue.QueueQuery(), exc.details


def _back(query: queue.QueueQuery, task_id: int | None = None) -> ResponseReturnValue:
    if task_id is None:
        return redirect(url_for("workbench.home", **query.as_args()))
    return redirect(url_for("workbench.task_page", task_id=task_id, **query.as_args()))


@bp.route("/")
@workbench_page
def home(user: User) -> ResponseReturnValue:
    query, errors = _query()
    return _render(user, query, errors, None), 422 if errors else 200


@bp.route("/tasks/<int:task_id>")
@workbench_page
def task_page(user: User, task_id: int) -> ResponseReturnValue:
    query, errors = _query()
    return _render(user, query, errors, _report(user, task_id))


@bp.route("/next", methods=["POST"])
@workbench_page
def next_task(user: User) -> ResponseReturnValue:
    """Claim the first unclaimed task of the queue (in its filters and order) and open it."""
    query, _errors = _query()
    task = queue.take_next(user, query)
    if task is None:
        flash(_("No unclaimed report waits in this queue."), "info")
        return _back(query)
    db.session.commit()
    return _back(query, task.id)


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@workbench_page
def claim(user: User, task_id: int) -> ResponseReturnValue:
    query, _errors = _query()
    tasks.claim(user, task_id)
    db.session.commit()
    return _back(query, task_id)


@bp.route("/tasks/<int:task_id>/triage", methods=["POST"])
@workbench_page
def triage(user: User, task_id: int) -> ResponseReturnValue:
    query, _errors = _query()
    try:
        done = actions.triage(user, task_id, request.form)
    except InvalidInput as exc:
        return _refused(user, query, task_id, exc)
    except Conflict:
        return _taken(query)
    db.session.commit()
    key = done.case.key
    if done.decision == "accept":
        flash(_("%(key)s accepted: choose who handles it.", key=key), "success")
        return _back(query, done.next_task.id if done.next_task else None)
    if done.decision == "duplicate":
        original = done.case.duplicate_of.key if done.case.duplicate_of else ""
        flash(_("%(key)s closed as a duplicate of %(original)s.", key=key, original=original), "success")
    else:
        flash(_("%(key)s not accepted.", key=key), "success")
    return _back(query)


@bp.route("/tasks/<int:task_id>/dispatch", methods=["POST"])
@workbench_page
def dispatch(user: User, task_id: int) -> ResponseReturnValue:
    query, _errors = _query()
    try:
        done = actions.dispatch(user, task_id, request.form)
    except InvalidInput as exc:
        return _refused(user, query, task_id, exc)
    except Conflict:
        return _taken(query)
    db.session.commit()
    flash(_("%(key)s dispatched to %(name)s.", key=done.case.key, name=done.handler), "success")
    return _back(query)


def _taken(query: queue.QueueQuery) -> ResponseReturnValue:
    db.session.rollback()
    flash(_("Someone else has already worked on this report."), "warning")
    return _back(query)


def _refused(user: User, query: queue.QueueQuery, task_id: int, exc: InvalidInput) -> ResponseReturnValue:
    """The page again with each refused field's reason beside it (422); nothing was changed."""
    db.session.rollback()
    if isinstance(exc, tasks.FormDataInvalid):
        language = "en" if current_language() == "en" else "zh-CN"
        errors = {e["field"] or "data": e["messages"][language] for e in exc.field_errors}
    else:
        errors = {name: str(message) for name, message in exc.details.items()}
    report = _report(user, task_id)
    report.update(errors=errors, given=request.form.to_dict())
    flash(_("Please correct the marked fields."), "error")
    return _render(user, query, {}, report), 422


# -- what the page shows -------------------------------------------------------------------------------


def _report(user: User, task_id: int) -> dict[str, Any]:
    task = tasks.get_task(user, task_id)
    stage = queue.FORM_STAGES.get(task.form_key or "")
    if stage is None:
        raise NotFound(f"task {task_id} is not a triage or dispatch task")
    task, case = actions.workbench_task(user, task_id, stage)
    photos = cases.attachments(user, case.key)
    found = duplicates.possible_duplicates(user, case)
    grid_names, category_names = _names([case, *[d.case for d in found]])
    report: dict[str, Any] = {
        "task": task,
        "case": case,
        "stage": stage,
        "mine": task.status == TaskStatus.CLAIMED and task.assignee_id == user.id,
        "may_act": _may_act(user, task),
        "holder": _holder(task),
        "parked": tasks.why_parked(task),
        "photos": photos,
        "grid": grid_feature_of(case.grid_code),
        "grid_names": grid_names,
        "category_names": category_names,
        "reporter": case.reporter.display_name if case.reporter else None,
        "duplicates": found,
        "errors": {},
        "given": {},
    }
    if stage == "dispatch":
        proposal = tasks.task_data(task).get("proposal")
        report["picker"] = picker.build(case, proposal if isinstance(proposal, dict) else None)
        report["limit"] = category_limit(case)
    return report


def _may_act(user: User, task: HumanTask) -> bool:
    if task.status == TaskStatus.CLAIMED:
        return task.assignee_id == user.id
    return task.status == TaskStatus.READY and tasks.is_candidate(user, task)


def _holder(task: HumanTask) -> str | None:
    if task.status != TaskStatus.CLAIMED or task.assignee_id is None:
        return None
    holder = db.session.get(User, task.assignee_id)
    return holder.display_name if holder is not None else None


def _names(shown: list[Case]) -> tuple[dict[str, str], dict[str, str]]:
    """Names of the grids and categories of ``shown`` (categories in the page's language)."""
    grid_names, category_names = names_of(shown)
    if current_language() == "en":
        english = {code: name for code, name, name_en in category_choices() if name_en}
        category_names = {code: english.get(code, name) for code, name in category_names.items()}
    return grid_names, category_names


def _render(
    user: User, query: queue.QueueQuery, errors: dict[str, str], report: dict[str, Any] | None
) -> str:
    page = queue.search(user, query)
    cases_shown: list[Case] = [row.case for row in page["items"]]
    grid_names, category_names = _names(cases_shown)
    return render_template(
        "workbench/workbench.html",
        query=query,
        filter_errors=errors,
        page=page,
        grid_names=grid_names,
        category_names=category_names,
        grid_choices=grid_choices(user),
        category_choices=category_choices(),
        severities=SEVERITIES,
        channels=SOURCE_CHANNELS,
        report=report,
        page_url=lambda number: url_for("workbench.home", **query.as_args(page=number)),
        task_url=lambda task_id: url_for("workbench.task_page", task_id=task_id, **query.as_args()),
        action_url=lambda name, task_id: url_for(f"workbench.{name}", task_id=task_id, **query.as_args()),
        thumbnail_url=lambda photo: url_for(
            "attachments.AttachmentContent", attachment_id=photo.id, thumbnail="1"
        ),
        photo_url=lambda photo: url_for("attachments.AttachmentContent", attachment_id=photo.id),
        case_url=lambda key: url_for("supervisor.case_page", key=key),
    )
