"""Admin console routes: thin (the admin → one service call → render or redirect). A refused form comes back
with each field's reason beside it (422) and nothing written; a user that does not exist is a 404 page."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth import accounts as account_services
from app.auth import resets
from app.auth.models import User
from app.cases.models import Case
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.grids import members
from app.tasks import services as tasks
from app.tasks.holders import open_tasks_of, reassign_candidates
from app.web.admin import action_labels, audit_log, bp, users
from app.web.admin.access import admin_page
from app.web.admin.accounts import (
    AccountForm,
    AccountRefused,
    assignable_levels,
    create_account,
    edit_account,
    grid_options,
    role_choices,
)
from app.web.errors import register_page_errors
from app.workflow.models import HumanTask

register_page_errors(bp)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    # Audit details as people read them: Chinese as Chinese, not \u escapes (the template escapes HTML).
    return {
        "as_json": lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True, default=str),
        "action_label": action_labels.action_label,
    }


# The console's sections, by path: the data half (app/web/admin_data) serves the last five.
SECTIONS = (
    ("users", "/admin/users"),
    ("audit", "/admin/audit"),
    ("grids", "/admin/grids"),
    ("units", "/admin/units"),
    ("categories", "/admin/categories"),
    ("plans", "/admin/plans"),
    ("holidays", "/admin/holidays"),
)


@bp.route("/")
@admin_page
def home(admin: User) -> ResponseReturnValue:
    counts = dict(db.session.execute(select(User.active, func.count()).group_by(User.active)).all())
    return render_template(
        "admin/home.html",
        sections=SECTIONS,
        active_users=counts.get(True, 0),
        inactive_users=counts.get(False, 0),
        audit_total=db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
    )


# -- users -------------------------------------------------------------------------------------------------


@bp.route("/users")
@admin_page
def user_list(admin: User) -> ResponseReturnValue:
    try:
        query, errors = users.parse_args(request.args.to_dict()), {}
    except InvalidInput as exc:
        query, errors = users.UserQuery(dict(users.DEFAULTS)), {k: str(v) for k, v in exc.details.items()}
    page = users.search(query)
    return render_template(
        "admin/users.html",
        query=query,
        filter_errors=errors,
        page=page,
        roles=role_choices(),
        grid_choices=grid_options(None),
        units=users.unit_choices(),
        unit_names=users.unit_names(),
        page_url=lambda number: url_for("admin.user_list", **query.as_args(page=number)),
    ), (422 if errors else 200)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_page
def user_new(admin: User) -> ResponseReturnValue:
    form = AccountForm(role="grid_worker")
    if request.method == "POST":
        form = AccountForm.read(request.form)
        try:
            user = create_account(admin, form)
        except AccountRefused as exc:
            db.session.rollback()
            flash(_("Please correct the marked fields."), "error")
            return _account_form(None, form, exc.errors), 422
        db.session.commit()
        flash(_("User %(name)s created.", name=user.username), "success")
        return redirect(url_for("admin.user_page", username=user.username))
    return _account_form(None, form, {})


@bp.route("/users/<username>")
@admin_page
def user_page(admin: User, username: str) -> ResponseReturnValue:
    user = account_services.get_user(username)
    return _user_page(admin, user, AccountForm.of(user), {})


@bp.route("/users/<username>", methods=["POST"])
@admin_page
def user_edit(admin: User, username: str) -> ResponseReturnValue:
    user = account_services.get_user(username)
    form = AccountForm.read(request.form)
    try:
        changed = edit_account(admin, user, form)
    except AccountRefused as exc:
        db.session.rollback()
        user = account_services.get_user(username)
        flash(_("Please correct the marked fields."), "error")
        return _user_page(admin, user, form, exc.errors), 422
    db.session.commit()
    flash(_("Saved.") if changed else _("Nothing changed."), "success" if changed else "info")
    return redirect(url_for("admin.user_page", username=user.username))


@bp.route("/users/<username>/deactivate", methods=["POST"])
@admin_page
def user_deactivate(admin: User, username: str) -> ResponseReturnValue:
    user = account_services.get_user(username)
    reason = request.form.get("reason", "").strip()
    if len(reason) > 500:
        return _refused_action(admin, user, {"reason": _("At most %(n)s characters.", n=500)})
    try:
        revoked = account_services.deactivate(user, admin, reason or None)
    except InvalidInput as exc:
        return _refused_action(admin, user, {"deactivate": exc.message})
    db.session.commit()
    flash(
        _(
            "%(name)s is deactivated: they cannot sign in, %(n)s API tokens were revoked.",
            name=user.username,
            n=revoked,
        ),
        "success",
    )
    return redirect(url_for("admin.user_page", username=user.username))


@bp.route("/users/<username>/reactivate", methods=["POST"])
@admin_page
def user_reactivate(admin: User, username: str) -> ResponseReturnValue:
    user = account_services.get_user(username)
    account_services.reactivate(user, admin)
    db.session.commit()
    flash(_("%(name)s is active again and may sign in.", name=user.username), "success")
    return redirect(url_for("admin.user_page", username=user.username))


@bp.route("/users/<username>/password-reset", methods=["POST"])
@admin_page
def user_password_reset(admin: User, username: str) -> ResponseReturnValue:
    """Issue a one-time reset and show it on this answer only (never in a flash or a redirect's URL)."""
    user = account_services.get_user(username)
    try:
        code, row = resets.issue_reset(user, admin)
    except InvalidInput as exc:
        return _refused_action(admin, user, {"reset": exc.message})
    db.session.commit()
    issued = {
        "code": code,
        "url": url_for("password_reset.form", code=code, _external=True),
        "expires_at": row.expires_at,
    }
    response = _user_page(admin, user, AccountForm.of(user), {}, issued=issued)
    return response, 200, {"Cache-Control": "no-store"}


def _refused_action(admin: User, user: User, errors: dict[str, str]) -> ResponseReturnValue:
    db.session.rollback()
    user = account_services.get_user(user.username)
    flash(_("Please correct the marked fields."), "error")
    return _user_page(admin, user, AccountForm.of(user), errors), 422


@bp.route("/users/<username>/tasks/<int:task_id>/reassign", methods=["POST"])
@admin_page
def task_reassign(admin: User, username: str, task_id: int) -> ResponseReturnValue:
    """Hand one of the user's open tasks to someone else (the task service the API's reassign uses)."""
    user = account_services.get_user(username)
    if task_id not in {task.id for task in open_tasks_of(user)}:
        raise NotFound(f"{username} holds no open task {task_id}")
    target = request.form.get("assignee", "").strip()[:64]
    try:
        tasks.reassign(admin, task_id, target, _("The holder was deactivated.") if not user.active else None)
    except InvalidInput:
        return _refused_action(admin, user, {f"task-{task_id}": _("Choose someone from the list.")})
    except Conflict:
        db.session.rollback()
        flash(_("Someone else has already worked on this task."), "warning")
        return redirect(url_for("admin.user_page", username=user.username))
    db.session.commit()
    flash(_("Task %(id)s handed to %(name)s.", id=task_id, name=target), "success")
    return redirect(url_for("admin.user_page", username=user.username))


# -- audit log ---------------------------------------------------------------------------------------------


@bp.route("/audit")
@admin_page
def audit(admin: User) -> ResponseReturnValue:
    try:
        query, errors = audit_log.parse_args(request.args.to_dict()), {}
    except InvalidInput as exc:
        query, errors = (
            audit_log.AuditQuery(dict(audit_log.DEFAULTS)),
            {k: str(v) for k, v in exc.details.items()},
        )
    page = audit_log.search(query)
    return render_template(
        "admin/audit.html",
        query=query,
        filter_errors=errors,
        page=page,
        usernames=audit_log.usernames_of(page["items"]),
        page_url=lambda number: url_for("admin.audit", **query.as_args(page=number)),
    ), (422 if errors else 200)


# -- what the pages show -----------------------------------------------------------------------------------


def _account_form(user: User | None, form: AccountForm, errors: dict[str, str]) -> str:
    return render_template(
        "admin/user_new.html",
        form=form,
        errors=errors,
        roles=role_choices(),
        grid_choices=grid_options(user),
        units=users.unit_choices(),
        levels=assignable_levels(),
    )


def _user_page(
    admin: User, user: User, form: AccountForm, errors: dict[str, str], issued: dict[str, Any] | None = None
) -> str:
    open_tasks = open_tasks_of(user)
    case_ids = {task.case_id for task in open_tasks if task.case_id is not None}
    case_keys = (
        dict(db.session.execute(select(Case.id, Case.key).where(Case.id.in_(case_ids))).all())
        if case_ids
        else {}
    )
    return render_template(
        "admin/user.html",
        user=user,
        is_self=user.id == admin.id,
        form=form,
        errors=errors,
        roles=role_choices(),
        grid_choices=grid_options(user),
        grids=members.user_grids(user),
        units=users.unit_choices(),
        unit_names=users.unit_names(),
        levels=assignable_levels(),
        open_tasks=open_tasks,
        task_url=lambda task: _task_url(task, case_keys),
        candidates={
            task.id: [(name, label) for name, label in reassign_candidates(task) if name != user.username]
            for task in open_tasks
        },
        case_keys=case_keys,
        events=audit_log.events_about_user(user.id, user.username),
        issued=issued,
    )


def _task_url(task: HumanTask, case_keys: dict[int, str]) -> str:
    """Where a task is reassigned: its case's page (the supervisor's reassign action), else its task page."""
    if task.case_id is not None and task.case_id in case_keys:
        return url_for("supervisor.case_page", key=case_keys[task.case_id])
    return url_for("web.worker_task", task_id=task.id)
