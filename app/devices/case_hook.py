"""The one place where an incident becomes a case and starts its process.

The case (source channel ``sensor``, category and severity from the alarm type) runs
``bpmn/sensor_alarm.bpmn``, which decides on the variables here: the kind (an alarm, or a device's
maintenance episode), the alarm type and severity, the protected resident, the ordered emergency contacts
and the time limit of each call. A camera's snapshot becomes a photo of the case, or a link in its
description and variables (``app.devices.snapshots``).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app import runtime
from app.audit.services import record_case_event
from app.cases import lifecycle
from app.cases.models import Case, CaseStatus
from app.clock import as_utc, now
from app.devices import snapshots
from app.devices.models import Alarm, Device, Incident
from app.devices.types import ALARM_TYPES, DEVICE_TYPES, MAINTENANCE
from app.extensions import db
from app.tasks.services import register_form_builder
from app.timelimits.calendar import CHINA_STANDARD_TIME
from app.workflow import instances
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus

SENSOR_PROCESS_KEY = "sensor_alarm"
# Critical alarms run the emergency process (bpmn/emergency_escalation.bpmn) on the same variables.
CRITICAL_ALARM_TYPES = frozenset({"smoke", "gas", "carbon_monoxide", "sos", "fall"})
SOURCE_CHANNEL = "sensor"


def open_incident_case(incident: Incident, alarm: Alarm, device: Device) -> Case:
    """File the case of a new incident and start its process, in the caller's transaction."""
    alarm_type = ALARM_TYPES[alarm.alarm_type]
    where = device.address or device.friendly_name
    # Checked before the case is filed, so its description says what became of the snapshot.
    snapshot = snapshots.check(alarm.values or {})
    actor_label = device_label(device)
    case = lifecycle.open_case(
        title=f"{alarm_type.label}:{where}"[:120],
        description=_description(alarm, device, snapshot),
        category_code=alarm_type.category_code,
        grid_code=device.grid_code,
        lat=device.lat,
        lon=device.lon,
        address=device.address,
        source_channel=SOURCE_CHANNEL,
        severity=alarm.severity,
        actor_label=actor_label,
        audit_data={"incident_id": incident.id, "alarm_id": alarm.id, "alarm_type": alarm.alarm_type},
    )
    if snapshot is not None:
        # Before the process starts, so the first task already shows the photo.
        snapshots.attach(snapshot, case, actor_label, alarm.id)
    lifecycle.start_process(
        case,
        lifecycle.EMERGENCY_PROCESS_KEY if alarm.alarm_type in CRITICAL_ALARM_TYPES else SENSOR_PROCESS_KEY,
        _variables(case, incident, alarm, device, snapshot),
    )
    return case


def reopen_incident_case(case: Case, incident: Incident, alarm: Alarm, device: Device, reason: str) -> None:
    """``SENSOR_AFTER_CLOSED_CASE=reopen``: the case closed while the alarm was on takes the new incident,
    reopens (``case.reopened`` with ``reason``) and runs the sensor process again, so the dispatcher has
    its task again; the case page shows the newest run."""
    lifecycle.reopen_case(
        case,
        reason,
        actor_label=device_label(device),
        data={"incident_id": incident.id, "alarm_id": alarm.id, "alarm_type": alarm.alarm_type},
    )
    lifecycle.start_process(case, SENSOR_PROCESS_KEY, _variables(case, incident, alarm, device, None))


def device_label(device: Device) -> str:
    """The audit actor label of what a device does."""
    return f"device:{device.device_id}"[:80]


def _variables(
    case: Case, incident: Incident, alarm: Alarm, device: Device, snapshot: snapshots.Snapshot | None
) -> dict[str, Any]:
    settings = runtime.settings()
    return {
        "case_kind": "maintenance" if alarm.alarm_type == MAINTENANCE else "alarm",
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
        # A camera's snapshot link, never fetched (see app.devices.snapshots); a base64 snapshot is a photo
        # of the case instead, and its bytes are never a variable.
        "snapshot_url": snapshot.url if snapshot is not None else None,
    }


def actor_name(device: Device) -> str:
    return f"device:{device.device_id}"[:64]


# Alarm values that are not readings: snapshots (a line of their own), why a new alarm followed a closed
# case (its timeline says), the devices behind a coordinator (listed on their own lines).
_NOT_READINGS = frozenset({*snapshots.SNAPSHOT_KEYS, "retrigger", "previous_alarm_id", "devices"})


def _behind_coordinator(alarm: Alarm) -> list[str]:
    """A coordinator's maintenance case names every device that went silent with it."""
    devices = (alarm.values or {}).get("devices")
    if not devices:
        return []
    return [f"受影响设备({len(devices)} 个):", *(f"- {name}" for name in devices)]


def _description(alarm: Alarm, device: Device, snapshot: snapshots.Snapshot | None) -> str:
    device_type = DEVICE_TYPES.get(device.device_type)
    lines = [
        f"设备 {device.friendly_name}({device_type.label if device_type else device.device_type},"
        f"{device.device_id})报警:{ALARM_TYPES[alarm.alarm_type].label}。",
    ]
    readings = {k: v for k, v in (alarm.values or {}).items() if k not in _NOT_READINGS}
    if readings:
        lines.append("读数:" + ", ".join(f"{k}={v}" for k, v in readings.items()))
    lines += _behind_coordinator(alarm)
    line = snapshot.description_line() if snapshot is not None else None
    if line:
        lines.append(line)
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
# The grid worker's form in sensor_alarm.bpmn: it shows when the device reported the alarm cleared.
SENSOR_HANDLE_FORM = "sensor_handle.schema.json"


def notify_alarm_cleared(alarm: Alarm) -> None:
    """When the last active alarm of an incident clears while its case's phone round runs, deliver message
    ``alarm_cleared`` (the dispatcher then confirms and the case auto-resolves). Later, once a grid worker is
    dispatched, the clear only informs: it goes on the case's timeline (``case.alarm_cleared``, 报警已解除
    (设备)) and the worker's form shows it (``sensor_handle_form``); the worker still checks on site and the
    case is not closed for it."""
    incident = alarm.incident
    if incident is None or incident.case_id is None:
        return
    still_active = db.session.execute(
        select(Alarm.id).where(Alarm.incident_id == incident.id, Alarm.active.is_(True)).limit(1)
    ).first()
    if still_active is not None:
        return
    open_tasks = db.session.execute(
        select(HumanTask.instance_id, HumanTask.element_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(
            ProcessInstance.case_id == incident.case_id,
            ProcessInstance.status == InstanceStatus.RUNNING,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
        .order_by(HumanTask.id)
    ).all()
    cleared_at = as_utc(alarm.cleared_at) if alarm.cleared_at is not None else now()
    in_phone_round = [instance_id for instance_id, element in open_tasks if element in PHONE_ROUND_TASKS]
    if in_phone_round:
        instances.correlate_message(
            "alarm_cleared",
            {"alarm_id": alarm.id, "alarm_type": alarm.alarm_type, "cleared_at": cleared_at.isoformat()},
            instance_id=in_phone_round[0],
        )
        return
    case = db.session.get(Case, incident.case_id)
    if case is None or case.status in CaseStatus.FINAL:
        return
    record_case_event(
        "case.alarm_cleared",
        case,
        actor_label=device_label(alarm.device),
        data={
            "label": "报警已解除(设备)",
            "alarm_id": alarm.id,
            "alarm_type": alarm.alarm_type,
            "cleared_at": cleared_at.isoformat(),
            "open_tasks": [element for _, element in open_tasks],
        },
    )


def incident_cleared_at(case_id: int | None) -> datetime | None:
    """When the device(s) of the case's incident reported the last of its alarms cleared; None while one
    is active (or it is not a sensor case)."""
    if case_id is None:
        return None
    rows = db.session.execute(
        select(Alarm.active, Alarm.cleared_at)
        .join(Incident, Incident.id == Alarm.incident_id)
        .where(Incident.case_id == case_id)
    ).all()
    cleared = [as_utc(at) for active, at in rows if not active and at is not None]
    if not rows or len(cleared) < len(rows):
        return None
    return max(cleared)


def sensor_handle_form(task: HumanTask, schema: dict[str, Any]) -> dict[str, Any]:
    """The worker's form of a sensor case (``app.tasks.services.register_form_builder``). Once the alarm
    has cleared, its description starts with when (what the phone page shows above the form) and the
    read-only ``alarm_cleared_at`` has it as its default (for API clients); while it is active that field
    is hidden (kept, so a form loaded before the alarm came back still submits)."""
    built = copy.deepcopy(schema)
    field = built["properties"]["alarm_cleared_at"]
    cleared_at = incident_cleared_at(task.case_id)
    if cleared_at is None:
        field["options"] = {"hidden": True}  # json-editor's way to leave a field out of the page
        return built
    field["default"] = cleared_at.isoformat()
    local = cleared_at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")
    built["description"] = f"设备已于 {local} 报告报警解除,请仍到场核实。" + built.get("description", "")
    return built


register_form_builder(SENSOR_HANDLE_FORM, sensor_handle_form)
