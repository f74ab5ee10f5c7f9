"""Importing a diagram file in the designer pages: a Camunda 7 Modeler file is converted first
(``app/processes/camunda.py``) and its report shown; then the designer deploys it, or downloads the converted
file to rewrite what the report asks for. Nothing is stored until the deploy, which is the API's."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import runtime
from app.errors import InvalidInput
from app.extensions import db
from app.processes import camunda
from app.processes import services as processes
from app.web.designer import bp
from app.workflow import deploy

FILE_FIELD = "file"


def _problem(exc: InvalidInput) -> dict[str, Any]:
    """A refused deploy's element and reason, for the page."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return {
        "element_id": details.get("element_id"),
        "reason": details.get("reason") or details.get("file") or exc.message,
    }


def _render(status: int = 200, **context: Any) -> Any:
    return render_template("designer/import.html", **context), status


@bp.route("/import", methods=["GET"])
def import_page() -> Any:
    return _render()


@bp.route("/import", methods=["POST"])
def import_upload() -> Any:
    """Convert (when Camunda) and check the uploaded file; show the report and what the deploy would say."""
    upload = request.files.get(FILE_FIELD)
    if upload is None or not upload.filename:
        return _render(422, field_error=_("Choose a .bpmn file."))
    file_name = upload.filename.rsplit("/", 1)[-1]
    try:
        result = camunda.convert(upload.read(), processes.camunda_vocabulary(runtime.deploy_rules()))
        xml = result.xml.decode("utf-8")
    except (camunda.NotADiagram, UnicodeDecodeError):
        return _render(422, field_error=_("This is not a BPMN 2.0 XML file."))
    problem = None
    try:
        deploy.validate_file(file_name, result.xml, runtime.deploy_rules())
    except InvalidInput as exc:
        problem = _problem(exc)
    db.session.rollback()  # checking reads only
    return _render(file_name=file_name, conversion=result, xml=xml, problem=problem)


@bp.route("/import/deploy", methods=["POST"])
def import_deploy() -> Any:
    file_name, xml = request.form.get("file_name", ""), request.form.get("xml", "")
    try:
        results = deploy.deploy_file(
            file_name, xml.encode("utf-8"), runtime.deploy_rules(), actor=current_user, publish=False
        )
    except InvalidInput as exc:
        db.session.rollback()
        return _render(422, file_name=file_name, xml=xml, problem=_problem(exc))
    db.session.commit()
    return redirect(url_for("designer.process_versions", key=results[0].definition.key))


@bp.route("/import/download", methods=["POST"])
def import_download() -> Any:
    file_name = request.form.get("file_name", "") or "diagram.bpmn"
    return Response(
        request.form.get("xml", ""),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )
