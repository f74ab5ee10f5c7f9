"""Device registry payloads (API, CLI and CSV rows all load through ``DeviceInput``) and responses."""

from __future__ import annotations

import base64
import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.devices.types import COORDINATOR, COORDINATOR_NAME, DEVICE_TYPES, DeviceStatus
from app.grids.codes import code_problem
from app.http import PageArgs
from app.inputs import both_or_neither

DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class ContactSchema(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=80))
    phone = fields.Str(required=True, validate=validate.Regexp(r"^\+?[0-9][0-9 -]{2,30}$"))
    relation = fields.Str(load_default="", validate=validate.Length(max=40))


class DeviceInput(Schema):
    device_id = fields.Str(
        required=True, validate=validate.Regexp(DEVICE_ID, error="1-64 of A-Z a-z 0-9 _ . : -")
    )
    # zigbee2mqtt friendly name; defaults to device_id. '/' is allowed (it nests topics), wildcards are not.
    friendly_name = fields.Str(load_default=None, validate=validate.Length(min=1, max=200))
    device_type = fields.Str(required=True, validate=validate.OneOf(sorted(DEVICE_TYPES)))
    lat = fields.Float(load_default=None, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, validate=validate.Range(-180, 180))
    address = fields.Str(load_default=None, validate=validate.Length(max=300))
    building_code = fields.Str(load_default=None)
    resident_name = fields.Str(load_default=None, validate=validate.Length(max=80))
    resident_phone = fields.Str(load_default=None, validate=validate.Length(max=32))
    resident_notes = fields.Str(load_default=None, validate=validate.Length(max=500))
    emergency_contacts = fields.List(fields.Nested(ContactSchema), load_default=list)

    @validates("friendly_name")
    def _friendly_name(self, value: str | None, **_: Any) -> None:
        if value is None:
            return
        if any(c in value for c in "+#\x00") or value.startswith("/") or value.endswith("/") or "//" in value:
            raise ValidationError("no '+', '#' or empty topic levels (leading, trailing or double '/')")
        if value.endswith(("/availability", "/set", "/get")) or value.startswith("bridge/"):
            raise ValidationError("clashes with a zigbee2mqtt topic (bridge, …/availability, …/set, …/get)")

    @validates_schema
    def _coordinator_is_the_bridge(self, data: dict[str, Any], **_: Any) -> None:
        """The coordinator is what zigbee2mqtt/bridge/state speaks for: it, and only it, is named "bridge"."""
        coordinator = data.get("device_type") == COORDINATOR
        if coordinator != (data.get("friendly_name") == COORDINATOR_NAME):
            raise ValidationError(
                f"the {COORDINATOR} device, and only it, has the friendly name {COORDINATOR_NAME!r}",
                "friendly_name",
            )

    @validates("building_code")
    def _building_code(self, value: str | None, **_: Any) -> None:
        problem = code_problem(value, "building") if value is not None else None
        if problem:
            raise ValidationError(problem)

    @validates_schema
    def _both_coordinates(self, data: dict[str, Any], **_: Any) -> None:
        both_or_neither(data)


class DeviceSchema(Schema):
    device_id = fields.Str()
    friendly_name = fields.Str()
    device_type = fields.Str()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    grid_code = fields.Str(allow_none=True)
    building_code = fields.Str(allow_none=True)
    address = fields.Str(allow_none=True)
    resident_name = fields.Str(allow_none=True)
    resident_phone = fields.Str(allow_none=True)
    resident_notes = fields.Str(allow_none=True)
    emergency_contacts = fields.List(fields.Dict())
    status = fields.Str(metadata={"enum": list(DeviceStatus.ALL)})
    last_seen_at = fields.DateTime(allow_none=True)
    last_values = fields.Dict()
    created_at = fields.DateTime()
    dead_letter_count = fields.Method(
        "_dead_letters", metadata={"description": "messages of this device that could not be used"}
    )

    def _dead_letters(self, device: Any) -> int:
        from app.devices.services import dead_letter_count

        return dead_letter_count(device.id)


class RegisteredDeviceSchema(Schema):
    device = fields.Nested(DeviceSchema)
    token = fields.Str(metadata={"description": "HTTP ingestion token: shown once, only its hash is kept"})


class DeviceTokenSchema(Schema):
    device_id = fields.Str()
    token = fields.Str()


class DeviceQueryArgs(PageArgs):
    status = fields.Str(validate=validate.OneOf(DeviceStatus.ALL))
    device_type = fields.Str(validate=validate.OneOf(sorted(DEVICE_TYPES)))
    grid = fields.Str(metadata={"description": "grid code: devices in this grid's subtree"})


class AlarmSchema(Schema):
    id = fields.Int()
    alarm_type = fields.Str()
    active = fields.Bool()
    severity = fields.Str()
    count = fields.Int()
    started_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    cleared_at = fields.DateTime(allow_none=True)
    reopen_count = fields.Int()
    toggle_count = fields.Int()
    flapping = fields.Bool()
    values = fields.Dict()
    incident_id = fields.Int(allow_none=True)


class DeadLetterQueryArgs(PageArgs):
    reason_code = fields.Str()
    device = fields.Str(metadata={"description": "device id: the dead letters linked to this device"})


class DeadLetterSchema(Schema):
    id = fields.Int()
    received_at = fields.DateTime()
    source = fields.Str()
    topic = fields.Str()
    reason_code = fields.Str()
    reason = fields.Str()
    retained = fields.Bool()
    payload_size = fields.Int()
    device = fields.Method(
        "_device", metadata={"description": "the device id its topic names, if registered"}
    )
    payload_text = fields.Method(
        "_text", metadata={"description": "the payload as UTF-8 (bad bytes replaced)"}
    )
    payload_base64 = fields.Method("_base64", metadata={"description": "the stored payload bytes, base64"})

    def _device(self, letter: Any) -> str | None:
        from app.devices.models import Device
        from app.extensions import db

        device = db.session.get(Device, letter.device_id) if letter.device_id is not None else None
        return device.device_id if device is not None else None

    def _text(self, letter: Any) -> str:
        return bytes(letter.payload).decode("utf-8", errors="replace")

    def _base64(self, letter: Any) -> str:
        return base64.b64encode(bytes(letter.payload)).decode("ascii")


class IncidentQueryArgs(PageArgs):
    status = fields.Str(
        validate=validate.OneOf(("active", "cleared")),
        metadata={"description": "active: some alarm of it still on; cleared: all its alarms ended"},
    )
    device = fields.Str(metadata={"description": "device id: incidents with an alarm of this device"})


class IncidentSchema(Schema):
    id = fields.Int()
    alarm_type = fields.Str()
    alarm_group = fields.Str(allow_none=True)
    building_code = fields.Str(allow_none=True)
    grid_code = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    severity = fields.Str()
    alarm_count = fields.Int()
    opened_at = fields.DateTime()
    last_alarm_at = fields.DateTime()
    case_key = fields.Method("_case_key", metadata={"description": "the case it opened"})

    def _case_key(self, incident: Any) -> str | None:
        from app.cases.models import Case
        from app.extensions import db

        case = db.session.get(Case, incident.case_id) if incident.case_id is not None else None
        return case.key if case is not None else None
