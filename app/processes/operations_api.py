"""Instance operations API: list and inspect instances and engine incidents, and repair an instance (retry,
skip, move the token, suspend/resume, terminate, edit a variable). Admins; designers on test instances
(``app.processes.operations`` says which); every other role 403. Every repair needs a reason."""

from __future__ import annotations

import json
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from app.auth.models import User
from app.cases.models import Case
from app.cases.schemas import AuditEventSchema
from app.extensions import db
from app.http import api_user, page_schema, paginate
from app.inputs import BoundedInt
from app.processes import operations as access
from app.workflow import operations
from app.workflow.models import IncidentKind, InstanceStatus, ProcessInstance

blp = Blueprint(
    "process_operations",
    __name__,
    url_prefix="/api/v1",
    description="流程运维 Instance operations: incidents, retry, skip, move, suspend, terminate, variables",
)

STATUSES = (
    InstanceStatus.RUNNING,
    InstanceStatus.COMPLETED,
    InstanceStatus.ERROR,
    InstanceStatus.SUSPENDED,
    InstanceStatus.TERMINATED,
)
KINDS = (
    IncidentKind.STEP,
    IncidentKind.TIMER,
    IncidentKind.MESSAGE,
    IncidentKind.JOB,
    IncidentKind.GUARD,
    IncidentKind.STUCK,
)
ELEMENT_ID = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$", error="不是合法的元素 id")
MAX_VALUE_JSON = 65_536
AWARE_ERRORS: dict[str, str | list[Any] | dict[Any, Any]] = {
    "invalid": "不是合法的时间（ISO 8601）",
    "invalid_awareness": "时间须带时区，如 2026-11-02T09:00:00+08:00",
}


# -- schemas ----------------------------------------------------------------------------------------


class EngineIncidentSchema(Schema):
    id = BoundedInt()
    instance_id = BoundedInt()
    kind = fields.Str()
    element_id = fields.Str(allow_none=True)
    element_name = fields.Str(allow_none=True)
    reason = fields.Str()
    opened_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.Str(allow_none=True)


class InstanceSummarySchema(Schema):
    id = BoundedInt()
    process_key = fields.Str()
    version = fields.Function(lambda i: i.definition.version)
    business_key = fields.Str(allow_none=True)
    case_key = fields.Function(lambda i: _case_key(i.case_id))
    status = fields.Str()
    error = fields.Str(allow_none=True)
    started_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    open_incident = fields.Nested(EngineIncidentSchema, allow_none=True)


class ActiveElementSchema(Schema):
    element_id = fields.Str()
    name = fields.Str()
    state = fields.Str()


class InstanceDetailSchema(InstanceSummarySchema):
    active_elements = fields.List(fields.Nested(ActiveElementSchema))
    may_operate = fields.Bool()


class VariablesSchema(Schema):
    variables = fields.Dict()


class HistorySchema(Schema):
    events = fields.List(fields.Nested(AuditEventSchema))
    completed_element_ids = fields.List(fields.Str())


InstancePage = page_schema(InstanceSummarySchema, "ProcessInstancePage")
IncidentPage = page_schema(EngineIncidentSchema, "EngineIncidentPage")


def _reason() -> fields.Str:
    return fields.Str(
        required=True,
        validate=validate.Length(min=2, max=500, error="原因须为 2 到 500 个字符"),
        error_messages={"required": "请填写操作原因", "null": "请填写操作原因", "invalid": "原因须为文字"},
        metadata={"description": "为什么做这个操作（记入审计）"},
    )


def _element(required: bool, what: str) -> fields.Str:
    return fields.Str(
        required=required,
        validate=ELEMENT_ID,
        error_messages={"required": f"请指定{what}", "invalid": "元素 id 须为文字"},
    )


class InstanceQueryArgs(Schema):
    process_key = fields.Str(validate=validate.Length(min=1, max=100))
    version = BoundedInt(validate=validate.Range(min=1, error="版本号从 1 开始"))
    status = fields.Str(validate=validate.OneOf(STATUSES, error="状态须为 {choices} 之一"))
    has_incident = fields.Bool()
    business_key = fields.Str(validate=validate.Length(min=1, max=64))
    started_from = fields.AwareDateTime(default_timezone=None, error_messages=AWARE_ERRORS)
    started_to = fields.AwareDateTime(default_timezone=None, error_messages=AWARE_ERRORS)
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class IncidentQueryArgs(Schema):
    open = fields.Bool(load_default=True)
    process_key = fields.Str(validate=validate.Length(min=1, max=100))
    kind = fields.Str(validate=validate.OneOf(KINDS, error="类型须为 {choices} 之一"))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class ReasonInput(Schema):
    reason = _reason()


class SkipInput(ReasonInput):
    element_id = _element(False, "要跳过的元素")


class MoveInput(ReasonInput):
    to_element_id = _element(True, "令牌要移到的元素")
    from_element_id = _element(False, "令牌从哪个元素移出")


def _json_value(text: str) -> None:
    parse_json_value(text)


def parse_json_value(text: str) -> Any:
    """A variable's new value from its JSON text; ``ValidationError`` in zh-CN when it is not JSON."""
    if len(text) > MAX_VALUE_JSON:
        raise ValidationError(f"值的 JSON 不能超过 {MAX_VALUE_JSON} 个字符")

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} 不是 JSON 值")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except ValueError as exc:
        raise ValidationError(f'值不是合法的 JSON（字符串要加双引号，如 "文字"）：{exc}') from exc


class VariableInput(ReasonInput):
    name = fields.Str(
        required=True,
        validate=validate.Regexp(
            operations.VARIABLE_NAME, error="变量名须以字母开头，只含字母、数字和下划线（至多 64 个字符）"
        ),
        error_messages={"required": "请填写变量名"},
    )
    value_json = fields.Str(
        required=True,
        validate=_json_value,
        error_messages={"required": "请填写变量的新值（JSON）"},
        metadata={"description": 'the new value as JSON text: 21, "文字", [1, 2], {"a": 1}, null'},
    )


# -- helpers ----------------------------------------------------------------------------------------


def _case_key(case_id: int | None) -> str | None:
    case = db.session.get(Case, case_id) if case_id else None
    return case.key if case else None


def _with_incidents(items: list[ProcessInstance]) -> list[ProcessInstance]:
    incidents = access.open_incident_ids([i.id for i in items])
    for item in items:
        item.open_incident = incidents.get(item.id)
    return items


def _detail(instance: ProcessInstance, user: User) -> ProcessInstance:
    db.session.expire(instance)
    _with_incidents([instance])
    instance.active_elements = operations.active_elements(instance)
    instance.may_operate = access.may_operate(user, instance)
    return instance


def _operate(instance_id: int) -> User:
    user = api_user()
    access.operable_instance(user, instance_id)
    return user


def _done(instance_id: int, user: User) -> ProcessInstance:
    db.session.commit()
    return _detail(access.readable_instance(user, instance_id), user)


# -- reading ----------------------------------------------------------------------------------------


@blp.route("/process-instances")
class InstanceList(MethodView):
    @blp.arguments(InstanceQueryArgs, location="query")
    @blp.response(200, InstancePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Instances, newest first, filtered by process, version, status, open incident, business key and
        start time (``started_from`` ≤ started < ``started_to``). Admins and designers."""
        access.require_operator(api_user())
        page, page_size = args.pop("page"), args.pop("page_size")
        result = paginate(access.list_instances(access.InstanceFilters(**args)), page, page_size)
        _with_incidents(result["items"])
        return result


@blp.route("/process-instances/<int:instance_id>/operations")
class InstanceOperationsView(MethodView):
    @blp.response(200, InstanceDetailSchema)
    def get(self, instance_id: int) -> Any:
        """The instance as an operator sees it: status, where it stands, its open incident, and whether
        you may operate on it."""
        user = api_user()
        return _detail(access.readable_instance(user, instance_id), user)


@blp.route("/process-instances/<int:instance_id>/variables")
class InstanceVariables(MethodView):
    @blp.response(200, VariablesSchema)
    def get(self, instance_id: int) -> Any:
        """The variables the instance's next step reads."""
        instance = access.operable_instance(api_user(), instance_id)
        return {"variables": operations.variables(instance)}

    @blp.arguments(VariableInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Set one variable to a JSON value (``value_json``), with a reason; nothing runs."""
        user = _operate(instance_id)
        value = parse_json_value(body["value_json"])
        operations.edit_variable(instance_id, user, body["reason"], body["name"], value)
        return _done(instance_id, user)


@blp.route("/process-instances/<int:instance_id>/history")
class InstanceHistory(MethodView):
    @blp.response(200, HistorySchema)
    def get(self, instance_id: int) -> Any:
        """Audit events about the instance and its tasks (oldest first) and the elements completed."""
        instance = access.operable_instance(api_user(), instance_id)
        return {
            "events": access.instance_events(instance.id),
            "completed_element_ids": operations.completed_element_ids(instance),
        }


@blp.route("/process-instances/<int:instance_id>/incidents")
class InstanceIncidents(MethodView):
    @blp.response(200, EngineIncidentSchema(many=True))
    def get(self, instance_id: int) -> Any:
        """The instance's engine incidents, newest first."""
        access.readable_instance(api_user(), instance_id)
        return access.instance_incidents(instance_id)


@blp.route("/engine-incidents")
class Incidents(MethodView):
    @blp.arguments(IncidentQueryArgs, location="query")
    @blp.response(200, IncidentPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Engine incidents, newest first (open ones unless ``open=false``)."""
        access.require_operator(api_user())
        query = access.list_incidents(
            open_only=args["open"], process_key=args.get("process_key"), kind=args.get("kind")
        )
        return paginate(query, args["page"], args["page_size"])


# -- repairs ----------------------------------------------------------------------------------------


@blp.route("/process-instances/<int:instance_id>/retry")
class Retry(MethodView):
    @blp.arguments(ReasonInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Run the failed element again (after a fix); a new incident if it fails again. 409 without an
        open incident."""
        user = _operate(instance_id)
        operations.retry(instance_id, user, body["reason"])
        return _done(instance_id, user)


@blp.route("/process-instances/<int:instance_id>/skip")
class Skip(MethodView):
    @blp.arguments(SkipInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Complete the failing element (``element_id``, default the incident's) without running it."""
        user = _operate(instance_id)
        operations.skip(instance_id, user, body["reason"], body.get("element_id"))
        return _done(instance_id, user)


@blp.route("/process-instances/<int:instance_id>/move")
class Move(MethodView):
    @blp.arguments(MoveInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Cancel the token at ``from_element_id`` (default: the incident's element, or the one active
        element) and start it before ``to_element_id``."""
        user = _operate(instance_id)
        operations.move_token(
            instance_id, user, body["reason"], body["to_element_id"], body.get("from_element_id")
        )
        return _done(instance_id, user)


@blp.route("/process-instances/<int:instance_id>/suspend")
class Suspend(MethodView):
    @blp.arguments(ReasonInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Suspend a running instance: no task completion, timer or message until resumed."""
        user = _operate(instance_id)
        operations.suspend(instance_id, user, body["reason"])
        return _done(instance_id, user)


@blp.route("/process-instances/<int:instance_id>/resume")
class Resume(MethodView):
    @blp.arguments(ReasonInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        user = _operate(instance_id)
        operations.resume(instance_id, user, body["reason"])
        return _done(instance_id, user)


@blp.route("/process-instances/<int:instance_id>/terminate")
class Terminate(MethodView):
    @blp.arguments(ReasonInput)
    @blp.response(200, InstanceDetailSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """End the instance: open tasks cancelled, its case closed with the reason."""
        user = _operate(instance_id)
        operations.terminate(instance_id, user, body["reason"])
        return _done(instance_id, user)
