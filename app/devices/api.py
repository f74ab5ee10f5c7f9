"""Device registry, incident and dead-letter endpoints. Admins and dispatchers register; supervisors read;
each within their grid scope (``app.devices.visibility``, the same rules as the sensor pages).
(HTTP ingestion for the devices themselves is connectors/http_ingest.py.)"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.roles import Role
from app.devices import services
from app.devices.models import Device, Incident
from app.devices.schemas import (
    AlarmSchema,
    DeadLetterQueryArgs,
    DeadLetterSchema,
    DeviceInput,
    DeviceQueryArgs,
    DeviceSchema,
    DeviceTokenSchema,
    IncidentQueryArgs,
    IncidentSchema,
    RegisteredDeviceSchema,
)
from app.devices.visibility import dead_letter_in_scope, located_in_scope, visible_device
from app.extensions import db
from app.http import PageArgs, page_schema, paginate, require_roles

WRITERS = frozenset({Role.ADMIN, Role.DISPATCHER})
READERS = frozenset({Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR})

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="传感设备 Devices")
dead_letters_blp = Blueprint(
    "dead_letters", __name__, url_prefix="/api/v1/dead-letters", description="死信 Dead letters"
)
incidents_blp = Blueprint(
    "incidents", __name__, url_prefix="/api/v1/incidents", description="传感事件 Sensor incidents"
)
DevicePage = page_schema(DeviceSchema, "DevicePage")
AlarmPage = page_schema(AlarmSchema, "AlarmPage")
DeadLetterPage = page_schema(DeadLetterSchema, "DeadLetterPage")
IncidentPage = page_schema(IncidentSchema, "IncidentPage")


@blp.route("")
class Devices(MethodView):
    @blp.arguments(DeviceQueryArgs, location="query")
    @blp.response(200, DevicePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List devices, with filters (status, type, grid subtree): those in the user's grid scope."""
        user = require_roles(READERS)
        page, page_size = args.pop("page"), args.pop("page_size")
        statement = services.list_devices(**args).where(located_in_scope(user, Device.grid_code))
        return paginate(statement, page, page_size)

    @blp.arguments(DeviceInput)
    @blp.response(201, RegisteredDeviceSchema)
    def post(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Register a device; the answer holds its HTTP ingestion token, shown this once."""
        user = require_roles(WRITERS)
        device, token = services.register_device(fields, actor=user)
        db.session.commit()
        return {"device": device, "token": token}


@blp.route("/<device_id>")
class DeviceItem(MethodView):
    @blp.response(200, DeviceSchema)
    def get(self, device_id: str) -> Any:
        """A device outside the user's grid scope answers 404, like one that is not registered."""
        return visible_device(require_roles(READERS), device_id)


@blp.route("/<device_id>/token")
class DeviceTokenItem(MethodView):
    @blp.response(201, DeviceTokenSchema)
    def post(self, device_id: str) -> dict[str, Any]:
        """Issue a new HTTP ingestion token (the old one stops working); shown this once."""
        user = require_roles(WRITERS)
        token = services.issue_token(visible_device(user, device_id), actor=user)
        db.session.commit()
        return {"device_id": device_id, "token": token}


@blp.route("/<device_id>/alarms")
class DeviceAlarms(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, AlarmPage)
    def get(self, args: dict[str, Any], device_id: str) -> dict[str, Any]:
        """The device's alarms, newest first."""
        device = visible_device(require_roles(READERS), device_id)
        return paginate(services.device_alarms(device.device_id), args["page"], args["page_size"])


@dead_letters_blp.route("")
class DeadLetters(MethodView):
    @dead_letters_blp.arguments(DeadLetterQueryArgs, location="query")
    @dead_letters_blp.response(200, DeadLetterPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Messages that could not be used, newest first, with the reason, the topic and the raw payload."""
        user = require_roles(WRITERS)
        page, page_size = args.pop("page"), args.pop("page_size")
        if args.get("device"):
            visible_device(user, args["device"])
        statement = services.list_dead_letters(**args).where(dead_letter_in_scope(user))
        return paginate(statement, page, page_size)


@incidents_blp.route("")
class Incidents(MethodView):
    @incidents_blp.arguments(IncidentQueryArgs, location="query")
    @incidents_blp.response(200, IncidentPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sensor incidents (alarms correlated into one real event, one case each), newest first."""
        user = require_roles(READERS)
        page, page_size = args.pop("page"), args.pop("page_size")
        statement = services.list_incidents(**args).where(located_in_scope(user, Incident.grid_code))
        return paginate(statement, page, page_size)
