"""Decision table pages (designers and admins): the list of tables, a table's versions, the dmn-js editor
(open a version, edit, validate, deploy as the next version) and a new table from an empty one.

The editor writes through the JSON routes below (``fetch`` with the ``X-CSRFToken`` header); the deploy is
the API's service. A deployed table decides for the instances that start after it
(``app.workflow.decisions``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template, request, url_for
from flask_login import current_user

from app.errors import NotFound
from app.extensions import db
from app.processes import services as processes
from app.web.designer import bp, decision_tables, diagrams, publish_views
from app.web.designer.views import _json_text, _usernames, _version_arg
from app.web.security import allow_inline_style_attributes, allow_inline_style_elements
from app.workflow import deploy
from app.workflow.models import ProcessDefinition


def _table(key: str, version: int | None = None) -> ProcessDefinition:
    """A DMN version of ``key`` (the newest when ``version`` is None); NotFound otherwise."""
    versions = [v for v in processes.definition_versions(key) if v.kind == "dmn"]
    chosen = [v for v in versions if version is None or v.version == version]
    if not chosen:
        raise NotFound(
            f"decision table '{key}' has no version {version}" if version else f"unknown table '{key}'"
        )
    return chosen[0]


@bp.route("/decisions")
def decision_list() -> Any:
    return render_template("designer/decisions.html", tables=decision_tables.tables())


@bp.route("/decisions/<key>")
def decision_versions(key: str) -> Any:
    versions = [v for v in processes.definition_versions(key) if v.kind == "dmn"]
    if not versions:
        raise NotFound(f"unknown table '{key}'")
    bound = decision_tables.bound_running([v.id for v in versions])
    return render_template(
        "designer/decision_versions.html",
        key=key,
        latest=versions[0],
        versions=versions,
        deployers=_usernames({v.deployed_by_id for v in versions if v.deployed_by_id is not None}),
        bound=bound,
        callers=decision_tables.callers(key),
        **publish_views.page_context(key, versions, bound),
    )


def _editor(**context: Any) -> Any:
    allow_inline_style_attributes("dmn-js writes style attributes into the table and its context menus")
    allow_inline_style_elements("dmn-js's expression editors (CodeMirror) inject their <style> elements")
    return render_template("designer/decision_editor.html", **context)


@bp.route("/decisions/<key>/edit")
def decision_editor(key: str) -> Any:
    table = _table(key, _version_arg("version"))
    return _editor(
        table=table,
        latest=_table(key),
        xml_url=url_for("designer.decision_xml", key=key, version=table.version),
        callers=decision_tables.callers(key),
    )


@bp.route("/decisions/new", methods=["GET", "POST"])
def new_decision() -> Any:
    """GET: the form (key and name). POST: the editor on an empty table (nothing stored until the deploy)."""
    if request.method == "GET":
        return render_template("designer/decision_new.html", key="", name="")
    key = request.form.get("key", "").strip()
    name = request.form.get("name", "").strip()
    xml = decision_tables.empty_table(key, name)
    return _editor(table=None, new_key=key, new_name=name, empty_xml=xml, callers=[])


@bp.route("/decisions/<key>/versions/<int:version>.dmn")
def decision_xml(key: str, version: int) -> Any:
    _table(key, version)
    return Response(deploy.definition_xml(key, version), mimetype="application/xml")


def _file_name(key: str) -> str:
    existing = decision_tables.newest(key)
    return existing.file_name if existing is not None else f"{key}.dmn"


@bp.route("/decisions/<key>/validate", methods=["POST"])
def validate_decision(key: str) -> Any:
    """``{valid: true, decisions}`` or ``{valid: false, problems}`` (both 200); stores nothing."""
    xml = _json_text("xml")
    try:
        found = decision_tables.validate(key, _file_name(key), xml)
    except diagrams.DiagramRejected as exc:
        db.session.rollback()
        return jsonify(valid=False, problems=[p.as_dict() for p in exc.problems])
    db.session.rollback()  # validation reads only
    return jsonify(valid=True, decisions=found, problems=[])


@bp.route("/decisions/<key>/deploy", methods=["POST"])
def deploy_decision(key: str) -> Any:
    """Deploy as the next version: 201 ``{created, key, version, edit_url}``, 200 for the same bytes as an
    existing version, 422 with ``details.problems``."""
    if decision_tables.newest(key) is None:
        decision_tables.empty_table(key, "-")  # a new table: a valid key that nothing uses yet
    result = decision_tables.deploy_table(
        key, _file_name(key), _json_text("xml"), current_user._get_current_object()
    )
    db.session.commit()
    definition = result.definition
    body = {
        "created": result.created,
        "key": definition.key,
        "version": definition.version,
        "versions_url": url_for("designer.decision_versions", key=definition.key),
        "edit_url": url_for("designer.decision_editor", key=definition.key, version=definition.version),
    }
    return jsonify(body), 201 if result.created else 200
