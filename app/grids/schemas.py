from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.grids.codes import LEVELS, MAX_CODE_LENGTH, path_codes
from app.inputs import BoundedInt

_CODE = validate.Regexp(rf"^\d{{6,{MAX_CODE_LENGTH}}}$", error="expected a grid code: 6 to 21 digits")


class GridQueryArgs(Schema):
    parent = fields.Str(validate=_CODE, metadata={"description": "direct children of this grid"})
    level = fields.Str(validate=validate.OneOf(LEVELS))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=100))


class GridSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    level = fields.Str()
    parent_code = fields.Str(allow_none=True)
    bbox = fields.List(fields.Float(), metadata={"description": "[min_lon, min_lat, max_lon, max_lat]"})
    created_at = fields.DateTime()


class GridDetailSchema(GridSchema):
    path = fields.Function(
        lambda g: path_codes(g.code), metadata={"description": "codes from the district down"}
    )
    geometry = fields.Dict(metadata={"description": "GeoJSON Polygon or MultiPolygon, lon/lat WGS84"})


class LocateArgs(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class LocationSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    level = fields.Str()
    path = fields.List(fields.Str(), metadata={"description": "codes from the district down"})


class RejectionSchema(Schema):
    index = BoundedInt(metadata={"description": "position in the file's features, from 0"})
    code = fields.Str(allow_none=True)
    kind = fields.Str()
    reason = fields.Str()


class ImportReportSchema(Schema):
    features = BoundedInt()
    created = BoundedInt()
    unchanged = BoundedInt()
    created_by_level = fields.Dict(keys=fields.Str(), values=BoundedInt())
    rejected_features = BoundedInt()
    rejected = fields.List(fields.Nested(RejectionSchema))
    version = BoundedInt(allow_none=True)


class AssignedGridSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    level = fields.Str()


class UserGridsSchema(Schema):
    username = fields.Str()
    role = fields.Str()
    grids = fields.List(fields.Nested(AssignedGridSchema))


class UserGridsInput(Schema):
    grids = fields.List(
        fields.Str(validate=_CODE),
        required=True,
        metadata={"description": "grid codes; replaces the current assignment ([] removes it)"},
    )
