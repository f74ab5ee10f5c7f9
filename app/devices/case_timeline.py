"""What an incident's case hears after it was opened, on its timeline: a second press of a momentary alarm
(``case.alarm_repeated``), why a new case follows a closed one (``case.alarm_retriggered``; a reopened one
says why in ``case.reopened``), and another device joining the incident (``case.alarm_joined``: the title
and description then name the building and every device of the incident, as a fire sets off detector after
detector)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from app.audit.services import record_case_event
from app.cases.models import Case, CaseStatus
from app.devices.case_hook import device_label
from app.devices.models import Alarm, Device, Incident
from app.devices.types import ALARM_TYPES, DEVICE_TYPES
from app.extensions import db
from app.grids.models import Grid

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
RETRIGGER_LABELS = {
    "case_closed": "前案已办结但报警未解除,设备再次报警,另立新案",
    "quiet_time": "距上次触发已超过静默期,设备再次报警,另立新案",
}
# Why a case closed while its alarm was on reopened (SENSOR_AFTER_CLOSED_CASE=reopen): ``case.reopened``.
REOPEN_LABEL = "前案已办结但报警未解除,设备再次报警,重新打开原案"
DEVICES_HEADING = "联动报警设备"  # the block of the description rewritten as devices join


def _open_case(incident: Incident | None) -> Case | None:
    if incident is None or incident.case_id is None:
        return None
    case = db.session.get(Case, incident.case_id)
    return case if case is not None and case.status not in CaseStatus.FINAL else None


def note_repeat(alarm: Alarm, at: datetime) -> None:
    """A momentary alarm triggered again while its case is open (a second SOS press): on the timeline."""
    case = _open_case(alarm.incident)
    if case is None:
        return
    record_case_event(
        "case.alarm_repeated",
        case,
        actor_label=device_label(alarm.device),
        data={
            "label": "设备再次触发报警",
            "alarm_id": alarm.id,
            "alarm_type": alarm.alarm_type,
            "count": alarm.count,
            "at": at.isoformat(),
        },
    )


def record_retrigger(case: Case, alarm: Alarm) -> None:
    """A new case opened because the device's previous alarm was ended by this trigger: say why, and
    which case came before."""
    reason = (alarm.values or {}).get("retrigger")
    if reason is None:
        return
    previous = db.session.get(Alarm, (alarm.values or {}).get("previous_alarm_id"))
    previous_case = None
    if previous is not None and previous.incident is not None and previous.incident.case_id is not None:
        previous_case = db.session.get(Case, previous.incident.case_id)
    record_case_event(
        "case.alarm_retriggered",
        case,
        actor_label=device_label(alarm.device),
        data={
            "label": RETRIGGER_LABELS.get(reason, reason),
            "reason": reason,
            "alarm_id": alarm.id,
            "alarm_type": alarm.alarm_type,
            "previous_case": previous_case.key if previous_case is not None else None,
        },
    )


def alarm_joined(alarm: Alarm, device: Device) -> None:
    """Another device's alarm joined an incident whose case is open: on the timeline, and the case's title
    and description now name every device."""
    case = _open_case(alarm.incident)
    if case is None or alarm.incident is None:
        return
    db.session.flush()  # the new alarm, so the incident's alarms are read with it
    describe_devices(case, alarm.incident)
    record_case_event(
        "case.alarm_joined",
        case,
        actor_label=device_label(device),
        data={
            "label": "又一设备报警并入本案",
            "alarm_id": alarm.id,
            "alarm_type": alarm.alarm_type,
            "device": device.device_id,
            "friendly_name": device.friendly_name,
        },
    )


def describe_devices(case: Case, incident: Incident) -> None:
    """Title and description naming the building and every device of an incident of several devices."""
    rows = db.session.execute(
        select(Alarm, Device)
        .join(Device, Device.id == Alarm.device_id)
        .where(Alarm.incident_id == incident.id)
        .order_by(Alarm.id)
    ).all()
    devices: dict[int, tuple[Alarm, Device]] = {}
    for alarm, device in rows:
        devices.setdefault(device.id, (alarm, device))
    if len(devices) < 2:
        return
    place = _place(incident, [device for _, device in devices.values()])
    label = ALARM_TYPES[incident.alarm_type].label
    case.title = f"{label}:{place}({len(devices)} 个设备报警)"[:120]
    lines = [f"{DEVICES_HEADING}({len(devices)} 个,{place}):"]
    lines += [_device_line(alarm, device) for alarm, device in devices.values()]
    base = (case.description or "").split(f"\n\n{DEVICES_HEADING}")[0]
    case.description = base + "\n\n" + "\n".join(lines)


def _place(incident: Incident, devices: list[Device]) -> str:
    """The building's grid name (and code), else the first device's address or name."""
    if incident.building_code:
        name = db.session.execute(
            select(Grid.name).where(Grid.code == incident.building_code)
        ).scalar_one_or_none()
        return f"{name}({incident.building_code})" if name else f"楼栋 {incident.building_code}"
    first = devices[0]
    return first.address or first.friendly_name


def _device_line(alarm: Alarm, device: Device) -> str:
    kind = DEVICE_TYPES.get(device.device_type)
    started = alarm.started_at
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    local = started.astimezone(CHINA_STANDARD_TIME).strftime("%H:%M:%S")
    where = f" {device.address}" if device.address else ""
    kind_label = kind.label if kind else device.device_type
    return (
        f"- {device.friendly_name}({kind_label},{device.device_id}){where}"
        f" {ALARM_TYPES[alarm.alarm_type].label} {local}"
    )
