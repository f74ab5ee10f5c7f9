"""Correlation: alarms of the same group (fire, gas, water) from devices in the same building, or within a
set distance, within the correlation window are one incident; an incident opens exactly one case
(``app.devices.case_opening``: a job after the commit, so ingestion never waits for a process to start)."""

from __future__ import annotations

import math
import zlib
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, text

from app.cases.models import Case, CaseStatus
from app.config import SensorSettings
from app.devices.models import Alarm, Device, Incident
from app.devices.types import ALARM_TYPES
from app.extensions import db
from app.geodesy import EARTH_RADIUS_METERS, distance_meters


def link_alarm(alarm: Alarm, device: Device, at: datetime, settings: SensorSettings) -> Incident | None:
    """A newly opened alarm joins a recent incident nearby, or opens a new incident (returned: its case is
    still to be opened, see ``app.devices.case_opening``). Alarm types without a category open none. The
    alarm is not in the session yet; the caller's flush writes the incident and the alarm together."""
    alarm_type = ALARM_TYPES[alarm.alarm_type]
    if alarm_type.category_code is None:
        return None
    incident = None
    if alarm_type.group is not None:
        _serialize_correlation(alarm_type.group)
        incident = _correlated(alarm_type.group, device, at, settings)
    if incident is not None:
        incident.alarm_count += 1
        incident.last_alarm_at = at
        if _more_severe(alarm.severity, incident.severity):
            incident.severity = alarm.severity
        alarm.incident = incident
        return None
    incident = Incident(
        alarm_type=alarm.alarm_type,
        alarm_group=alarm_type.group,
        building_code=device.building_code,
        grid_code=device.grid_code,
        lat=device.lat,
        lon=device.lon,
        severity=alarm.severity,
        alarm_count=1,
        opened_at=at,
        last_alarm_at=at,
    )
    db.session.add(incident)
    alarm.incident = incident
    return incident


def touch(incident: Incident, at: datetime) -> None:
    """A reopened alarm keeps its incident alive for correlation."""
    incident.last_alarm_at = at


def _serialize_correlation(group: str) -> None:
    """Two listeners seeing two smoke detectors at once must not open two incidents: on PostgreSQL they
    queue on a transaction lock per group (SQLite's BEGIN IMMEDIATE already lets one writer in at a time).
    The lock lasts until the transaction ends, so it is taken once per transaction and group."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    transaction = db.session().get_transaction()
    held: tuple[object, set[str]] | None = db.session.info.get(_LOCKS_HELD)
    if held is None or held[0] is not transaction:
        held = (transaction, set())
        db.session.info[_LOCKS_HELD] = held
    if group in held[1]:
        return
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(group.encode())})
    held[1].add(group)


_LOCKS_HELD = "gridcase.correlation_locks"


def _correlated(group: str, device: Device, at: datetime, settings: SensorSettings) -> Incident | None:
    """The latest recent incident of the group in the device's building or within the distance, whose case
    is not closed (a new alarm after that is news, not part of a finished case). The query asks only for
    those (a box around the device), so a busy district's other incidents are not read."""
    near = []
    if device.building_code:
        near.append(Incident.building_code == device.building_code)
    if device.lat is not None and device.lon is not None:
        dlat = math.degrees(settings.correlation_distance_m / EARTH_RADIUS_METERS)
        dlon = dlat / max(math.cos(math.radians(device.lat)), 0.01)
        near.append(
            and_(
                Incident.lat.between(device.lat - dlat, device.lat + dlat),
                Incident.lon.between(device.lon - dlon, device.lon + dlon),
            )
        )
    if not near:
        return None
    since = at - timedelta(seconds=settings.correlation_window_seconds)
    candidates = db.session.execute(
        select(Incident)
        .outerjoin(Case, Case.id == Incident.case_id)
        .where(Incident.alarm_group == group, Incident.last_alarm_at >= since, or_(*near))
        .where(or_(Incident.case_id.is_(None), Case.status.not_in(CaseStatus.FINAL)))
        .order_by(Incident.last_alarm_at.desc(), Incident.id.desc())
    ).scalars()
    for incident in candidates:
        if device.building_code and incident.building_code == device.building_code:
            return incident
        if (
            None not in (device.lat, device.lon, incident.lat, incident.lon)
            and distance_meters(device.lat, device.lon, incident.lat, incident.lon)  # type: ignore[arg-type]
            <= settings.correlation_distance_m
        ):
            return incident
    return None


SEVERITY_ORDER = ("red", "orange", "yellow", "blue")


def _more_severe(a: str, b: str) -> bool:
    return SEVERITY_ORDER.index(a) < SEVERITY_ORDER.index(b)
