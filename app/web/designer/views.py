"""Designer pages (designers and admins): processes and versions, the modeler, the form editor, the diff.

Pages are GETs rendering templates; the modeler and the form editor write through the JSON routes below
(``fetch`` with the ``X-CSRFToken`` header), which call the same services as the REST API.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.models import User
from app.auth.roles import DESIGNERS
from app.errors import InvalidInput, NotFound
from app.extensions import db, login_manager
from app.processes import services as processes
from app.web.designer import bp, diagrams, forms, publish_views
from app.web.security import allow_inline_style_attributes
from app.workflow import deploy
from app.workflow.models import ProcessDefinition


@bp.before_request
def _designers_only() -> Any:
    """Anonymous: to the sign-in page. Signed in without a designer role: 403. Static files are public."""
    if request.endpoint == "designer.static":
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in DESIGNERS:
        abort(403, description="designers and administrators only")
    return None


def _json_text(field: str, *, required: bool = True) -> str:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", {"body": "expected a JSON object"})
    value = body.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} is missing", {field: "expected a string"})
    return value


# --- processes ------------------------------------------------------------------------------------


@bp.route("/")
def home() -> Any:
    return redirect(url_for("designer.process_list"))


@bp.route("/processes")
def process_list() -> Any:
    return render_template("designer/processes.html", processes=processes.process_summaries())


@bp.route("/processes/<key>")
def process_versions(key: str) -> Any:
    versions = processes.with_running_counts(processes.definition_versions(key))
    deployers = _usernames({v.deployed_by_id for v in versions if v.deployed_by_id is not None})
    return render_template(
        "designer/versions.html",
        key=key,
        versions=versions,
        latest=versions[0],
        deployers=deployers,
        **publish_views.page_context(key, versions),
    )


def _usernames(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {user_id: username for user_id, username in rows}


def _definition(key: str, version: int | None = None) -> ProcessDefinition:
    """A BPMN version of ``key`` (newest when ``version`` is None); NotFound otherwise."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.kind == "bpmn")
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    definition = db.session.execute(
        query.order_by(ProcessDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()
    if definition is None:
        raise NotFound(
            f"process '{key}' has no BPMN version {version}" if version else f"unknown process '{key}'"
        )
    return definition


def _version_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"bad {name}", {name: "expected a version number (1, 2, …)"})
    return int(raw)


@bp.route("/processes/<key>/edit")
def modeler(key: str) -> Any:
    definition = _definition(key, _version_arg("version"))
    latest = _definition(key)
    allow_inline_style_attributes(
        "bpmn-js writes style attributes into the SVG of the diagram and its palette"
    )
    return render_template("designer/modeler.html", definition=definition, latest=latest)


@bp.route("/processes/<key>/versions/<int:version>.bpmn")
def version_xml(key: str, version: int) -> Any:
    return Response(deploy.definition_xml(key, version), mimetype="application/xml")


@bp.route("/processes/<key>/validate", methods=["POST"])
def validate_diagram(key: str) -> Any:
    """``{valid, processes, problems}`` (``problems`` are warnings then) or ``{valid: false, problems}``:
    every problem at once, each ``{message, element_id, element_name, line, severity}`` (both 200: the
    validation itself succeeded). Stores nothing."""
    definition = _definition(key)
    xml = _json_text("xml")
    try:
        keys, warnings = diagrams.validate_diagram(definition, xml)
    except diagrams.DiagramRejected as exc:
        db.session.rollback()
        return jsonify(valid=False, problems=[p.as_dict() for p in exc.problems])
    db.session.rollback()  # validation reads only; leave nothing behind
    return jsonify(valid=True, processes=keys, problems=[w.as_dict() for w in warnings])


@bp.route("/processes/<key>/deploy", methods=["POST"])
def deploy_diagram(key: str) -> Any:
    """Deploy the edited XML as the next version: 201 ``{created, key, version, versions_url}``, 200 when the
    same bytes are an existing version, 422 with ``details.problems`` when the diagram is refused."""
    definition = _definition(key)
    result = diagrams.deploy_diagram(definition, _json_text("xml"), actor=current_user._get_current_object())
    db.session.commit()
    body = {
        "created": result.created,
        "key": result.key,
        "version": result.version,
        "versions_url": url_for("designer.process_versions", key=result.key),
        "edit_url": url_for("designer.modeler", key=result.key, version=result.version),
    }
    return jsonify(body), 201 if result.created else 200


# --- forms ----------------------------------------------------------------------------------------


@bp.route("/forms")
def form_list() -> Any:
    return render_template("designer/forms.html", names=forms.form_names(), uses=forms.form_uses())


@bp.route("/forms/new")
def new_form() -> Any:
    """The list page's "new form" box: a name, then the editor on it (the file exists once saved)."""
    name = (request.args.get("name") or "").strip()
    if name and not name.endswith(forms.SCHEMA_SUFFIX):
        name += forms.SCHEMA_SUFFIX
    forms.load_form_source(name, allow_new=True)  # NotFound for a name that is not a form name
    return redirect(url_for("designer.form_editor", name=name))


@bp.route("/forms/<name>")
def form_editor(name: str) -> Any:
    source = forms.load_form_source(name, allow_new=True)
    allow_inline_style_attributes(
        "json-editor sets style attributes on checkboxes and visually hidden labels"
    )
    return render_template(
        "designer/form_editor.html",
        form=source,
        uses=forms.definitions_using(name),
        versions=forms.form_history(source),
    )


@bp.route("/forms/<name>/check", methods=["POST"])
def check_form(name: str) -> Any:
    """The editor's live check of the schema itself: ``{valid, problems: [{document, message}]}``."""
    forms.load_form_source(name, allow_new=True)
    problems, _schema = forms.check_form(_json_text("schema"), _json_text("uischema", required=False))
    return jsonify(
        valid=not problems, problems=[{"document": p.document, "message": p.message} for p in problems]
    )


@bp.route("/forms/<name>", methods=["POST"])
def save_form(name: str) -> Any:
    """Save ``{schema, uischema, base_hash}``: 200 ``{created, changed, version_hash}``, 422 with
    ``details.problems``, 409 when the form changed since the editor opened it."""
    saved = forms.save_form(
        name,
        _json_text("schema"),
        _json_text("uischema", required=False),
        _json_text("base_hash"),
        actor=current_user._get_current_object(),
    )
    db.session.commit()
    return jsonify(created=saved.created, changed=saved.changed, version_hash=saved.version_hash)
