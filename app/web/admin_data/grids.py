"""``/admin/grids``: the tree, one grid's page (path, children, members, the units serving it, its outline
on the map), the GeoJSON import with its progress and rejection report, and the export."""

from __future__ import annotations

import json

from flask import Response, current_app, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.auth.models import User
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.grids import members, services
from app.grids.codes import code_problem, path_codes
from app.grids.models import Grid
from app.http import paginate
from app.units.services import units_serving
from app.web.admin_data import bp, tree
from app.web.admin_data.access import admin_page
from app.web.admin_data.grid_import import Outcome, run_import, stream_import
from app.web.admin_data.paging import page_number
from app.web.geo import grid_feature

STREAM = "application/x-ndjson"
CHILDREN_PAGE_SIZE = 50


@bp.route("/grids")
@admin_page
def grids_home(user: User) -> ResponseReturnValue:
    return render_template("admin_data/grids.html", roots=tree.grid_tree(), counts=tree.count_by_level())


def _grid_or_404(code: str) -> Grid:
    if code_problem(code) is not None:
        raise NotFound(f"no grid with code {code}", {"code": "unknown"})
    return services.get_grid(code)


@bp.route("/grids/<code>")
@admin_page
def grid_page(user: User, code: str) -> ResponseReturnValue:
    grid = _grid_or_404(code)
    page = paginate(
        select(Grid).where(Grid.parent_id == grid.id).order_by(Grid.code), page_number(), CHILDREN_PAGE_SIZE
    )
    path = db.session.execute(
        select(Grid.code, Grid.name).where(Grid.code.in_(path_codes(grid.code)[:-1])).order_by(Grid.code)
    ).all()
    return render_template(
        "admin_data/grid.html",
        grid=grid,
        path=path,
        children=page,
        people=members.grid_members(grid.code),
        units=units_serving(grid.code),
        feature=grid_feature(grid),
    )


@bp.route("/grids/export.geojson")
@admin_page
def grids_export(user: User) -> ResponseReturnValue:
    """The tree (or ``?root=``'s subtree) as the GeoJSON the import reads, as a download."""
    root = request.args.get("root") or None
    if root is not None:
        _grid_or_404(root)
    collection = services.export_geojson(root)
    name = f"grids-{root or 'all'}.geojson"
    return Response(
        json.dumps(collection, ensure_ascii=False),
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/grids/import", methods=["GET"])
@admin_page
def grids_import_form(user: User) -> ResponseReturnValue:
    return render_template("admin_data/grid_import.html", outcome=None, errors={})


@bp.route("/grids/import", methods=["POST"])
@admin_page
def grids_import(user: User) -> ResponseReturnValue:
    """With ``Accept: application/x-ndjson`` (the page's script) the answer streams the progress and ends
    with the report; a plain form post gets the page with the report (422 when refused)."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("no file", {"file": "choose a GeoJSON file"})
        collection = services.parse_geojson_bytes(upload.read())
    except InvalidInput as exc:
        db.session.rollback()
        return _import_page(("invalid", exc))
    if request.accept_mimetypes.best == STREAM:
        db.session.rollback()  # the import's own thread writes; this request holds no transaction open
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        lines = stream_import(app, collection, user.id, _report_html)
        return Response(stream_with_context(lines), mimetype=STREAM, headers={"X-Accel-Buffering": "no"})
    return _import_page(run_import(collection, user))


def _import_page(outcome: Outcome) -> ResponseReturnValue:
    status = 201 if outcome[0] == "done" else 500 if outcome[0] == "failed" else 422
    return render_template("admin_data/grid_import.html", outcome=outcome, errors=_errors(outcome)), status


def _errors(outcome: Outcome) -> dict[str, str]:
    if outcome[0] != "invalid":
        return {}
    details = outcome[1].details
    return {
        "file": "; ".join(str(v) for v in details.values()) if isinstance(details, dict) else str(details)
    }


def _report_html(outcome: Outcome) -> str:
    return render_template("admin_data/_import_report.html", outcome=outcome, errors=_errors(outcome))
