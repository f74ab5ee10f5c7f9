from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.categories.models import CATEGORY_KINDS, RESPONSIBLE_LEVELS
from app.inputs import BoundedInt
from app.timelimits.calendar import SEVERITIES
from app.units.models import UNIT_KINDS

CATEGORY_CODE = validate.Regexp(
    r"^[EP]\d{2}(\d{2})?$", error="expected a category code: E or P, then 2 or 4 digits (e.g. E0102)"
)


class CategoryQueryArgs(Schema):
    kind = fields.Str(validate=validate.OneOf(CATEGORY_KINDS))
    parent = fields.Str(
        validate=validate.Regexp(r"^([EP]\d{2})?$", error="expected a class code such as E01, or empty"),
        metadata={"description": "sub-classes of this class; empty: the classes"},
    )
    q = fields.Str(validate=validate.Length(min=1, max=80), metadata={"description": "code or name contains"})
    include_inactive = fields.Bool(load_default=False)
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class CategorySchema(Schema):
    code = fields.Str()
    kind = fields.Str()
    parent_code = fields.Str(allow_none=True)
    name = fields.Str()
    name_en = fields.Str(allow_none=True)
    default_severity = fields.Str()
    responsible_level = fields.Str()
    responsible_unit_kind = fields.Str(allow_none=True)
    handle_limit = fields.Str(metadata={"description": "wh working hours, wd working days, h clock hours"})
    close_limit = fields.Str()
    process_key = fields.Str()
    active = fields.Bool()
    updated_at = fields.DateTime()


class CategoryInput(Schema):
    """Types only; the rules (limits, process key, unit kind, class) are the service's, shared with import."""

    code = fields.Str(required=True, validate=CATEGORY_CODE)
    name = fields.Str(required=True)
    name_en = fields.Str(allow_none=True)
    default_severity = fields.Str(required=True, validate=validate.OneOf(SEVERITIES))
    responsible_level = fields.Str(required=True, validate=validate.OneOf(RESPONSIBLE_LEVELS))
    responsible_unit_kind = fields.Str(allow_none=True, validate=validate.OneOf(list(UNIT_KINDS)))
    handle_limit = fields.Str(required=True)
    close_limit = fields.Str(required=True)
    process_key = fields.Str(required=True)
    active = fields.Bool()


class CategoryReplaceInput(CategoryInput):
    code = fields.Str(validate=CATEGORY_CODE)  # the URL names it


class CategoryPatchInput(Schema):
    name = fields.Str()
    name_en = fields.Str(allow_none=True)
    default_severity = fields.Str(validate=validate.OneOf(SEVERITIES))
    responsible_level = fields.Str(validate=validate.OneOf(RESPONSIBLE_LEVELS))
    responsible_unit_kind = fields.Str(allow_none=True, validate=validate.OneOf(list(UNIT_KINDS)))
    handle_limit = fields.Str()
    close_limit = fields.Str()
    process_key = fields.Str()
    active = fields.Bool()
