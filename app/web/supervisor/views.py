"""Supervisor routes: thin (who is asking → one service call → render or JSON). Services are next door:
``case_list``, ``timeline``, ``diagram``, ``photos``, ``dashboard``."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.auth.models import User
from app.errors import InvalidInput
from app.extensions import db
from app.tasks.supervision import SupervisionRefused, supervised_case
from app.web.errors import register_page_errors
from app.web.review_panel import panel_context
from app.web.supervisor import actions, bp, case_list, dashboard, diagram, labels, photos, timeline
from app.web.supervisor.access import reads_kpis, supervisor_json, supervisor_page

register_page_errors(bp)
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 2, 600


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"labels": labels}


@bp.route("/")
@supervisor_page
def home(user: User) -> ResponseReturnValue:
    return redirect(url_for("supervisor.cases"))


@bp.route("/cases")
@supervisor_page
def cases(user: User) -> ResponseReturnValue:
    try:
        query = case_list.parse_args(request.args.to_dict())
    except InvalidInput as exc:
        # The filter form comes back with the reason beside each refused field; no results.
        return _render_list(user, case_list.CaseListQuery(), None, exc.details, request.args.to_dict()), 422
    return _render_list(user, query, case_list.search(user, query), {}, request.args.to_dict())


def _render_list(
    user: User,
    query: case_list.CaseListQuery,
    page: dict[str, Any] | None,
    errors: dict[str, str],
    given: dict[str, str],
) -> str:
    items = page["items"] if page else []
    grid_names, category_names = case_list.names_of(items)
    return render_template(
        "supervisor/cases.html",
        query=query,
        given=given,
        page=page,
        errors=errors,
        grid_names=grid_names,
        category_names=category_names,
        grid_choices=case_list.grid_choices(user),
        category_choices=case_list.category_choices(),
        page_url=lambda number: url_for("supervisor.cases", **{**query.as_args(), "page": number}),
    )


@bp.route("/cases/<key>")
@supervisor_page
def case_page(user: User, key: str) -> ResponseReturnValue:
    return _render_case(user, key)


def _render_case(user: User, key: str, refused: actions.ActionsPanel | None = None) -> str:
    trail = timeline.build(user, key)
    case = trail.case
    grid_names, category_names = case_list.names_of([case])
    return render_template(
        "supervisor/case.html",
        trail=trail,
        case=case,
        grid_name=grid_names.get(case.grid_code or ""),
        category_name=category_names.get(case.category_code or ""),
        photos=photos.before_and_after(user, key),
        # The supervisor's actions (supervisors and admins only) and, once handled, the reviewer's context.
        actions_panel=refused or (actions.panel(case) if actions.may_act(user) else None),
        **(panel_context(user, case) if case.handled_at is not None or case.status == "review" else {}),
    )


@bp.route("/cases/<key>/actions/<action>", methods=["POST"])
@supervisor_page
def case_action(user: User, key: str, action: str) -> ResponseReturnValue:
    """One of the case page's supervisor actions (a form post); refused input comes back next to its field
    with status 422 and nothing changed."""
    if action not in actions.ACTIONS or not actions.may_act(user):
        abort(404)
    form = request.form.to_dict()
    try:
        message = actions.perform(user, key, action, form)
    except SupervisionRefused as exc:
        db.session.rollback()
        case = supervised_case(user, key)
        refused = actions.panel(case)
        refused.action, refused.given = action, form
        refused.errors = {exc.field: actions.refusal_text(exc)}
        return _render_case(user, key, refused), 422
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("supervisor.case_page", key=key, _anchor="case-actions"))


@bp.route("/cases/<key>/diagram.json")
@supervisor_json
def case_diagram(user: User, key: str) -> ResponseReturnValue:
    """The instance's BPMN XML with its completed and active element ids (the case page draws it)."""
    return jsonify(diagram.diagram_state(user, key))


@bp.route("/dashboard")
@supervisor_page
def dashboard_page(user: User) -> ResponseReturnValue:
    refresh = request.args.get("refresh", type=int) or dashboard.DEFAULT_REFRESH_SECONDS
    return render_template(
        "supervisor/dashboard.html",
        refresh_seconds=min(max(refresh, MIN_REFRESH_SECONDS), MAX_REFRESH_SECONDS),
        reads_kpis=reads_kpis(user),
    )


@bp.route("/dashboard/data.json")
@supervisor_json
def dashboard_data(user: User) -> ResponseReturnValue:
    """What the dashboard polls: markers, counts, overdue list, KPIs and trend over the user's cases."""
    return jsonify(dashboard.snapshot(user))


@bp.route("/dashboard/grids.json")
@supervisor_json
def dashboard_grids(user: User) -> ResponseReturnValue:
    """The user's communities and grids as GeoJSON, the map's backdrop."""
    return jsonify(dashboard.grid_polygons(user))
