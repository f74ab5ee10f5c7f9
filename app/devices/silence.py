"""Our own silence timeout: a device not heard from for its kind's interval (``DeviceType.silence_minutes``)
goes offline, whether or not zigbee2mqtt's availability feature is on (it is opt-in), so a dead device is
noticed and, past the maintenance limit, gets its maintenance case (``app.devices.maintenance``). Run by
the scheduler's round, before the maintenance sweep; the next message brings the device back online."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from app.audit.services import record
from app.clock import as_utc, now
from app.devices.models import Device
from app.devices.services import observe
from app.devices.types import DEVICE_TYPES
from app.extensions import db


def mark_silent(at: datetime | None = None) -> int:
    """Take the devices silent past their kind's interval offline (the caller commits); how many."""
    at = at or now()
    silent_kinds = [
        and_(Device.device_type == code, Device.last_seen_at < at - timedelta(minutes=kind.silence_minutes))
        for code, kind in DEVICE_TYPES.items()
        if kind.silence_minutes is not None
    ]
    # A device that never reported stays "never seen": it has no last report to be silent after.
    found = db.session.execute(
        select(Device)
        .where(Device.available.is_(True), or_(*silent_kinds))
        .order_by(Device.id)
        .with_for_update()
    ).scalars()
    count = 0
    for device in found:
        interval = DEVICE_TYPES[device.device_type].silence_minutes
        assert device.last_seen_at is not None
        record(
            "device.silent",
            entity_type="device",
            entity_id=device.device_id,
            actor_label="system:silence",
            data={"last_seen_at": as_utc(device.last_seen_at).isoformat(), "silence_minutes": interval},
        )
        observe(device, at=at, available=False)
        count += 1
    return count


def scheduled_silence() -> int:
    """The scheduler's periodic round (registered in ``create_app``)."""
    return mark_silent()
