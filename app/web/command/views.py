"""Command centre routes: thin (who is asking → one service call → render, redirect or JSON).

The board updates itself by polling ``/command/emergencies/<key>/live`` (JSON) with ``If-None-Match``, not by
server-sent events: an open SSE stream holds one gunicorn sync worker per watching screen (two by default),
while a poll is a short request any worker answers; a poll whose ETag still matches is a 304 without a body,
cheap on weak networks, and a failed poll is simply retried later (the page says the board is not current).
The CSP is unaffected either way (same origin)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import pgettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.emergency import plans as plan_library
from app.emergency import services as emergencies
from app.emergency.models import Emergency, EmergencyPlan, EmergencyStatus
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.http import paginate
from app.idempotency import form_key, idempotent
from app.inputs import INT_MAX
from app.tasks import services as tasks
from app.web.command import board as boards
from app.web.command import bp, labels, launch, steps, updates
from app.web.command.access import command_json, command_page, command_user, may_launch
from app.web.errors import register_page_errors
from app.web.i18n import current_language
from app.web.process_context import unit_names
from app.web.supervisor.case_list import names_of

register_page_errors(bp)
PAGE_SIZE = 20
POLL_SECONDS = 5
LIST_TABS = ("open", "all")
OPEN_STATUSES = (EmergencyStatus.ACTIVE, EmergencyStatus.CONTROLLED)


@bp.context_processor
def _context() -> dict[str, Any]:
    return {"cc_labels": labels, "duration_text": boards.duration_text}


def _page_number() -> int:
    return min(max(request.args.get("page", 1, type=int) or 1, 1), INT_MAX)  # past the end: an empty page


# -- the emergencies ---------------------------------------------------------------------------------


@bp.route("/")
@command_page
def home(user: User) -> ResponseReturnValue:
    tab = request.args.get("show", "open")
    tab = tab if tab in LIST_TABS else "open"
    query = emergencies.list_emergencies(user).options(selectinload(Emergency.responders))
    if tab == "open":
        query = query.where(Emergency.status.in_(OPEN_STATUSES))
    page = paginate(query, _page_number(), PAGE_SIZE)
    shown = [e.case for e in page["items"]]
    grid_names, _categories = names_of(shown)
    plan_names = {
        p.code: _plan_name(p)
        for p in db.session.execute(
            select(EmergencyPlan).where(EmergencyPlan.code.in_({e.plan_code for e in page["items"]}))
        ).scalars()
    }
    return render_template(
        "command/list.html",
        tab=tab,
        tabs=LIST_TABS,
        page=page,
        grid_names=grid_names,
        plan_names=plan_names,
        may_launch=may_launch(user),
        page_url=lambda number: url_for("command.home", show=tab, page=number),
    )


# -- the plan library and launching ------------------------------------------------------------------


def _plan_name(plan: EmergencyPlan) -> str:
    return plan.name_en if current_language() == "en" and plan.name_en else plan.name


def _active_plan(code: str) -> EmergencyPlan:
    plan = plan_library.find_plan(code)
    if plan is None:
        raise NotFound(f"no active emergency plan {code!r}")
    return plan


@bp.route("/plans")
@command_page
def plan_list(user: User) -> ResponseReturnValue:
    page = paginate(plan_library.list_plans(True), _page_number(), PAGE_SIZE)
    codes = {r["unit_code"] for p in page["items"] for r in p.responders if r.get("unit_code")}
    return render_template(
        "command/plans.html",
        page=page,
        plan_name=_plan_name,
        unit_names=unit_names(codes),
        may_launch=may_launch(user),
        page_url=lambda number: url_for("command.plan_list", page=number),
    )


def _launch_form(
    plan: EmergencyPlan, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "command/launch.html",
            plan=plan,
            plan_name=_plan_name(plan),
            unit_names=unit_names({r["unit_code"] for r in plan.responders if r.get("unit_code")}),
            values=values,
            errors=errors,
            # One key per filled form: a double click launches one emergency, not two.
            idempotency_key=values.get("idempotency_key") or uuid.uuid4().hex,
        ),
        status,
    )


@bp.route("/plans/<code>/launch", methods=["GET", "POST"])
@command_page
@idempotent(command_user, form_key)
def launch_plan(user: User, code: str) -> ResponseReturnValue:
    plan = _active_plan(code)
    if not may_launch(user):
        raise Forbidden(f"a {user.role} cannot launch emergency plans")
    if request.method == "GET":
        return _launch_form(plan, {}, {})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        emergency = launch.launch(user, plan, request.form)
    except launch.LaunchRefused as exc:
        db.session.rollback()
        return _launch_form(plan, values, exc.errors, 422)
    key = emergency.case.key
    db.session.commit()
    flash(
        pgettext("command", "Plan “%(plan)s” launched: %(key)s.", plan=_plan_name(plan), key=key), "success"
    )
    return redirect(url_for("command.board", key=key))


# -- the live board ----------------------------------------------------------------------------------


def _board_page(board: boards.Board, user: User, status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "command/board.html",
            board=board,
            poll_seconds=POLL_SECONDS,
            may_update=updates.may_post(user, board),
            update_key=uuid.uuid4().hex,  # one update per filled form, however often it is sent
        ),
        status,
    )


@bp.route("/emergencies/<key>")
@command_page
def board(user: User, key: str) -> ResponseReturnValue:
    return _board_page(boards.build(user, key), user)


LIVE_PARTS = ("summary", "responders", "timings", "updates", "steps")


def live_parts(board: boards.Board) -> dict[str, str]:
    return {name: render_template(f"command/_{name}.html", board=board, poll=True) for name in LIVE_PARTS}


@bp.route("/emergencies/<key>/live")
@command_json
def live(user: User, key: str) -> ResponseReturnValue:
    """The board's changing parts as HTML (the same templates as the page) with the server's clock; 304
    while nothing shown changed. ``steps_key`` tells the page when to redraw the steps (and their forms)."""
    board = boards.build(user, key)
    parts = live_parts(board)
    tag = boards.digest({**parts, "steps_key": board.steps_key})
    # Weak: the same parts compressed or not are the same board (app/compression.py leaves a weak tag alone).
    headers = {
        "ETag": f'W/"{tag}"',
        "Cache-Control": "no-cache",
        "X-Board-Now": board.now.isoformat(timespec="seconds"),
    }
    if request.if_none_match.contains_weak(tag):
        return Response(status=304, headers=headers)
    body = json.dumps(
        {"parts": parts, "steps_key": board.steps_key, "now": board.now.isoformat(timespec="seconds")}
    )
    return Response(body, status=200, mimetype="application/json", headers=headers)


@bp.route("/emergencies/<key>/steps/<int:task_id>", methods=["POST"])
@command_page
def complete_step(user: User, key: str, task_id: int) -> ResponseReturnValue:
    _emergency, case = emergencies.get_emergency(user, key)
    task = steps.step_task(user, case, task_id)
    name = dict(steps.STEPS)[task.element_id]
    try:
        tasks.complete(user, task_id, steps.form_data(task, request.form))
    except tasks.FormDataInvalid as exc:
        db.session.rollback()
        board = boards.build(user, key)
        language = "en" if current_language() == "en" else "zh-CN"
        for step in board.steps:
            if step.task is not None and step.task.id == task_id:
                step.errors = {e["field"] or "data": e["messages"][language] for e in exc.field_errors}
                step.given = {k: v for k, v in request.form.items() if k != "csrf_token"}
        flash(pgettext("command", "Please correct the marked fields."), "error")
        return _board_page(board, user, 422)
    except Conflict:
        db.session.rollback()
        flash(pgettext("command", "Someone else has already done this step."), "warning")
        return redirect(url_for("command.board", key=key))
    db.session.commit()
    flash(pgettext("command", "“%(step)s” done.", step=str(name)), "success")
    return redirect(url_for("command.board", key=key))


@bp.route("/emergencies/<key>/updates", methods=["POST"])
@command_page
@idempotent(command_user, form_key)
def post_update(user: User, key: str) -> ResponseReturnValue:
    try:
        updates.post(user, key, request.form, request.files.getlist("photos"))
    except updates.UpdateRefused as exc:
        db.session.rollback()
        board = boards.build(user, key)
        board.update_errors = exc.errors
        board.update_given = {"note": request.form.get("note", "")}
        return _board_page(board, user, 422)
    db.session.commit()
    flash(pgettext("command", "On-scene update posted."), "success")
    return redirect(url_for("command.board", key=key))
