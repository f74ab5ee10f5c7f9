"""The one place where an incident becomes a case and starts its process.

The case (source channel ``sensor``, category and severity from the alarm type) runs
``bpmn/sensor_alarm.bpmn``, which decides on the variables here: the kind (an alarm, or a device's
maintenance episode), the alarm type and severity, the protected resident, the ordered emergency contacts
and the time limit of each call.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from app.audit.services import record_case_event
from app.cases.models import Case, CaseStatus
from app.cases.services import case_snapshot, next_case_key
from app.clock import now
from app.devices.models import Alarm, Device, Incident
from app.devices.types import ALARM_TYPES, DEVICE_TYPES, MAINTENANCE
from app.extensions import db
from app.workflow import instances
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus

SENSOR_PROCESS_KEY = "sensor_alarm"
# Critical alarms run the emergency process (bpmn/emergency_escalation.bpmn) on the same variables.
EMERGENCY_PROCESS_KEY = "emergency_escalation"
CRITICAL_ALARM_TYPES = frozenset({"smoke", "gas", "carbon_monoxide", "sos", "fall"})
SOURCE_CHANNEL = "sensor"


def open_incident_case(incident: Incident, alarm: Alarm, device: Device) -> Case:
    """File the case of a new incident and start its process, in the caller's transaction."""
    alarm_type = ALARM_TYPES[alarm.alarm_type]
    timestamp = now()
    where = device.address or device.friendly_name
    case = Case(
        key=next_case_key(timestamp.year),
        title=f"{alarm_type.label}:{where}"[:120],
        description=_description(alarm, device),
        category_code=alarm_type.category_code,
        grid_code=device.grid_code,
        lat=device.lat,
        lon=device.lon,
        address=device.address,
        source_channel=SOURCE_CHANNEL,
        reporter_id=None,
        severity=alarm.severity,
        status=CaseStatus.REPORTED,
        created_at=timestamp,
        updated_at=timestamp,
    )
    db.session.add(case)
    db.session.flush()
    actor_label = f"device:{device.device_id}"[:80]
    record_case_event(
        "case.reported",
        case,
        actor_label=actor_label,
        after=case_snapshot(case),
        data={"incident_id": incident.id, "alarm_id": alarm.id, "alarm_type": alarm.alarm_type},
    )
    instances.start_instance(
        EMERGENCY_PROCESS_KEY if alarm.alarm_type in CRITICAL_ALARM_TYPES else SENSOR_PROCESS_KEY,
        business_key=case.key,
        variables=_variables(case, incident, alarm, device),
        case_id=case.id,
    )
    return case


def _variables(case: Case, incident: Incident, alarm: Alarm, device: Device) -> dict[str, Any]:
    settings = current_app.extensions["gridcase.settings"]
    return {
        "case_kind": "maintenance" if alarm.alarm_type == MAINTENANCE else "alarm",
        "case_id": case.id,
        "case_key": case.key,
        "title": case.title,
        "category_code": case.category_code,
        "severity": case.severity,
        "source_channel": case.source_channel,
        "reporter": actor_name(device),
        "time_limit_hours": settings.default_time_limit_hours,
        # ISO 8601 duration of each call's boundary timer in the diagram
        "call_time_limit": f"PT{settings.sensors.call_limit_minutes}M",
        "incident_id": incident.id,
        "alarm_type": alarm.alarm_type,
        "device_id": device.device_id,
        "device_type": device.device_type,
        "resident_name": device.resident_name,
        "resident_phone": device.resident_phone,
        "resident_notes": device.resident_notes,
        "emergency_contacts": list(device.emergency_contacts or []),
    }


def actor_name(device: Device) -> str:
    return f"device:{device.device_id}"[:64]


def _description(alarm: Alarm, device: Device) -> str:
    device_type = DEVICE_TYPES.get(device.device_type)
    lines = [
        f"设备 {device.friendly_name}({device_type.label if device_type else device.device_type},"
        f"{device.device_id})报警:{ALARM_TYPES[alarm.alarm_type].label}。",
    ]
    if alarm.values:
        lines.append("读数:" + ", ".join(f"{k}={v}" for k, v in alarm.values.items()))
    if device.resident_name:
        notes = f"({device.resident_notes})" if device.resident_notes else ""
        lines.append(f"住户:{device.resident_name}{notes} {device.resident_phone or ''}".rstrip())
    for order, contact in enumerate(device.emergency_contacts or [], start=1):
        lines.append(
            f"紧急联系人 {order}:{contact.get('name')}({contact.get('relation', '')}){contact.get('phone')}"
        )
    return "\n".join(lines)


# The tasks of sensor_alarm.bpmn's phone round, during which a cleared alarm may auto-resolve the case.
PHONE_ROUND_TASKS = ("call_resident", "call_contact")


def notify_alarm_cleared(alarm: Alarm) -> None:
    """When the last active alarm of an incident clears while its case's phone round runs, deliver message
    ``alarm_cleared`` (the dispatcher then confirms and the case auto-resolves). Later on the grid worker is
    on the way and verifies on site, so the clear is only in the audit trail."""
    incident = alarm.incident
    if incident is None or incident.case_id is None:
        return
    still_active = db.session.execute(
        select(Alarm.id).where(Alarm.incident_id == incident.id, Alarm.active.is_(True)).limit(1)
    ).first()
    if still_active is not None:
        return
    instance_id = db.session.execute(
        select(HumanTask.instance_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(
            ProcessInstance.case_id == incident.case_id,
            ProcessInstance.status == "running",
            HumanTask.element_id.in_(PHONE_ROUND_TASKS),
            HumanTask.status.in_(TaskStatus.OPEN),
        )
        .limit(1)
    ).scalar_one_or_none()
    if instance_id is None:
        return
    instances.correlate_message(
        "alarm_cleared",
        {"alarm_id": alarm.id, "alarm_type": alarm.alarm_type, "cleared_at": now().isoformat()},
        instance_id=instance_id,
    )
