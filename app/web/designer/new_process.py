"""A new process from an empty diagram: the designer names a key, the modeler opens on a start event in a
process of that key, and the first deploy stores it as version 1 through the same service as every deploy.

Nothing is stored before that deploy; the key is checked when the page opens and again when deploying.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from flask import Response, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user
from sqlalchemy import exists, select

from app.errors import InvalidInput
from app.extensions import db
from app.processes import services as processes
from app.web.designer import bp, diagrams
from app.web.security import allow_inline_style_attributes
from app.workflow.models import ProcessDefinition

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,49}$")
RESERVED_KEYS = frozenset({"new"})  # /design/processes/new is this page, not a process
MAX_NAME_LENGTH = 120


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot name a new process, in the reader's language; None when it can."""
    if not KEY_PATTERN.match(key) or key in RESERVED_KEYS:
        return _(
            "The key must be 3 to 50 characters: lowercase letters, digits and underscores, "
            "starting with a letter."
        )
    taken = db.session.execute(select(exists().where(ProcessDefinition.key == key))).scalar()
    if taken:
        return _("A process with the key %(key)s already exists.", key=key)
    return None


def empty_diagram(key: str, name: str) -> str:
    """A process of ``key`` with one start event, drawn: what the modeler opens for a new process."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_{key}" \
targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" name={quoteattr(name)} isExecutable="true">
    <bpmn:startEvent id="start" name="{escape(pgettext("designer", "Start"))}" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{key}">
    <bpmndi:BPMNPlane id="plane_{key}" bpmnElement="{key}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _key_and_name(key: str) -> tuple[str, str, dict[str, str]]:
    key = key.strip()
    name = (request.args.get("name") or "").strip() or key
    errors: dict[str, str] = {}
    problem = key_problem(key)
    if problem:
        errors["key"] = problem
    if len(name) > MAX_NAME_LENGTH:
        errors["name"] = _("The name is at most %(n)s characters.", n=MAX_NAME_LENGTH)
    return key, name, errors


@bp.route("/processes/new")
def new_process() -> Any:
    """The list page's 新建流程 box sends ``key`` and ``name`` here: the modeler on an empty diagram, or the
    list again with the field's problem (422)."""
    key, name, errors = _key_and_name(request.args.get("key") or "")
    if errors:
        summaries = processes.process_summaries()
        page = render_template(
            "designer/processes.html", processes=summaries, new_errors=errors, new_key=key, new_name=name
        )
        return page, 422
    allow_inline_style_attributes(
        "bpmn-js writes style attributes into the SVG of the diagram and its palette"
    )
    return render_template("designer/new_process.html", key=key, name=name)


@bp.route("/processes/new/<key>.bpmn")
def new_process_xml(key: str) -> Any:
    _key, name, errors = _key_and_name(key)
    if errors:
        raise InvalidInput(next(iter(errors.values())), errors)
    return Response(empty_diagram(key, name), mimetype="application/xml")


def _new_key(key: str) -> str:
    problem = key_problem(key)
    if problem:
        raise InvalidInput(problem, {"key": problem})
    return key


def _xml() -> str:
    body = request.get_json(silent=True)
    xml = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(xml, str):
        raise InvalidInput("xml is missing", {"xml": "expected a string"})
    return xml


@bp.route("/processes/new/<key>/validate", methods=["POST"])
def validate_new_process(key: str) -> Any:
    """As ``validate_diagram``, for the diagram of a key not deployed yet."""
    _new_key(key)
    try:
        keys, warnings = diagrams.validate_file_xml(f"{key}.bpmn", key, _xml())
    except diagrams.DiagramRejected as exc:
        db.session.rollback()
        return jsonify(valid=False, problems=[p.as_dict() for p in exc.problems])
    db.session.rollback()  # validation reads only
    return jsonify(valid=True, processes=keys, problems=[w.as_dict() for w in warnings])


@bp.route("/processes/new/<key>/deploy", methods=["POST"])
def deploy_new_process(key: str) -> Any:
    """Version 1 of ``key``: 201 with the modeler's URL of it; 422 with every problem; 422 when the key was
    taken meanwhile."""
    _new_key(key)
    result = diagrams.deploy_file_xml(f"{key}.bpmn", key, _xml(), actor=current_user._get_current_object())
    db.session.commit()
    body = {
        "created": result.created,
        "key": result.key,
        "version": result.version,
        "versions_url": url_for("designer.process_versions", key=result.key),
        "edit_url": url_for("designer.modeler", key=result.key, version=result.version),
    }
    return jsonify(body), 201
