from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.grids.codes import MAX_CODE_LENGTH
from app.inputs import BoundedInt
from app.units.models import UNIT_KINDS, Unit
from app.units.services import MAX_NAME_LENGTH, MAX_PHONE_LENGTH, UNIT_CODE_PATTERN, unit_members

_UNIT_CODE = validate.Regexp(
    UNIT_CODE_PATTERN,
    error="expected a unit code: 2-40 lowercase letters, digits, '_' or '-', starting with a letter or digit",
)
_GRID_CODE = validate.Regexp(rf"^\d{{6,{MAX_CODE_LENGTH}}}$", error="expected a grid code: 6 to 21 digits")
_KIND = validate.OneOf(list(UNIT_KINDS))
_NAME = validate.Length(min=1, max=MAX_NAME_LENGTH)
_PHONE = validate.Length(max=MAX_PHONE_LENGTH)


class UnitQueryArgs(Schema):
    kind = fields.Str(validate=_KIND)
    grid = fields.Str(
        validate=_GRID_CODE, metadata={"description": "units serving this grid (linked to it or above it)"}
    )
    q = fields.Str(validate=validate.Length(min=1, max=80), metadata={"description": "in code or name"})
    active = fields.Bool()
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class ServedGridSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    level = fields.Str()


class MemberSchema(Schema):
    username = fields.Str()
    display_name = fields.Str()
    role = fields.Str()
    active = fields.Bool()


class UnitSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    kind_label = fields.Function(lambda u: UNIT_KINDS[u.kind][0], metadata={"description": "zh-CN"})
    phone = fields.Str(allow_none=True)
    active = fields.Bool()
    grid_codes = fields.Function(
        lambda u: [g.code for g in u.grids], metadata={"description": "grids served"}
    )
    created_at = fields.DateTime()


class UnitDetailSchema(UnitSchema):
    grids = fields.List(fields.Nested(ServedGridSchema))
    members = fields.Method(
        "_members", metadata={"description": "users whose unit_code is this unit's code (部门处置人员)"}
    )

    def _members(self, unit: Unit) -> list[dict[str, object]]:
        return MemberSchema(many=True).dump(unit_members(unit))


class UnitCreateSchema(Schema):
    code = fields.Str(required=True, validate=_UNIT_CODE)
    name = fields.Str(required=True, validate=_NAME)
    kind = fields.Str(required=True, validate=_KIND)
    phone = fields.Str(load_default=None, allow_none=True, validate=_PHONE)
    grids = fields.List(fields.Str(validate=_GRID_CODE), load_default=list)


class UnitUpdateSchema(Schema):
    name = fields.Str(validate=_NAME)
    kind = fields.Str(validate=_KIND)
    phone = fields.Str(allow_none=True, validate=_PHONE)
    active = fields.Bool(metadata={"description": "true reactivates a deactivated unit"})


class GridListSchema(Schema):
    grids = fields.List(fields.Str(validate=_GRID_CODE), required=True)
