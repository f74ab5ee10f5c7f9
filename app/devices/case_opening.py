"""When a new incident's case is opened: after the ingesting transaction commits, never inside it.

Starting a process costs tens of milliseconds, a hundred times a telemetry message; the listener hands the
incident on (its row is committed) and acknowledges. In stack mode an RQ worker opens the case
(``open_case_job`` on the ``engine`` queue); in embedded mode the ingesting process opens it right after
its commit, in a transaction of its own. Either way ``open_case_for_incident`` is idempotent (it locks the
incident row and does nothing if the case exists), and the scheduler's round opens the case of any incident
still without one after ``PENDING_GRACE`` (a job lost with Redis, a crash between commit and hand-on).
With ``SENSOR_AFTER_CLOSED_CASE=reopen``, an incident whose alarm follows one whose case was closed while it
was still on reopens that case instead (``_case_to_reopen``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select

from app import runtime
from app.cases import lifecycle
from app.cases.models import Case
from app.clock import now
from app.config import AFTER_CLOSED_REOPEN
from app.devices import snapshots
from app.devices.alarms import AFTER_CLOSED_CASE
from app.devices.case_hook import (
    CRITICAL_ALARM_TYPES,
    notify_alarm_cleared,
    open_incident_case,
    reopen_incident_case,
)
from app.devices.case_timeline import REOPEN_LABEL, describe_devices, record_retrigger
from app.devices.models import Alarm, Device, Incident
from app.devices.types import ALARM_TYPES
from app.extensions import db
from app.jobs import ENGINE_QUEUE, enqueue

log = logging.getLogger(__name__)
PENDING_GRACE = timedelta(seconds=60)


def open_case_for_incident(incident_id: int) -> Case | None:
    """Open the incident's case unless it has one (the caller commits). None: no such incident."""
    incident = db.session.execute(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).scalar_one_or_none()
    if incident is None:
        return None
    if incident.case_id is not None:
        return db.session.get(Case, incident.case_id)
    first = db.session.execute(
        select(Alarm).where(Alarm.incident_id == incident.id).order_by(Alarm.id).limit(1)
    ).scalar_one()
    device = db.session.get(Device, first.device_id)
    assert device is not None
    closed = _case_to_reopen(first)
    if closed is not None:
        reopen_incident_case(closed, incident, first, device, REOPEN_LABEL)
        case = closed
    else:
        case = open_incident_case(incident, first, device)
    incident.case_id = case.id
    db.session.flush()
    if closed is None:
        record_retrigger(case, first)
    if incident.alarm_count > 1:
        describe_devices(case, incident)  # devices that joined before the case was opened
    if not first.active and first.cleared_at is not None:
        # Everything cleared before the case was opened: the process hears it as it would have live (an
        # alarm ended by a new trigger, with no cleared_at, was not cleared).
        notify_alarm_cleared(first)
    return case


def _case_to_reopen(alarm: Alarm) -> Case | None:
    """With ``SENSOR_AFTER_CLOSED_CASE=reopen``, the case to reopen for an alarm that followed one whose case
    was closed while it was still on. Never for a momentary alarm (a new press is a new event) nor a
    critical one (its emergency, with plan, responders and review, is over: a new fire is a new
    emergency), nor a case marked as a duplicate; None: open a new case. Locked, so two incidents cannot
    both reopen it."""
    values = alarm.values or {}
    if (
        runtime.settings().sensors.after_closed_case != AFTER_CLOSED_REOPEN
        or values.get("retrigger") != AFTER_CLOSED_CASE
        or ALARM_TYPES[alarm.alarm_type].momentary
        or alarm.alarm_type in CRITICAL_ALARM_TYPES
    ):
        return None
    previous = db.session.get(Alarm, values.get("previous_alarm_id"))
    if previous is None or previous.incident is None or previous.incident.case_id is None:
        return None
    case = db.session.get(Case, previous.incident.case_id, with_for_update=True, populate_existing=True)
    return case if case is not None and case.status in lifecycle.CLOSING_STATUSES else None


def open_case_job(incident_id: int) -> str | None:
    """The RQ job (stack mode): the case key, or None for an incident that no longer exists."""
    case = open_case_for_incident(incident_id)
    return case.key if case is not None else None


def open_cases_job(incident_ids: list[int]) -> dict[int, str]:
    """The RQ job for several incidents of one batch: each case in its own transaction, as
    ``open_cases_now``; one that fails is left to the scheduler's round."""
    return open_cases_now(incident_ids)


HAND_ON_CHUNK = 10  # incidents per job: a big batch still spreads over several workers


def hand_on(incident_ids: Iterable[int]) -> None:
    """Stack mode: queue the case openings with the current transaction (sent when it commits), a job per
    incident or per chunk of them (a job costs about a millisecond to queue, as much as a case opening)."""
    ids = list(incident_ids)
    for start in range(0, len(ids), HAND_ON_CHUNK):
        chunk = ids[start : start + HAND_ON_CHUNK]
        if len(chunk) == 1:
            enqueue(ENGINE_QUEUE, open_case_job, chunk[0])
        else:
            enqueue(ENGINE_QUEUE, open_cases_job, chunk)


def opens_in_background() -> bool:
    return bool(runtime.settings().redis_url)


def open_cases_now(incident_ids: Iterable[int]) -> dict[int, str]:
    """Embedded mode, after the ingesting commit: open each case in its own transaction. Returns the case
    key of each incident opened; one that fails is logged and left to ``open_pending_cases`` (the messages
    are committed already and must not be ingested again)."""
    keys: dict[int, str] = {}
    for incident_id in incident_ids:
        try:
            case = open_case_for_incident(incident_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception(
                "opening the case of incident %s failed; the scheduler's round retries", incident_id
            )
            continue
        if case is not None:
            keys[incident_id] = case.key
    return keys


def open_pending_cases() -> int:
    """The scheduler's round: incidents still without a case after the grace period get one now. Also
    forgets camera snapshots staged long enough ago (``app.devices.snapshots``; not counted: the round's
    count is of work on cases)."""
    snapshots.prune_stale()
    cutoff = now() - PENDING_GRACE
    pending = db.session.execute(
        select(Incident.id)
        .where(Incident.case_id.is_(None), Incident.opened_at < cutoff)
        .order_by(Incident.id)
    ).scalars()
    opened = 0
    for incident_id in list(pending):
        if open_case_for_incident(incident_id) is not None:
            opened += 1
        db.session.commit()
    return opened
