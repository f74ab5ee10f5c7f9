"""Marshmallow schemas of the inspection API (English keys; labels zh-CN first)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.grids.codes import MAX_CODE_LENGTH
from app.inputs import BoundedInt
from app.inspections.models import PLACE_TYPES, CampaignStatus, ItemStatus

_GRID_CODE = validate.Regexp(rf"^\d{{6,{MAX_CODE_LENGTH}}}$", error="expected a grid code: 6 to 21 digits")
_PLACE_TYPE = validate.OneOf(list(PLACE_TYPES))


class PlaceQueryArgs(Schema):
    place_type = fields.Str(validate=_PLACE_TYPE)
    grid = fields.Str(validate=_GRID_CODE, metadata={"description": "places in this grid's subtree"})
    blacklisted = fields.Bool()
    q = fields.Str(validate=validate.Length(min=1, max=80), metadata={"description": "in name or address"})
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class PlaceCreateSchema(Schema):
    """Checked by ``app.inspections.places.row_problems`` (the same checks as an import row)."""

    code = fields.Raw(required=True)
    name = fields.Raw(required=True)
    place_type = fields.Raw(required=True, metadata={"description": "a key or its zh-CN label (餐饮)"})
    lat = fields.Raw(required=True)
    lon = fields.Raw(required=True)
    address = fields.Raw(required=True)
    responsible_person = fields.Raw(required=True)
    responsible_phone = fields.Raw(load_default=None)


class UnblacklistSchema(Schema):
    """Checked by ``app.inspections.places.unblacklist``: a missing reason is a 422 after the role check."""

    reason = fields.Raw(
        load_default=None, metadata={"description": "required: why the place comes off the blacklist (≤500)"}
    )


class PlaceSchema(Schema):
    id = BoundedInt()
    code = fields.Str()
    name = fields.Str()
    place_type = fields.Str()
    place_type_label = fields.Function(
        lambda p: PLACE_TYPES[p.place_type][0], metadata={"description": "zh-CN"}
    )
    grid_code = fields.Str()
    lat = fields.Float()
    lon = fields.Float()
    address = fields.Str()
    responsible_person = fields.Str()
    responsible_phone = fields.Str(allow_none=True)
    blacklisted = fields.Bool()
    blacklist_reason = fields.Str(allow_none=True)
    blacklisted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CheckItemSchema(Schema):
    key = fields.Str()
    title = fields.Str()


class CampaignLaunchSchema(Schema):
    title = fields.Str(required=True, validate=validate.Length(min=1, max=120))
    description = fields.Str(load_default="", validate=validate.Length(max=2000))
    unit_code = fields.Str(
        load_default=None, metadata={"description": "the launching unit (department handlers: their own)"}
    )
    checklist = fields.Raw(
        required=True,
        metadata={"description": 'check items: titles, or {"key", "title"} (key: lowercase, digits, _)'},
    )
    grid_codes = fields.List(
        fields.Str(), load_default=list, metadata={"description": "target grids (subtrees)"}
    )
    place_types = fields.List(fields.Str(), load_default=list, metadata={"description": "target place types"})
    deadline = fields.AwareDateTime(required=True, metadata={"description": "when every inspection is due"})
    rectify_days = BoundedInt(
        load_default=5,
        validate=validate.Range(min=1, max=60),
        metadata={"description": "working days a rectification notice gives (整改期限)"},
    )


class CampaignQueryArgs(Schema):
    status = fields.Str(validate=validate.OneOf([CampaignStatus.RUNNING, CampaignStatus.COMPLETED]))
    unit_code = fields.Str()
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class CountsSchema(Schema):
    total = BoundedInt()
    done = BoundedInt(metadata={"description": "已通过: passed, at once or after rectification"})
    failed = BoundedInt(metadata={"description": "未通过: failed the re-inspection, blacklisted"})
    rectifying = BoundedInt(metadata={"description": "整改中: a rectification notice runs"})
    pending = BoundedInt(metadata={"description": "待检查: not inspected yet"})
    overdue = BoundedInt(metadata={"description": "逾期未检查: still not inspected at the campaign deadline"})


class GridCountsSchema(CountsSchema):
    grid_code = fields.Str()
    grid_name = fields.Str(allow_none=True)


class CampaignSchema(Schema):
    id = BoundedInt()
    title = fields.Str()
    description = fields.Str()
    unit_code = fields.Str()
    checklist = fields.List(fields.Nested(CheckItemSchema))
    target_grid_codes = fields.List(fields.Str())
    target_place_types = fields.List(fields.Str())
    deadline = fields.DateTime()
    rectify_days = BoundedInt()
    status = fields.Str()
    instance_id = BoundedInt(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    counts = fields.Nested(CountsSchema, metadata={"description": "over the items you may see"})


class CampaignDetailSchema(CampaignSchema):
    grids = fields.List(fields.Nested(GridCountsSchema), metadata={"description": "per comprehensive grid"})


class ItemQueryArgs(Schema):
    status = fields.Str(validate=validate.OneOf(list(ItemStatus.ALL)))
    grid = fields.Str(validate=_GRID_CODE)
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class ItemSchema(Schema):
    id = BoundedInt()
    campaign_id = BoundedInt()
    place = fields.Nested(PlaceSchema)
    grid_code = fields.Str()
    status = fields.Str()
    inspector = fields.Str()
    inspected_at = fields.DateTime(allow_none=True)
    inspected_by = fields.Str(allow_none=True)
    failed_items = fields.List(fields.Str(), allow_none=True)
    notice_issued_at = fields.DateTime(allow_none=True)
    rectify_due_at = fields.DateTime(allow_none=True)
    reinspected_at = fields.DateTime(allow_none=True)
    reinspected_by = fields.Str(allow_none=True)
    refailed_items = fields.List(fields.Str(), allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class PhotoSchema(Schema):
    id = BoundedInt()
    item_id = BoundedInt()
    content_type = fields.Str()
    size = BoundedInt()
    sha256 = fields.Str()
    width = BoundedInt()
    height = BoundedInt()
    taken_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
