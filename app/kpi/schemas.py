from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.kpi import periods
from app.kpi.services import COUNT_LABELS, GROUPINGS, RATE_LABELS


class PeriodBound(fields.Field):
    """A date (local midnight, UTC+8) or an ISO 8601 date-time; loaded as an aware UTC datetime."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("expected a date or date-time string")
        try:
            return periods.parse_bound(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class KpiArgs(Schema):
    group_by = fields.Str(
        load_default="overall",
        validate=validate.OneOf(GROUPINGS),
        metadata={"description": "overall | street | community | grid (by code prefix) | unit | worker"},
    )
    from_ = PeriodBound(
        required=True, data_key="from", metadata={"description": "period start, inclusive (2026-11-01)"}
    )
    to = PeriodBound(required=True, metadata={"description": "period end, exclusive (2026-12-01)"})
    grid = fields.Str(
        validate=validate.Regexp(r"^\d{6,21}$", error="expected a grid code (6-21 digits)"),
        metadata={"description": "only cases in this grid's subtree"},
    )
    granularity = fields.Str(
        validate=validate.OneOf(periods.GRANULARITIES),
        metadata={"description": "day | week | month: one row per group and bucket (a trend)"},
    )
    format = fields.Str(load_default="json", validate=validate.OneOf(("json", "csv")))

    @validates_schema
    def _period_not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("must be later than from", "to")


def _row_fields() -> dict[str, fields.Field]:
    row: dict[str, fields.Field] = {
        "period_start": fields.DateTime(),
        "period_end": fields.DateTime(),
        "key": fields.Str(allow_none=True, metadata={"description": "grid code, unit code or username"}),
        "name": fields.Str(allow_none=True),
    }
    for key, (zh, en) in COUNT_LABELS.items():
        row[key] = fields.Int(metadata={"description": f"{zh} {en}"})
    row["mean_handling_minutes"] = fields.Float(allow_none=True, metadata={"description": "平均处置时长"})
    for key, (zh, en) in RATE_LABELS.items():
        row[key] = fields.Float(allow_none=True, metadata={"description": f"{zh} {en} (0..1, null: no base)"})
    return row


KpiRowSchema = Schema.from_dict(_row_fields(), name="KpiRow")


class KpiReportSchema(Schema):
    group_by = fields.Str()
    from_ = fields.DateTime(data_key="from")
    to = fields.DateTime()
    grid = fields.Str(allow_none=True)
    granularity = fields.Str(allow_none=True)
    rows = fields.List(fields.Nested(KpiRowSchema))
