from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.http import MAX_PAGE_SIZE, page_schema
from app.inputs import BoundedInt, both_or_neither
from app.kpi.schemas import PeriodBound
from app.mediation.kpi import LABELS
from app.mediation.models import DISPUTE_TYPES, DOCUMENT_KINDS, GRADES, PARTY_ROLES, DisputeStatus

PHONE = validate.Regexp(
    r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$",
    error="expected a mainland mobile (11 digits, 1[3-9]…) or a landline with area code (028-12345678)",
)
GRID_CODE = validate.Regexp(r"^\d{6,21}$", error="expected a grid code (6-21 digits)")


def _labels(labels: dict[str, tuple[str, str]]) -> str:
    return ", ".join(f"{key} {zh}" for key, (zh, _) in labels.items())


class PartyInput(Schema):
    name = fields.Str(
        required=True, validate=validate.Length(min=1, max=80), metadata={"description": "姓名"}
    )
    phone = fields.Str(validate=PHONE, metadata={"description": "联系电话"})
    address = fields.Str(
        validate=validate.Length(max=300), metadata={"description": "住址 (楼栋、单元、房号)"}
    )
    grid_code = fields.Str(
        validate=GRID_CODE, metadata={"description": "所在网格/小区/楼栋编码; default: the dispute's grid"}
    )
    role = fields.Str(
        required=True,
        validate=validate.OneOf(PARTY_ROLES),
        metadata={"description": f"纠纷中的身份: {_labels(PARTY_ROLES)}"},
    )


class DisputeFileInput(Schema):
    dispute_type = fields.Str(
        required=True,
        validate=validate.OneOf(DISPUTE_TYPES),
        metadata={"description": _labels(DISPUTE_TYPES)},
    )
    description = fields.Str(
        required=True, validate=validate.Length(min=5, max=4000), metadata={"description": "纠纷经过"}
    )
    parties = fields.List(
        fields.Nested(PartyInput),
        required=True,
        validate=validate.Length(min=1, max=20, error="give 1 to 20 parties"),
        metadata={
            "description": "当事人: at least one (the applicant); the other side may be added when known"
        },
    )
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    lon = fields.Float(validate=validate.Range(min=-180, max=180))
    address = fields.Str(
        validate=validate.Length(max=300), metadata={"description": "纠纷发生地; stored cut"}
    )
    grid_code = fields.Str(
        validate=GRID_CODE, metadata={"description": "纠纷所在网格; else located by lat/lon"}
    )

    @validates_schema
    def _both_coordinates(self, data: dict[str, Any], **kwargs: Any) -> None:
        both_or_neither(data)


class PartySchema(Schema):
    position = BoundedInt(metadata={"description": "当事人编号 (session records refer to it)"})
    role = fields.Str()
    grid_code = fields.Str(allow_none=True)
    name = fields.Str(metadata={"description": "masked (张*) unless you may see personal data"})
    phone = fields.Str(allow_none=True, metadata={"description": "masked (138****5678) likewise"})
    address = fields.Str(allow_none=True, metadata={"description": "cut before the house number likewise"})


class SessionSchema(Schema):
    number = BoundedInt()
    held_at = fields.DateTime()
    mode = fields.Str()
    place = fields.Str(allow_none=True)
    attendees = fields.List(BoundedInt(), metadata={"description": "party positions"})
    other_attendees = fields.Str(allow_none=True)
    record = fields.Str()
    outcome = fields.Str()


class DocumentSchema(Schema):
    id = BoundedInt()
    kind = fields.Str()
    content_type = fields.Str()
    size = BoundedInt()
    original_name = fields.Str(allow_none=True)
    created_at = fields.DateTime()


class DisputeSummarySchema(Schema):
    """A dispute in the list: the detail without the description, sessions and documents."""

    key = fields.Str(metadata={"description": "the case key"})
    case_status = fields.Str()
    status = fields.Str(metadata={"description": "intake, mediating, agreed, failed, closed"})
    redacted = fields.Bool(metadata={"description": "true: parties masked, description withheld"})
    dispute_type = fields.Str()
    grade = fields.Str(allow_none=True)
    grid_code = fields.Str(allow_none=True)
    filed_by = fields.Str()
    mediator = fields.Str(allow_none=True)
    mediator_kind = fields.Str(allow_none=True)
    session_count = BoundedInt()
    outcome = fields.Str(allow_none=True)
    referral_to = fields.Str(allow_none=True)
    referral_reason = fields.Str(allow_none=True)
    agreement_kept = fields.Str(allow_none=True)
    satisfaction = fields.Str(allow_none=True)
    filed_at = fields.DateTime()
    assigned_at = fields.DateTime(allow_none=True)
    agreed_at = fields.DateTime(allow_none=True)
    concluded_at = fields.DateTime(allow_none=True)
    follow_up_at = fields.DateTime(allow_none=True)
    follow_up_due_at = fields.DateTime(allow_none=True)
    follow_up_done_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    parties = fields.List(fields.Nested(PartySchema))


class DisputeSchema(DisputeSummarySchema):
    description = fields.Str(allow_none=True)
    sessions = fields.List(fields.Nested(SessionSchema))
    documents = fields.List(fields.Nested(DocumentSchema))


DisputePage = page_schema(DisputeSummarySchema, "DisputePage")


class DisputeQueryArgs(Schema):
    status = fields.Str(validate=validate.OneOf(DisputeStatus.ALL))
    grade = fields.Str(validate=validate.OneOf(GRADES))
    dispute_type = fields.Str(
        validate=validate.OneOf(DISPUTE_TYPES), metadata={"description": _labels(DISPUTE_TYPES)}
    )
    mediator = fields.Str(
        validate=validate.Length(min=1, max=80), metadata={"description": "the assigned mediator's username"}
    )
    grid = fields.Str(validate=GRID_CODE, metadata={"description": "only disputes in this grid's subtree"})
    q = fields.Str(validate=validate.Length(min=1, max=40), metadata={"description": "part of the case key"})
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class DocumentUploadArgs(Schema):
    kind = fields.Str(required=True, validate=validate.OneOf(DOCUMENT_KINDS))


class DisputeKpiArgs(Schema):
    from_ = PeriodBound(required=True, data_key="from", metadata={"description": "period start, inclusive"})
    to = PeriodBound(required=True, metadata={"description": "period end, exclusive"})
    grid = fields.Str(validate=GRID_CODE, metadata={"description": "only disputes in this grid's subtree"})

    @validates_schema
    def _period_not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("must be later than from", "to")


def _kpi_fields() -> dict[str, fields.Field]:
    out: dict[str, fields.Field] = {
        "from_": fields.DateTime(data_key="from"),
        "to": fields.DateTime(),
        "grid": fields.Str(allow_none=True),
    }
    for key, (zh, en) in LABELS.items():
        described = {"description": f"{zh} {en}"}
        if key.endswith("_rate") or key.startswith("mean_"):
            out[key] = fields.Float(allow_none=True, metadata=described)
        else:
            out[key] = BoundedInt(metadata=described)
    return out


DisputeKpiSchema = Schema.from_dict(_kpi_fields(), name="DisputeKpi")


class MediatorSchema(Schema):
    username = fields.Str()
    display_name = fields.Str()
    kind = fields.Str(metadata={"description": "community 社区调解员 | volunteer 志愿调解员"})
    open_mediations = BoundedInt(metadata={"description": "在办调解数"})


class MediatorArgs(Schema):
    community = fields.Str(validate=GRID_CODE, metadata={"description": "a community code (12 digits)"})


class VolunteerInput(Schema):
    community_code = fields.Str(
        load_default=None,
        allow_none=True,
        validate=GRID_CODE,
        metadata={"description": "null: any community"},
    )


class VolunteerSchema(Schema):
    username = fields.Function(lambda v: v.user.username)
    community_code = fields.Str(allow_none=True)
    active = fields.Bool()
