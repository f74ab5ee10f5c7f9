"""Supervisor routes: thin (who is asking → one service call → render or JSON). Services are next door:
``case_list``, ``timeline``, ``diagram``, ``photos``, ``dashboard``."""

from __future__ import annotations

from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.auth.models import User
from app.errors import InvalidInput
from app.web.errors import register_page_errors
from app.web.supervisor import bp, case_list, dashboard, diagram, labels, photos, timeline
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
    trail = timeline.build(user, key)
    grid_names, category_names = case_list.names_of([trail.case])
    return render_template(
        "supervisor/case.html",
        trail=trail,
        case=trail.case,
        grid_name=grid_names.get(trail.case.grid_code or ""),
        category_name=category_names.get(trail.case.category_code or ""),
        photos=photos.before_and_after(user, key),
    )


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
