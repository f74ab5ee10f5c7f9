from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.inputs import BoundedInt


class TaskSchema(Schema):
    id = BoundedInt()
    name = fields.Str()
    element_id = fields.Str()
    case_key = fields.Function(lambda t: t.case_key if hasattr(t, "case_key") else None)
    instance_id = BoundedInt()
    form_key = fields.Str(allow_none=True)
    lane = fields.Str(allow_none=True)
    candidate_roles = fields.List(fields.Str(), attribute="roles")
    candidate_user = fields.Str(allow_none=True)
    candidate_group = fields.Str(allow_none=True)
    assignee_id = BoundedInt(allow_none=True)
    status = fields.Str()
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)


class TaskDetailSchema(TaskSchema):
    form_schema = fields.Dict()
    ui_schema = fields.Dict(allow_none=True)
    data = fields.Dict(metadata={"description": "the process data this task sees (defaults for its form)"})
    submitted_data = fields.Dict(allow_none=True)


class InboxArgs(Schema):
    scope = fields.Str(load_default="all", validate=validate.OneOf(["mine", "claimable", "all"]))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class CompleteInput(Schema):
    data = fields.Dict(
        required=True, metadata={"description": "form data, validated against the task's form"}
    )


class ReassignInput(Schema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))


class NoticeSchema(Schema):
    """Added to a 2xx answer whose step was kept but stopped the process (an incident): no internals."""

    code = fields.Str(metadata={"example": "incident_opened"})
    message = fields.Str(metadata={"description": "zh-CN, or English with the language switch's cookie"})


class StepResultSchema(Schema):
    task = fields.Nested(TaskSchema)
    case_status = fields.Str(allow_none=True)
    instance_status = fields.Str()
    next_tasks = fields.List(fields.Nested(TaskSchema))
    # Set by app/web/incident_notice.py on every API answer whose request opened an incident.
    notice = fields.Nested(
        NoticeSchema, metadata={"description": "present when the process stopped after the step"}
    )
