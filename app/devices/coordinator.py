"""The zigbee2mqtt coordinator and its network: a dead coordinator silences every zigbee device behind it,
so its ``bridge/state`` offline is ONE maintenance incident (one case) naming it and every device behind it,
instead of a maintenance case per device later; online again ends that episode. Device joins and leaves
(``bridge/event``) are recorded on the device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.audit.services import record
from app.config import SensorSettings
from app.devices.alarms import AlarmChange, apply_reading
from app.devices.models import Device
from app.devices.types import COORDINATOR, DEVICE_TYPES, MAINTENANCE, ZIGBEE2MQTT
from app.extensions import db

BEHIND_COORDINATOR = tuple(
    code for code, kind in DEVICE_TYPES.items() if kind.family == ZIGBEE2MQTT and code != COORDINATOR
)


def is_coordinator(device: Device) -> bool:
    return device.device_type == COORDINATOR


def coordinator_changed(
    device: Device, online: bool, at: datetime, settings: SensorSettings
) -> AlarmChange | None:
    """Raise (offline) or end (online) the coordinator's maintenance episode. A retained offline is the
    bridge's last will, still true: it counts."""
    values: dict[str, Any] = {
        "status": "online" if online else "offline",
        "coordinator": device.friendly_name,
    }
    if not online:
        values["devices"] = devices_behind()
    return apply_reading(device, MAINTENANCE, not online, values, retained=False, at=at, settings=settings)


def devices_behind() -> list[str]:
    """The friendly names of the zigbee devices a coordinator serves (one zigbee2mqtt: all of them)."""
    return list(
        db.session.execute(
            select(Device.friendly_name)
            .where(Device.device_type.in_(BEHIND_COORDINATOR))
            .order_by(Device.friendly_name)
        ).scalars()
    )


def coordinator_down() -> bool:
    """A registered coordinator is offline: its devices' silence is its maintenance case, not theirs."""
    found = db.session.execute(
        select(Device.id).where(Device.device_type == COORDINATOR, Device.available.is_(False)).limit(1)
    ).first()
    return found is not None


def record_network_event(device: Device, event: str, at: datetime) -> None:
    """zigbee2mqtt's bridge/event about this device: audited, and kept in its latest values."""
    device.last_values = {
        **(device.last_values or {}),
        "network_event": event,
        "network_event_at": at.isoformat(),
    }
    record(
        "device.network_event",
        entity_type="device",
        entity_id=device.device_id,
        actor_label="zigbee2mqtt:bridge",
        data={"event": event, "at": at.isoformat()},
    )
