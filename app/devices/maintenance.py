"""Maintenance cases: a device offline or with a low battery beyond the configured limit opens ONE case
(category P01 公用设施, via the ``maintenance`` alarm type) per episode. The episode is the device's active
``maintenance`` alarm, unique while active like any alarm; it clears once the device is back online and
well, and a new one opens only after that and once the previous maintenance case is no longer open."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from app import runtime
from app.cases.models import Case, CaseStatus
from app.clock import as_utc, now
from app.config import SensorSettings
from app.devices.alarms import apply_reading
from app.devices.case_opening import open_case_for_incident
from app.devices.coordinator import BEHIND_COORDINATOR, coordinator_down
from app.devices.models import Alarm, Device, Incident
from app.devices.types import MAINTENANCE, DeviceStatus
from app.extensions import db

NEEDS_MAINTENANCE = (DeviceStatus.OFFLINE, DeviceStatus.LOW_BATTERY)


def sweep(settings: SensorSettings, at: datetime | None = None) -> list[Case]:
    """Open the maintenance cases now due and end the episodes of recovered devices (the caller commits).
    Meant for the scheduler's periodic round; returns the cases opened."""
    at = at or now()
    limit = timedelta(minutes=settings.maintenance_after_minutes)
    opened: list[Case] = []
    # Only devices that need maintenance or have an episode to end: the rest (nearly all) are not read.
    candidates = select(Device).where(
        or_(
            Device.status.in_(NEEDS_MAINTENANCE),
            Device.id.in_(
                select(Alarm.device_id).where(Alarm.alarm_type == MAINTENANCE, Alarm.active.is_(True))
            ),
        )
    )
    # A dead coordinator's episode names every zigbee device behind it: they get no case of their own.
    behind_dead_coordinator = coordinator_down()
    for device in db.session.execute(candidates.order_by(Device.id)).scalars():
        episode = _active_episode(device)
        if behind_dead_coordinator and device.device_type in BEHIND_COORDINATOR and episode is None:
            continue
        if device.status not in NEEDS_MAINTENANCE:
            if episode is not None:
                apply_reading(device, MAINTENANCE, False, {}, retained=False, at=at, settings=settings)
            continue
        if episode is not None or at - as_utc(device.updated_at) < limit or _open_case(device):
            continue
        change = apply_reading(
            device, MAINTENANCE, True, {"status": device.status}, retained=False, at=at, settings=settings
        )
        if change is not None and change.incident is not None:
            db.session.flush()  # the new alarm and incident
            case = open_case_for_incident(change.incident.id)
            if case is not None:
                opened.append(case)
    return opened


def _active_episode(device: Device) -> Alarm | None:
    return db.session.execute(
        select(Alarm).where(
            Alarm.device_id == device.id, Alarm.alarm_type == MAINTENANCE, Alarm.active.is_(True)
        )
    ).scalar_one_or_none()


def _open_case(device: Device) -> bool:
    """A maintenance case of an earlier episode still open: the device is not reported twice."""
    found = db.session.execute(
        select(Case.id)
        .join(Incident, Incident.case_id == Case.id)
        .join(Alarm, Alarm.incident_id == Incident.id)
        .where(
            Alarm.device_id == device.id,
            Alarm.alarm_type == MAINTENANCE,
            Case.status.not_in(CaseStatus.FINAL),
        )
        .limit(1)
    ).first()
    return found is not None


def scheduled_sweep() -> int:
    """The scheduler's periodic round (registered in ``create_app``): how many maintenance cases opened."""
    return len(sweep(runtime.settings().sensors))
