"""发起流程 in the pages (phone first, like the task pages): the catalogue of processes the signed-in person
may start, a process's start form drawn as a task form is (``task_form_page``), its submission, and the
receipt. The rules are ``app.tasks.startable``'s, the same as the API's."""

from __future__ import annotations

import copy
from typing import Any

from flask import abort, flash, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case
from app.errors import Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.grids.models import Grid
from app.idempotency import idempotent
from app.tasks import services as tasks
from app.tasks import startable
from app.web.blueprint import bp
from app.web.labels import task_title
from app.web.worker import form_errors_response, task_form_page
from app.workflow.models import HumanTask, TaskStatus


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _startable_or_abort(user: User, key: str) -> startable.Startable:
    try:
        return startable.get_startable(user, key)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403, description=_("Your role may not start this process."))


def _grid_choices(codes: list[str]) -> list[dict[str, str]]:
    names = (
        dict(db.session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(codes))).all())
        if codes
        else {}
    )
    return [{"code": code, "name": names.get(code) or code} for code in codes]


@bp.route("/m/start/")
@login_required
def start_catalogue() -> ResponseReturnValue:
    user = _user()
    return render_template("start/catalogue.html", items=startable.startable_for(user))


@bp.route("/m/start/<key>")
@login_required
def start_form(key: str) -> ResponseReturnValue:
    user = _user()
    found = _startable_or_abort(user, key)
    document = startable.start_form_document(found)
    form = tasks.TaskForm(copy.deepcopy(document.schema), copy.deepcopy(document.ui_schema))
    return render_template(
        "start/form.html",
        process=found,
        grids=_grid_choices(startable.starter_grids(user)),
        form_page=task_form_page(form.schema, form.ui_schema, {}, []),
    )


@bp.route("/m/start/<key>", methods=["POST"])
@login_required
@idempotent(_user)
def start_submit(key: str) -> ResponseReturnValue:
    """``{"data": {...}, "grid_code": ...}`` (JSON, X-CSRFToken). 422 names each field that fails and starts
    nothing; the answer's ``redirect`` is the starter's first task of the new instance, else the receipt."""
    user = _user()
    _startable_or_abort(user, key)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise InvalidInput("send the form as JSON", {"data": "expected an object"})
    grid_code = body.get("grid_code") or None
    if grid_code is not None and not isinstance(grid_code, str):
        raise InvalidInput("bad grid", {"grid_code": "expected a grid code"})
    try:
        started = startable.start(user, key, body["data"], grid_code)
    except tasks.FormDataInvalid as exc:
        return form_errors_response(exc)
    db.session.commit()
    instance_id = started.instance.id
    if started.task is not None:
        flash(_("Started. Your next step: “%(name)s”.", name=task_title(started.task)), "success")
        target = url_for("web.worker_task", task_id=started.task.id)
    else:
        target = url_for("web.start_receipt", instance_id=instance_id)
    return jsonify(
        instance_id=instance_id, task_id=started.task.id if started.task else None, redirect=target
    )


@bp.route("/m/start/instances/<int:instance_id>")
@login_required
def start_receipt(instance_id: int) -> ResponseReturnValue:
    """What the starter sees of an instance they started: its process, state, case and open steps."""
    user = _user()
    try:
        instance = startable.started_by(user, instance_id)
    except NotFound:
        abort(404)
    case = db.session.get(Case, instance.case_id) if instance.case_id else None
    open_steps: list[Any] = list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status.in_(list(TaskStatus.OPEN)))
            .order_by(HumanTask.id)
        ).scalars()
    )
    return render_template(
        "start/receipt.html",
        instance=instance,
        process_name=instance.definition.name,
        case=case,
        open_steps=open_steps,
    )
