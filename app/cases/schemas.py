from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate, validates_schema

from app.cases.models import ATTACHMENT_KINDS, SOURCE_CHANNELS, CaseStatus
from app.inputs import BoundedInt, both_or_neither
from app.timelimits.calendar import SEVERITIES


class CaseReportSchema(Schema):
    title = fields.Str(
        required=True, validate=validate.Length(min=2, max=120), metadata={"description": "标题 short title"}
    )
    description = fields.Str(load_default="", validate=validate.Length(max=4000))
    category_code = fields.Str(
        validate=validate.Regexp(
            r"^[EP]\d{2}(\d{2})?$",
            error="expected a category code: E (event) or P (part), then 2 or 4 digits, e.g. E0102",
        ),
        metadata={"description": "案件类别 GB/T 30428.2 class or sub-class, e.g. E0102 暴露垃圾"},
    )
    severity = fields.Str(validate=validate.OneOf(SEVERITIES))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    lon = fields.Float(validate=validate.Range(min=-180, max=180))
    address = fields.Str(validate=validate.Length(max=300))
    source_channel = fields.Str(validate=validate.OneOf(SOURCE_CHANNELS))

    @validates_schema
    def _whole_position(self, data: dict[str, Any], **_: Any) -> None:
        both_or_neither(data)


class CaseSchema(Schema):
    key = fields.Str()
    title = fields.Str()
    description = fields.Str()
    category_code = fields.Str(allow_none=True)
    grid_code = fields.Str(
        allow_none=True, metadata={"description": "deepest grid of the location; null: unlocated"}
    )
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    address = fields.Str(allow_none=True)
    source_channel = fields.Str()
    reporter = fields.Function(lambda c: c.reporter.username if c.reporter else None)
    severity = fields.Str()
    status = fields.Str()
    handler_user = fields.Str(allow_none=True)
    handler_unit = fields.Str(allow_none=True)
    duplicate_of = fields.Function(lambda c: c.duplicate_of.key if c.duplicate_of else None)
    reject_reason = fields.Str(allow_none=True)
    rework_count = BoundedInt()
    redispatch_count = BoundedInt()
    postponed_count = BoundedInt()
    due_at = fields.DateTime(allow_none=True)
    close_due_at = fields.DateTime(allow_none=True)
    warned_at = fields.DateTime(allow_none=True)
    overdue_at = fields.DateTime(allow_none=True)
    escalation_level = fields.Str(
        allow_none=True,
        metadata={"description": "三级联动 level reached: community, street, district; null: none"},
    )
    escalated_at = fields.DateTime(allow_none=True, metadata={"description": "when it reached that level"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    filed_at = fields.DateTime(allow_none=True)
    dispatched_at = fields.DateTime(allow_none=True)
    handled_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class CaseQueryArgs(Schema):
    status = fields.Str(validate=validate.OneOf(CaseStatus.ALL))
    category_code = fields.Str(
        validate=validate.Regexp(
            r"^[EP](\d{2}){0,2}$", error="expected a category code or its prefix, e.g. E01"
        ),
        metadata={"description": "the category and its sub-classes (code prefix)"},
    )
    severity = fields.Str(validate=validate.OneOf(SEVERITIES))
    source_channel = fields.Str(validate=validate.OneOf(SOURCE_CHANNELS))
    q = fields.Str(validate=validate.Length(min=1, max=100))
    created_from = fields.AwareDateTime(default_timezone=None)
    created_to = fields.AwareDateTime(default_timezone=None)
    overdue = fields.Bool()
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class AuditEventSchema(Schema):
    id = BoundedInt()
    occurred_at = fields.DateTime()
    actor = fields.Str(attribute="actor_label")
    action = fields.Str()
    entity_type = fields.Str()
    entity_id = fields.Str()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    data = fields.Dict(allow_none=True)


class CommentInput(Schema):
    body = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


class CommentSchema(Schema):
    id = BoundedInt()
    author = fields.Function(lambda c: c.author.username)
    body = fields.Str()
    created_at = fields.DateTime()


class AttachmentUploadArgs(Schema):
    kind = fields.Str(load_default="other", validate=validate.OneOf(ATTACHMENT_KINDS))


class AttachmentSchema(Schema):
    id = BoundedInt()
    kind = fields.Str()
    content_type = fields.Str()
    size = BoundedInt()
    sha256 = fields.Str()
    original_name = fields.Str(allow_none=True)
    width = BoundedInt()
    height = BoundedInt()
    taken_at = fields.DateTime(allow_none=True)
    gps_lat = fields.Float(allow_none=True)
    gps_lon = fields.Float(allow_none=True)
    created_at = fields.DateTime()
    has_thumbnail = fields.Function(lambda a: a.thumbnail_path is not None)


class WithdrawInput(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=2, max=500))


class UrgeInput(Schema):
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class CaseReassignInput(Schema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=1000))


class ExtendInput(Schema):
    hours = BoundedInt(required=True, validate=validate.Range(min=1, max=240))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=1000))
