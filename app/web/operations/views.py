"""Operations routes: thin (who is asking → one service call → render, redirect or JSON).

A repair is a plain form POST (CSRF token, reason field); success redirects back to the instance with a
message, a refused input renders the instance again with the reason beside the field (422), an operation
that does not fit the instance's status renders it with the reason on top (409). Nothing is changed then.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.errors import Conflict, InvalidInput, NotAuthenticated
from app.extensions import db
from app.http import paginate
from app.processes import operations as access
from app.processes.operations_api import (
    STATUSES,
    InstanceQueryArgs,
    MoveInput,
    ReasonInput,
    SkipInput,
    VariableInput,
    parse_json_value,
)
from app.web.operations import bp, labels
from app.workflow import deploy, instances, operations
from app.workflow.models import ProcessDefinition, ProcessInstance

F = TypeVar("F", bound=Callable[..., Any])


def _operator() -> User:
    if not current_user.is_authenticated:
        raise NotAuthenticated("请先登录")
    return access.require_operator(cast(User, current_user._get_current_object()))


def operator_page(view: F) -> F:
    """A page for admins and designers: anonymous visitors sign in first, other roles get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(_operator(), *args, **kwargs)

    return cast(F, wrapper)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"labels": labels}


@bp.route("/")
@operator_page
def home(user: User) -> ResponseReturnValue:
    return redirect(url_for("operations.instance_list"))


# -- the list ---------------------------------------------------------------------------------------


def _filters(given: dict[str, str]) -> dict[str, Any]:
    """The list's filters from the query string (empty fields left out); dates are whole days."""
    raw = {name: value for name, value in given.items() if value != ""}
    for name in ("started_from", "started_to"):
        if name in raw and len(raw[name]) == 10:  # a date field: midnight UTC of that day
            raw[name] = f"{raw[name]}T00:00:00+00:00"
    loaded: dict[str, Any] = InstanceQueryArgs().load(raw)
    return loaded


@bp.route("/instances")
@operator_page
def instance_list(user: User) -> ResponseReturnValue:
    given = request.args.to_dict()
    errors: dict[str, str] = {}
    page = None
    try:
        args = _filters(given)
    except ValidationError as exc:
        errors = {name: " ".join(map(str, messages)) for name, messages in _messages(exc).items()}
    else:
        number, size = args.pop("page"), args.pop("page_size")
        page = paginate(access.list_instances(access.InstanceFilters(**args)), number, size)
    items: list[ProcessInstance] = page["items"] if page else []
    status = 422 if errors else 200
    return render_template(
        "operations/instances.html",
        page=page,
        given=given,
        errors=errors,
        incidents=access.open_incident_ids([i.id for i in items]),
        process_keys=_process_keys(),
        statuses=STATUSES,
        page_url=lambda n: url_for("operations.instance_list", **{**given, "page": n}),
    ), status


def _messages(exc: ValidationError) -> dict[str, list[Any]]:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {str(k): v if isinstance(v, list) else [v] for k, v in messages.items()}


def _process_keys() -> list[str]:
    return list(
        db.session.execute(
            select(ProcessDefinition.key).where(ProcessDefinition.kind == "bpmn").distinct().order_by("key")
        ).scalars()
    )


# -- one instance -----------------------------------------------------------------------------------


def _render_instance(
    user: User,
    instance_id: int,
    *,
    form_errors: dict[str, dict[str, str]] | None = None,
    given: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    instance = access.readable_instance(user, instance_id)
    may_operate = access.may_operate(user, instance)
    definition = instance.definition
    incident = access.open_incident_ids([instance.id]).get(instance.id)
    events: list[AuditEvent] = access.instance_events(instance.id) if may_operate else []
    return render_template(
        "operations/instance.html",
        instance=instance,
        definition=definition,
        case_key=_case_key(instance),
        incident=incident,
        incidents=access.instance_incidents(instance.id),
        active=operations.active_elements(instance),
        may_operate=may_operate,
        variables=operations.variables(instance) if may_operate else {},
        events=events,
        element_choices=_element_choices(definition, instance),
        form_errors=form_errors or {},
        given=given or {},
        problem=problem,
    ), status


def _case_key(instance: ProcessInstance) -> str | None:
    if instance.case_id is None:
        return None
    from app.cases.models import Case

    case = db.session.get(Case, instance.case_id)
    return case.key if case else None


def _element_choices(definition: ProcessDefinition, instance: ProcessInstance) -> list[tuple[str, str]]:
    """Elements to offer in the move form: the user tasks of the version and where the instance stands."""
    choices = {task["element_id"]: task.get("name") or task["element_id"] for task in definition.user_tasks}
    for element in operations.active_elements(instance):
        choices.setdefault(element["element_id"], element["name"])
    return sorted(choices.items())


@bp.route("/instances/<int:instance_id>")
@operator_page
def instance_page(user: User, instance_id: int) -> ResponseReturnValue:
    return _render_instance(user, instance_id)


@bp.route("/instances/<int:instance_id>/diagram.json")
def instance_diagram(instance_id: int) -> ResponseReturnValue:
    """The version's BPMN XML with the completed, active and failing element ids (the page draws it)."""
    instance = access.readable_instance(_operator(), instance_id)
    definition = instance.definition
    state = instances.instance_state(instance)
    incident = access.open_incident_ids([instance.id]).get(instance.id)
    return jsonify(
        instance_id=instance.id,
        instance_status=instance.status,
        process_key=definition.key,
        version=definition.version,
        xml=deploy.definition_xml(definition.key, definition.version),
        active=state["active_element_ids"],
        completed=state["completed_element_ids"],
        incident=[incident.element_id] if incident is not None and incident.element_id else [],
    )


# -- repairs ----------------------------------------------------------------------------------------

_FORMS: dict[str, type[Schema]] = {
    "retry": ReasonInput,
    "skip": SkipInput,
    "move": MoveInput,
    "suspend": ReasonInput,
    "resume": ReasonInput,
    "terminate": ReasonInput,
    "variable": VariableInput,
}
_DONE: dict[str, Any] = {
    "retry": _l("Retried: the instance ran again."),
    "skip": _l("The element was skipped."),
    "move": _l("The token was moved."),
    "suspend": _l("The instance is suspended."),
    "resume": _l("The instance runs again."),
    "terminate": _l("The instance is terminated."),
    "variable": _l("The variable was changed."),
}


def _run(operation: str, instance_id: int, user: User, body: dict[str, Any]) -> None:
    reason = body["reason"]
    if operation == "retry":
        operations.retry(instance_id, user, reason)
    elif operation == "skip":
        operations.skip(instance_id, user, reason, body.get("element_id"))
    elif operation == "move":
        operations.move_token(instance_id, user, reason, body["to_element_id"], body.get("from_element_id"))
    elif operation == "suspend":
        operations.suspend(instance_id, user, reason)
    elif operation == "resume":
        operations.resume(instance_id, user, reason)
    elif operation == "terminate":
        operations.terminate(instance_id, user, reason)
    else:
        value = parse_json_value(body["value_json"])
        operations.edit_variable(instance_id, user, reason, body["name"], value)


@bp.route("/instances/<int:instance_id>/<operation>", methods=["POST"])
@operator_page
def operate(user: User, instance_id: int, operation: str) -> ResponseReturnValue:
    schema = _FORMS.get(operation)
    if schema is None:
        return _render_instance(user, instance_id, problem=_("Unknown operation."), status=404)
    access.operable_instance(user, instance_id)
    given = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        body = schema().load({k: v for k, v in given.items() if v != ""})
        _run(operation, instance_id, user, body)
    except ValidationError as exc:
        db.session.rollback()
        errors = {name: " ".join(map(str, messages)) for name, messages in _messages(exc).items()}
        return _render_instance(user, instance_id, form_errors={operation: errors}, given=given, status=422)
    except InvalidInput as exc:
        db.session.rollback()
        details = exc.details if isinstance(exc.details, dict) else {}
        errors = {name: str(message) for name, message in details.items()} or {"_": exc.message}
        return _render_instance(user, instance_id, form_errors={operation: errors}, given=given, status=422)
    except Conflict as exc:
        db.session.rollback()
        return _render_instance(user, instance_id, problem=exc.message, status=409)
    db.session.commit()
    flash(str(_DONE[operation]), "success")
    return redirect(url_for("operations.instance_page", instance_id=instance_id))
