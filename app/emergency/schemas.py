from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate, validates_schema

from app.emergency.models import EmergencyStatus
from app.emergency.plans import PLAN_CODE_PATTERN
from app.inputs import BoundedInt, both_or_neither

_PLAN_CODE = validate.Regexp(PLAN_CODE_PATTERN, error="expected a plan code such as gas_leak")


class PlanInput(Schema):
    """A plan as the data file writes it; the service checks every field (``responders[1].limit``)."""

    code = fields.Str()
    name = fields.Str()
    name_en = fields.Str()
    description = fields.Str(allow_none=True)
    triggers = fields.Dict(allow_none=True)
    responders = fields.List(fields.Raw())
    checklist = fields.List(fields.Raw())
    contact_call_limit = fields.Str(allow_none=True)


class PlanImportInput(Schema):
    plans = fields.List(fields.Raw(), required=True)


class PlanQueryArgs(Schema):
    active = fields.Bool(load_default=True)
    q = fields.Str(validate=validate.Length(min=1, max=80))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class PlanSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    name_en = fields.Str()
    description = fields.Str()
    triggers = fields.Dict()
    responders = fields.List(fields.Dict())
    checklist = fields.List(fields.Str())
    contact_call_limit = fields.Str(allow_none=True)
    active = fields.Bool()
    version = BoundedInt()
    updated_at = fields.DateTime()


class PlanImportReportSchema(Schema):
    total = BoundedInt()
    created = fields.List(fields.Str())
    updated = fields.List(fields.Str())
    unchanged = BoundedInt()


class LaunchInput(Schema):
    plan_code = fields.Str(required=True, validate=_PLAN_CODE)
    title = fields.Str(validate=validate.Length(min=2, max=120))
    description = fields.Str(validate=validate.Length(max=4000))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    lon = fields.Float(validate=validate.Range(min=-180, max=180))
    address = fields.Str(validate=validate.Length(max=300))

    @validates_schema
    def _whole_position(self, data: dict[str, Any], **_: Any) -> None:
        both_or_neither(data)


class UpdateInput(Schema):
    note = fields.Str(required=True, validate=validate.Length(min=1, max=2000))
    attachment_ids = fields.List(BoundedInt(), load_default=list, validate=validate.Length(max=20))


class EmergencyQueryArgs(Schema):
    status = fields.Str(validate=validate.OneOf(EmergencyStatus.ALL))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class TimingsSchema(Schema):
    first_ack_at = fields.DateTime(allow_none=True)
    all_ack_at = fields.DateTime(allow_none=True)
    controlled_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    first_ack_seconds = BoundedInt(allow_none=True, metadata={"description": "首次报到用时 from the report"})
    all_ack_seconds = BoundedInt(allow_none=True, metadata={"description": "全部报到用时"})
    control_seconds = BoundedInt(allow_none=True, metadata={"description": "控制用时"})
    close_seconds = BoundedInt(allow_none=True, metadata={"description": "结束用时"})


class ResponderSchema(Schema):
    position = BoundedInt(metadata={"description": "0 leads"})
    unit = fields.Str(allow_none=True)
    user = fields.Str(allow_none=True)
    label = fields.Str()
    limit = fields.Str()
    status = fields.Str(metadata={"description": "pending 待报到 | acknowledged 已报到 | missed 未报到"})
    level = fields.Str(
        allow_none=True, metadata={"description": "escalated to: community, street, district, supervisor"}
    )
    misses = BoundedInt()
    dispatched_at = fields.DateTime()
    report_in_due = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.Str(allow_none=True)
    responsible_person = fields.Str(allow_none=True)
    eta_minutes = BoundedInt(allow_none=True)


class UpdateSchema(Schema):
    id = BoundedInt()
    author = fields.Str(allow_none=True)
    unit = fields.Str(allow_none=True)
    note = fields.Str()
    attachment_ids = fields.List(BoundedInt())
    created_at = fields.DateTime()


class ReviewSchema(Schema):
    cause = fields.Str(allow_none=True)
    timeline_summary = fields.Str(allow_none=True)
    improvements = fields.Str(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)


class EmergencySchema(Schema):
    case_key = fields.Str()
    title = fields.Str()
    case_status = fields.Str()
    severity = fields.Str()
    grid_code = fields.Str(allow_none=True)
    escalation_level = fields.Str(allow_none=True)
    trigger = fields.Str(metadata={"description": "report 红色上报 | alarm 紧急报警 | plan 启动预案"})
    status = fields.Str(metadata={"description": "active | controlled | closed | reviewed"})
    plan_code = fields.Str(allow_none=True)
    plan_name = fields.Str(allow_none=True)
    checklist = fields.List(fields.Str())
    started_at = fields.DateTime()
    timings = fields.Nested(TimingsSchema)
    counts = fields.Dict(keys=fields.Str(), values=BoundedInt())
    responders = fields.List(fields.Nested(ResponderSchema))
    updates = fields.List(fields.Nested(UpdateSchema))
    review = fields.Nested(ReviewSchema)


class EmergencySummarySchema(Schema):
    case_key = fields.Function(lambda e: e.case.key)
    plan_code = fields.Str(allow_none=True)
    trigger = fields.Str()
    status = fields.Str()
    started_at = fields.DateTime()
    first_ack_seconds = BoundedInt(allow_none=True)
    all_ack_seconds = BoundedInt(allow_none=True)
    control_seconds = BoundedInt(allow_none=True)
    close_seconds = BoundedInt(allow_none=True)
