"""The alarm model (as in ThingsBoard): one active alarm per (device, alarm type); repeats raise its count and
last-seen time; a clear ends it; a new trigger after a clear is a new alarm unless it comes within the re-open
window, or the alarm is flapping (more than N toggles within the flapping window), in which case the old alarm
reopens, so flapping is folded into one alarm and flagged. Retained messages are the broker replaying a state:
they may clear an alarm but never open one (and so never an incident or a case).

Two things end an active alarm without a clear, so that a real trigger is never swallowed as a repeat:
its case was closed while it was still on (a wrong confirmed clear, a case closed by hand: latched alarms
such as a leak), or, for momentary alarm types (SOS presses, falls, camera detections: events, not states,
and devices seldom send a clear), the quiet time passed since its last trigger. The next trigger then ends
it (``alarm.superseded``) and opens a new alarm and incident, whose values say why (``retrigger``) for the
timeline of its case: a new one, or with ``SENSOR_AFTER_CLOSED_CASE=reopen`` the closed one reopened (a
latched, non-critical alarm whose case was closed; ``app.devices.case_opening``). Within the quiet time,
while the case is open, a momentary trigger is a repeat and goes on that case's timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.audit.services import AfterFlush, record
from app.cases.models import Case, CaseStatus
from app.clock import as_utc
from app.config import SensorSettings
from app.devices.case_hook import notify_alarm_cleared
from app.devices.case_timeline import note_repeat
from app.devices.incidents import link_alarm
from app.devices.models import Alarm, Device, Incident
from app.devices.types import ALARM_TYPES
from app.extensions import db

# Why an active alarm was ended by a new trigger (``Alarm.values["retrigger"]`` of the new one).
AFTER_CLOSED_CASE = "case_closed"  # its case was closed while the alarm was still on
AFTER_QUIET_TIME = "quiet_time"  # a momentary alarm not triggered for the quiet time
# A stream of triggers (a camera seeing the same scene, a watch repeating ``sos`` in each report) goes on the
# case's timeline once a minute at most; a press after a pause always does.
REPEAT_NOTE_GAP = timedelta(seconds=60)


class Change:
    OPENED = "opened"
    REPEATED = "repeated"
    REOPENED = "reopened"
    CLEARED = "cleared"


@dataclass(frozen=True)
class AlarmChange:
    alarm: Alarm
    change: str  # Change.*
    became_flapping: bool = False
    incident: Incident | None = None  # a new incident the opened alarm started (its case is still to open)


def active_key(device: Device, alarm_type: str) -> str:
    return f"{device.id}:{alarm_type}"


@dataclass
class LatestAlarms:
    """The latest alarm of each (device, alarm type) of some devices, read in one query for a batch of
    messages and kept current by ``apply_reading``: the active alarm if there is one (an active alarm is
    always its type's latest), else the one a new trigger may reopen. A reading then costs no query."""

    device_ids: set[int] = field(default_factory=set)
    by_type: dict[tuple[int, str], Alarm] = field(default_factory=dict)

    @classmethod
    def of(cls, device_ids: set[int]) -> LatestAlarms:
        if not device_ids:
            return cls()
        rank = func.row_number().over(
            partition_by=(Alarm.device_id, Alarm.alarm_type), order_by=Alarm.id.desc()
        )
        newest = select(Alarm.id, rank.label("n")).where(Alarm.device_id.in_(device_ids)).subquery()
        rows = db.session.execute(
            select(Alarm)
            .join(newest, newest.c.id == Alarm.id)
            .where(newest.c.n == 1)
            .order_by(Alarm.id)
            .with_for_update(of=Alarm)  # concurrent listeners (a shared subscription) take turns per alarm
        ).scalars()
        return cls(set(device_ids), {(alarm.device_id, alarm.alarm_type): alarm for alarm in rows})

    def knows(self, device: Device) -> bool:
        return device.id in self.device_ids


def _active(device: Device, alarm_type: str, known: LatestAlarms | None) -> Alarm | None:
    if known is not None and known.knows(device):
        latest = known.by_type.get((device.id, alarm_type))
        return latest if latest is not None and latest.active else None
    return db.session.execute(
        select(Alarm).where(Alarm.active_key == active_key(device, alarm_type))
    ).scalar_one_or_none()


def _latest_cleared(device: Device, alarm_type: str, known: LatestAlarms | None) -> Alarm | None:
    if known is not None and known.knows(device):
        latest = known.by_type.get((device.id, alarm_type))
        return latest if latest is not None and not latest.active else None
    return db.session.execute(
        select(Alarm)
        .where(Alarm.device_id == device.id, Alarm.alarm_type == alarm_type, Alarm.active.is_(False))
        .order_by(Alarm.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def apply_reading(
    device: Device,
    alarm_type: str,
    active: bool,
    values: dict[str, Any],
    *,
    retained: bool,
    at: datetime,
    settings: SensorSettings,
    known: LatestAlarms | None = None,
) -> AlarmChange | None:
    """Apply one reading to the device's alarms; None when nothing about an alarm changed. ``known``: the
    device's active alarms, already read (and updated here)."""
    change = _apply(device, alarm_type, active, values, retained, at, settings, known)
    if known is not None and known.knows(device) and change is not None:
        known.by_type[(device.id, alarm_type)] = change.alarm
    return change


def _apply(
    device: Device,
    alarm_type: str,
    active: bool,
    values: dict[str, Any],
    retained: bool,
    at: datetime,
    settings: SensorSettings,
    known: LatestAlarms | None,
) -> AlarmChange | None:
    current = _active(device, alarm_type, known)
    if not active:
        return _clear(current, at, settings) if current is not None else None
    if retained:
        return None  # the broker's copy of a state: never opens, and not a new trigger of an open alarm
    if current is not None:
        reason = _superseded_because(current, at, settings)
        if reason is None:
            return _repeat(current, values, at)
        _supersede(current, reason, at)
        retrigger = {"retrigger": reason, "previous_alarm_id": current.id}
        return _open(
            device, alarm_type, {**values, **retrigger}, at, settings, _recent_toggles(current, at, settings)
        )
    last = _latest_cleared(device, alarm_type, known)
    if last is not None and _may_reopen(last, at, settings):
        return _reopen(last, values, at, settings)
    # A new alarm, but toggles of the previous one within the flapping window still count toward flapping.
    carried = _recent_toggles(last, at, settings) if last is not None else []
    return _open(device, alarm_type, values, at, settings, carried)


def _repeat(alarm: Alarm, values: dict[str, Any], at: datetime) -> AlarmChange:
    previous = as_utc(alarm.last_seen_at)
    alarm.count += 1
    alarm.last_seen_at = at
    alarm.values = {**alarm.values, **values}
    if ALARM_TYPES[alarm.alarm_type].momentary and at - previous >= REPEAT_NOTE_GAP:
        note_repeat(alarm, at)  # a second press is news for whoever handles the case
    return AlarmChange(alarm, Change.REPEATED)


def _superseded_because(alarm: Alarm, at: datetime, settings: SensorSettings) -> str | None:
    """Why a new trigger of this active alarm must not count as a repeat; None when it does."""
    if case_closed(alarm.incident):
        return AFTER_CLOSED_CASE
    quiet = timedelta(seconds=settings.momentary_quiet_seconds)
    if ALARM_TYPES[alarm.alarm_type].momentary and at - as_utc(alarm.last_seen_at) > quiet:
        return AFTER_QUIET_TIME
    return None


def case_closed(incident: Incident | None) -> bool:
    """The incident's case exists and is closed (or rejected, withdrawn, a duplicate)."""
    if incident is None or incident.case_id is None:
        return False
    status = db.session.execute(select(Case.status).where(Case.id == incident.case_id)).scalar_one_or_none()
    return status in CaseStatus.FINAL


def _supersede(alarm: Alarm, reason: str, at: datetime) -> None:
    """End an active alarm a new trigger replaces: not a clear (the device never said so), so it has no
    ``cleared_at`` and its case hears nothing (an open case's form does not say "cleared"); its values say
    when and why it ended. Flushed so the new alarm may take its active key."""
    alarm.active = False
    alarm.active_key = None
    alarm.values = {**alarm.values, "ended": reason, "ended_at": at.isoformat()}
    _audit("alarm.superseded", alarm, alarm.device, {"reason": reason, "count": alarm.count})
    db.session.flush()


def _recent_toggles(alarm: Alarm, at: datetime, settings: SensorSettings) -> list[str]:
    since = at - timedelta(seconds=settings.flap_window_seconds)
    return [t for t in alarm.recent_toggles or [] if as_utc(datetime.fromisoformat(t)) > since]


def _may_reopen(last: Alarm, at: datetime, settings: SensorSettings) -> bool:
    if last.cleared_at is None or case_closed(last.incident):
        # Ended by a new trigger (then never the latest), or its case is closed: reopening would bring the
        # trigger back to a closed case; a new alarm opens a new case.
        return False
    since_clear = at - as_utc(last.cleared_at)
    if since_clear <= timedelta(seconds=settings.reopen_window_seconds):
        return True
    if since_clear > timedelta(seconds=settings.flap_window_seconds):
        return False
    # Within the flapping window: fold into the old alarm when it flaps already, or this toggle makes it flap.
    return last.flapping or len(_recent_toggles(last, at, settings)) + 1 > settings.flap_max_toggles


def _toggle(alarm: Alarm, at: datetime, settings: SensorSettings) -> bool:
    """Count a state change; True when it makes the alarm flapping."""
    alarm.recent_toggles = [*_recent_toggles(alarm, at, settings), at.isoformat()]
    alarm.toggle_count = (alarm.toggle_count or 0) + 1
    if not alarm.flapping and len(alarm.recent_toggles) > settings.flap_max_toggles:
        alarm.flapping = True
        return True
    return False


def _open(
    device: Device,
    alarm_type: str,
    values: dict[str, Any],
    at: datetime,
    settings: SensorSettings,
    carried_toggles: list[str],
) -> AlarmChange:
    alarm = Alarm(
        device_id=device.id,
        alarm_type=alarm_type,
        active_key=active_key(device, alarm_type),
        active=True,
        severity=ALARM_TYPES[alarm_type].severity,
        count=1,
        started_at=at,
        last_seen_at=at,
        reopen_count=0,
        toggle_count=0,
        recent_toggles=carried_toggles,
        flapping=False,
        values=dict(values),
    )
    became_flapping = _toggle(alarm, at, settings)
    # Linked before it is added: the correlation query must not flush it alone, then update it. Not flushed
    # here: the caller's next flush writes the batch's new alarms (and incidents) in one statement each, and
    # checks the unique active_key (a racing listener loses and redoes its batch).
    incident = link_alarm(alarm, device, at, settings)
    db.session.add(alarm)
    _audit("alarm.opened", alarm, device, {"values": alarm.values})
    if became_flapping:
        _audit("alarm.flapping", alarm, device, {"toggles": alarm.recent_toggles})
    return AlarmChange(alarm, Change.OPENED, became_flapping, incident)


def _reopen(alarm: Alarm, values: dict[str, Any], at: datetime, settings: SensorSettings) -> AlarmChange:
    alarm.active = True
    alarm.active_key = active_key(alarm.device, alarm.alarm_type)
    alarm.cleared_at = None
    alarm.count += 1
    alarm.last_seen_at = at
    alarm.reopen_count += 1
    alarm.values = {**alarm.values, **values}
    became_flapping = _toggle(alarm, at, settings)
    db.session.flush()
    _audit("alarm.reopened", alarm, alarm.device, {"reopen_count": alarm.reopen_count})
    if ALARM_TYPES[alarm.alarm_type].momentary:
        note_repeat(alarm, at)
    if became_flapping:
        _audit("alarm.flapping", alarm, alarm.device, {"toggles": alarm.recent_toggles})
    return AlarmChange(alarm, Change.REOPENED, became_flapping)


def _clear(alarm: Alarm, at: datetime, settings: SensorSettings) -> AlarmChange:
    alarm.active = False
    alarm.active_key = None
    alarm.cleared_at = at
    became_flapping = _toggle(alarm, at, settings)
    _audit("alarm.cleared", alarm, alarm.device, {"count": alarm.count})
    if became_flapping:
        _audit("alarm.flapping", alarm, alarm.device, {"toggles": alarm.recent_toggles})
    db.session.flush()  # the incident's other alarms are queried next
    notify_alarm_cleared(alarm)
    return AlarmChange(alarm, Change.CLEARED, became_flapping)


def _audit(action: str, alarm: Alarm, device: Device, data: dict[str, Any]) -> None:
    incident = alarm.incident
    record(
        action,
        entity_type="alarm",
        entity_id=alarm.id if alarm.id is not None else AfterFlush(lambda: alarm.id),
        actor_label=f"device:{device.device_id}"[:80],
        case_id=incident.case_id if incident is not None else None,
        data={"device": device.device_id, "alarm_type": alarm.alarm_type, **data},
    )
