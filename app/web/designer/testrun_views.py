"""试运行 pages: start a test run of a version, the run's page (diagram with the token path, ready tasks
completed as any role with the ``/m/`` form renderer, variables, log, simulated clock), the designer's list.

Thin routes: who asks → one ``app.tasks.test_runs`` call → render, redirect or JSON.
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth.models import User
from app.errors import Conflict, InvalidInput, error_body
from app.extensions import db
from app.processes import operations as access
from app.tasks import services as tasks
from app.tasks import test_runs
from app.web.designer import bp
from app.web.operations import labels
from app.web.security import allow_inline_style_attributes
from app.web.worker import form_errors_response, task_form_page
from app.workflow import deploy, instances, operations, operators
from app.workflow.models import HumanTask
from app.workflow.test_run_models import TestRun

# The log's own entries (the others are the operations page's, ``labels.action``).
TEST_RUN_ACTIONS: dict[str, Any] = {
    test_runs.STARTED_ACTION: _l("Test run started"),
    test_runs.CLOCK_ACTION: _l("Simulated clock moved forward"),
    test_runs.DELETED_ACTION: _l("Test run deleted"),
    operators.SIMULATED_ACTION: _l("Service task simulated"),
}


def action_label(action: str) -> Any:
    return TEST_RUN_ACTIONS.get(action) or labels.action(action)


# Photo fields of a test run: no case, so no photos; these stand for them (any id passes, test_runs).
TEST_PHOTOS_PER_KIND = 1


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", {"body": "expected a JSON object"})
    return body


def _refused(exc: InvalidInput | Conflict) -> ResponseReturnValue:
    """A refusal the page marks beside its fields: ``details`` maps each field to its message."""
    db.session.rollback()
    details = exc.details if isinstance(exc.details, dict) else {}
    return jsonify(error_body(exc.error, exc.message, details)), exc.status


def _photo_kinds(model: dict[str, Any], found: list[str]) -> list[str]:
    for field in model.get("fields", []) or []:
        if field.get("widget") == "photos":
            found.extend(kind for kind in field.get("kinds", []) if kind not in found)
        _photo_kinds(field, found)
    return found


def _form_page(form: tasks.TaskForm) -> dict[str, Any]:
    page = task_form_page(form.schema, form.ui_schema, {}, [])
    kinds = _photo_kinds(page["model"], [])
    page["photos"] = [
        {
            "id": index * TEST_PHOTOS_PER_KIND + n + 1,
            "kind": kind,
            "label": _("Test photo %(n)s (%(kind)s)", n=index * TEST_PHOTOS_PER_KIND + n + 1, kind=kind),
            "thumbnail": None,
            "content": None,
        }
        for index, kind in enumerate(kinds)
        for n in range(TEST_PHOTOS_PER_KIND)
    ]
    return page


# --- the designer's list ---------------------------------------------------------------------------


@bp.route("/test-runs")
def test_run_list() -> ResponseReturnValue:
    return render_template("designer/test_runs.html", runs=test_runs.runs_of(_user()), labels=labels)


@bp.route("/test-runs/<int:run_id>/delete", methods=["POST"])
def delete_test_run(run_id: int) -> ResponseReturnValue:
    test_runs.delete(_user(), run_id)
    db.session.commit()
    flash(_("The test run was deleted."), "success")
    return redirect(url_for("designer.test_run_list"))


# --- starting one ----------------------------------------------------------------------------------


@bp.route("/processes/<key>/versions/<int:version>/test-run")
def new_test_run(key: str, version: int) -> ResponseReturnValue:
    definition = test_runs.bpmn_version(key, version)
    form = test_runs.start_form_schema(definition)
    return render_template(
        "designer/test_run_new.html",
        definition=definition,
        form_page=_form_page(form) if form is not None else None,
    )


@bp.route("/processes/<key>/versions/<int:version>/test-run", methods=["POST"])
def start_test_run(key: str, version: int) -> ResponseReturnValue:
    """``{"data": {...}}`` (a start form) or ``{"variables_json": "..."}``: 201 ``{test_run, redirect}``;
    422 names each field that fails and starts nothing."""
    definition = test_runs.bpmn_version(key, version)
    body = _json_body()
    try:
        run = test_runs.start(_user(), definition, body.get("data"), body.get("variables_json"))
    except tasks.FormDataInvalid as exc:
        return form_errors_response(exc)
    except (InvalidInput, Conflict) as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(test_run=run.id, redirect=url_for("designer.test_run_page", run_id=run.id)), 201


# --- the run's page --------------------------------------------------------------------------------


def _render_run(run: TestRun, *, clock_error: str | None = None, given: str = "", status: int = 200) -> Any:
    instance = run.instance
    ready = test_runs.open_tasks(run)
    chosen: HumanTask | None = None
    wanted = request.args.get("task", type=int)
    for task in ready:
        if chosen is None or task.id == wanted:
            chosen = task
    form_page = _form_page(tasks.task_form(chosen)) if chosen is not None else None
    incident = access.open_incident_ids([instance.id]).get(instance.id)
    allow_inline_style_attributes("bpmn-js writes style attributes into the SVG of the diagram")
    return render_template(
        "designer/test_run.html",
        run=run,
        instance=instance,
        definition=run.definition,
        ready=ready,
        chosen=chosen,
        form_page=form_page,
        incident=incident,
        active=operations.active_elements(instance) if instance.state else [],
        variables=operations.variables(instance) if instance.state else {},
        events=access.instance_events(instance.id),
        labels=labels,
        action_label=action_label,
        clock_error=clock_error,
        given=given,
    ), status


@bp.route("/test-runs/<int:run_id>")
def test_run_page(run_id: int) -> ResponseReturnValue:
    return _render_run(test_runs.run_of(_user(), run_id))


@bp.route("/test-runs/<int:run_id>/diagram.json")
def test_run_diagram(run_id: int) -> ResponseReturnValue:
    """The version's XML with the token path: completed, active and failing element ids."""
    run = test_runs.run_of(_user(), run_id)
    instance = run.instance
    state = instances.instance_state(instance)
    incident = access.open_incident_ids([instance.id]).get(instance.id)
    return jsonify(
        instance_status=instance.status,
        xml=deploy.definition_xml(run.definition.key, run.definition.version),
        active=state["active_element_ids"],
        completed=state["completed_element_ids"],
        incident=[incident.element_id] if incident is not None and incident.element_id else [],
    )


@bp.route("/test-runs/<int:run_id>/tasks/<int:task_id>", methods=["POST"])
def complete_test_task(run_id: int, task_id: int) -> ResponseReturnValue:
    """``{"data": {...}}``: 200 ``{redirect}`` back to the run's page; 422 names each field that fails."""
    body = _json_body()
    try:
        test_runs.complete_task(_user(), run_id, task_id, body.get("data"))
    except tasks.FormDataInvalid as exc:
        return form_errors_response(exc)
    except (InvalidInput, Conflict) as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(redirect=url_for("designer.test_run_page", run_id=run_id))


@bp.route("/test-runs/<int:run_id>/clock", methods=["POST"])
def advance_test_clock(run_id: int) -> ResponseReturnValue:
    run = test_runs.run_of(_user(), run_id)
    duration = request.form.get("duration", "")
    try:
        advanced = test_runs.advance_clock(_user(), run_id, duration)
    except InvalidInput as exc:
        db.session.rollback()
        details = exc.details if isinstance(exc.details, dict) else {}
        return _render_run(
            run, clock_error=str(details.get("duration") or exc.message), given=duration, status=422
        )
    db.session.commit()
    flash(_("The clock moved forward; %(n)s timer(s) fired.", n=advanced.timers_fired), "success")
    return redirect(url_for("designer.test_run_page", run_id=run_id))
