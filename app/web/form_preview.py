"""A form tried out as the task page draws it (/m/forms/<name>, designers and admins): every field of a
form in ``forms/`` with the page's checks, and "check" runs the server's validation without a task or a
case, answering the same 422 as a refused completion. Process designers see how a form they wrote reads
and where its errors land before a task ever uses it; the generated browser test goes through every form
here (tests/web/test_e2e_forms.py)."""

from __future__ import annotations

from flask import abort, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import InvalidInput
from app.tasks import services as tasks
from app.web.blueprint import bp
from app.web.nav import DESIGN_ROLES
from app.web.worker import form_errors_response, task_form_page
from app.workflow.forms import FormNotFound, FormValidationError


def _designer() -> None:
    if current_user.role not in DESIGN_ROLES:
        abort(403, description=_("Only process designers can try out forms."))


def _form_or_404(name: str) -> tasks.TaskForm:
    try:
        return tasks.TaskForm(tasks.forms().load(name), tasks.forms().ui_schema(name))
    except FormNotFound:
        abort(404)


@bp.route("/m/forms/<name>")
@login_required
def form_preview(name: str) -> ResponseReturnValue:
    _designer()
    form = _form_or_404(name)
    return render_template(
        "worker/form_preview.html",
        name=name,
        form_page=task_form_page(form.schema, form.ui_schema, {}, []),
    )


@bp.route("/m/forms/<name>/check", methods=["POST"])
@login_required
def form_check(name: str) -> ResponseReturnValue:
    """``{"data": {...}}`` checked by the server's validator (no case: photo fields cannot pass)."""
    _designer()
    _form_or_404(name)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise InvalidInput("send the form as JSON", {"data": "expected an object"})
    try:
        tasks.forms().validate(name, body["data"], case_id=None, refs=tasks.DatabaseFormReferences())
    except FormValidationError as exc:
        return form_errors_response(tasks.FormDataInvalid(str(exc), exc.field_errors))
    return jsonify(valid=True, redirect=None, back=url_for("web.form_preview", name=name))
