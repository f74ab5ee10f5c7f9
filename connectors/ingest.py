"""The one narrow entry from every connector into the app: ``ingest(topic, payload, …)`` for one message,
``ingest_many(messages)`` for the listener's batches.

One database transaction per call: de-duplicate, adapt, find the devices, update their state and alarms,
correlate new alarms into incidents, remember the message keys, commit. A new incident's case is opened
after the commit (``app.devices.case_opening``: by an RQ worker in stack mode, right here in embedded mode),
so a message never waits for a process to start. Needs an app context, not a request. Used by the MQTT
listener, the HTTP ingestion endpoint, the simulator and the tests.

Idempotency: a message's key is the hash of its source, topic, payload and broker reference (MQTT: client
id + packet id). A QoS 1 redelivery (MQTT's DUP flag; HTTP: a repeated ``Idempotency-Key``) whose key was
processed within ``SENSOR_DEDUP_WINDOW_SECONDS`` is a duplicate and changes nothing. First deliveries are
never taken for duplicates, so a packet id the broker reuses later cannot swallow a real message.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from app import runtime
from app.clock import as_utc, now
from app.devices import case_opening, coordinator, services, snapshots
from app.devices.alarms import Change, LatestAlarms, apply_reading
from app.devices.case_timeline import alarm_joined
from app.devices.incidents import touch
from app.devices.models import DeadLetter, Device, Incident, ProcessedMessage
from app.devices.types import DEVICE_TYPES, GENERIC_KIND_DEVICE_TYPES
from app.extensions import db
from connectors.adapters import DeadLetterReason, ParsedMessage, adapt, device_ref
from connectors.routine import (
    DEVICE_FLAGS,
    DeviceRow,
    RoutineBatch,
    is_routine,
    read_active_alarms,
    read_devices,
    remember,
)

log = logging.getLogger(__name__)
RACE_RETRIES = 3
# The database is away (down, restarting, our connection killed): the caller keeps the messages and retries.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class Outcome:
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    IGNORED = "ignored"  # not a device message (zigbee2mqtt bridge, commands)


@dataclass(frozen=True)
class IngestResult:
    outcome: str
    device_id: str | None = None
    changes: tuple[str, ...] = ()  # "water_leak:opened", "smoke:repeated", …
    incident_ids: tuple[int, ...] = ()  # incidents this message opened
    case_keys: tuple[str, ...] = ()  # their cases, when opened in this process (embedded mode)
    reason_code: str | None = None
    reason: str | None = None


def dedup_key(source: str, topic: str, payload: bytes, message_ref: str) -> str:
    digest = hashlib.sha256()
    for part in (source.encode(), topic.encode("utf-8", "surrogateescape"), message_ref.encode()):
        digest.update(part + b"\x00")
    digest.update(hashlib.sha256(payload).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Message:
    """One message as a connector received it; ``message_ref`` identifies a delivery (MQTT: client id +
    packet id; HTTP: the ``Idempotency-Key``), ``redelivery`` says the sender marked it as a repeat."""

    topic: str
    payload: bytes
    retained: bool = False
    received_at: datetime | None = None
    source: str = "mqtt"
    message_ref: str | None = None
    redelivery: bool = False

    def key(self) -> str | None:
        """The de-duplication key of this delivery; None when it has no reference (QoS 0)."""
        if self.message_ref is None:
            return None
        return dedup_key(self.source, self.topic, self.payload, self.message_ref)


def ingest(
    topic: str,
    payload: bytes,
    retained: bool = False,
    received_at: datetime | None = None,
    *,
    source: str = "mqtt",
    message_ref: str | None = None,
    redelivery: bool = False,
    device: Device | None = None,
    dead_letters: bool = True,
) -> IngestResult:
    """Handle one message and commit. ``device``: already known (HTTP, authenticated by its token).
    ``dead_letters`` False (HTTP) raises ``DeadLetterReason`` instead of storing one, so the caller can
    answer 4xx and store nothing. Raises ``DATABASE_UNAVAILABLE`` when the database is unreachable: the caller
    keeps the message (no MQTT ack) and tries again."""
    message = Message(topic, payload, retained, received_at or now(), source, message_ref, redelivery)
    for attempt in range(RACE_RETRIES):
        try:
            return _ingest_together([message], device, dead_letters)[0]
        except DeadLetterReason:
            db.session.rollback()
            raise  # only with dead_letters=False
        except IntegrityError:
            # Another listener took the same alarm key or message key first: redo it on top of theirs.
            db.session.rollback()
            if attempt == RACE_RETRIES - 1:
                raise
        except DATABASE_UNAVAILABLE:
            db.session.rollback()
            raise
        except Exception as exc:
            db.session.rollback()
            log.exception("ingesting a message on %r failed", topic)
            if not dead_letters:
                raise
            internal = DeadLetterReason("internal_error", f"{exc.__class__.__name__}: {exc}"[:2000])
            return _store_dead_letter_alone(message, internal, device)
    raise AssertionError("unreachable")


def ingest_many(messages: Sequence[Message]) -> list[IngestResult]:
    """Handle messages in order, in ONE transaction (the listener's batches): each device and its active
    alarms are read once, a device seen many times is written once, the message keys go in one statement,
    and there is one commit. If anything goes wrong, the batch is rolled back and each message is ingested
    alone, so one bad message costs the others nothing. ``DATABASE_UNAVAILABLE`` propagates (the caller
    retries). Nothing after the commit raises (jobs Redis does not take are kept and sent later by
    ``app.jobs``; embedded case openings log their failures), so a committed batch is never ingested twice.
    """
    if not messages:
        return []
    stamped = [m if m.received_at is not None else replace(m, received_at=now()) for m in messages]
    try:
        return _ingest_together(stamped, None, dead_letters=True)
    except DATABASE_UNAVAILABLE:
        db.session.rollback()
        raise
    except Exception:
        db.session.rollback()
        if len(stamped) == 1:
            log.info("batch of one failed; ingesting it alone", exc_info=True)
        return [
            ingest(
                m.topic,
                m.payload,
                m.retained,
                m.received_at,
                source=m.source,
                message_ref=m.message_ref,
                redelivery=m.redelivery,
            )
            for m in stamped
        ]


@dataclass
class _Item:
    """A message on its way through a batch: parsed, then found a device for, or not."""

    message: Message
    key: str | None
    parsed: ParsedMessage | None = None
    reason: DeadLetterReason | None = None
    duplicate: bool = False
    device: DeviceRow | None = None


def _ingest_together(
    messages: Sequence[Message], device: Device | None, dead_letters: bool
) -> list[IngestResult]:
    sensors = runtime.settings().sensors
    items = [_parse(m, sensors.max_payload_bytes) for m in messages]
    _mark_duplicates(items, timedelta(seconds=sensors.dedup_window_seconds))
    rows = _find_devices(items, device)
    batch = _Batch(RoutineBatch(read_active_alarms({row.id for row in rows.values()})))
    # A device with one message that is not routine takes the ORM path for all its messages of the batch.
    batch.full = {row.id for row in rows.values()} if device is not None else set()
    for item in items:
        if (
            item.device is not None
            and item.parsed is not None
            and item.reason is None
            and not is_routine(item.device, item.parsed, item.message.retained, batch.routine.active)
        ):
            batch.full.add(item.device.id)
    batch.loaded = _load_devices(batch.full, device)
    batch.known = LatestAlarms.of(batch.full)
    for item in items:
        _handle(batch, item, device, dead_letters)
    return _finish(batch)


@dataclass
class _Batch:
    """A batch on its way: how its devices are handled and what it has written so far."""

    routine: RoutineBatch
    full: set[int] = field(default_factory=set)  # devices on the ORM path
    loaded: dict[int, Device] = field(default_factory=dict)  # their ORM objects
    known: LatestAlarms = field(default_factory=LatestAlarms)  # their latest alarms
    observations: services.BatchObservations = field(default_factory=services.BatchObservations)
    results: list[IngestResult] = field(default_factory=list)
    opened: dict[int, list[Incident]] = field(default_factory=dict)  # result index → incidents it opened
    keys: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # message key → (at, outcome)


def _find_devices(items: list[_Item], device: Device | None) -> dict[tuple[bool, str], DeviceRow]:
    """Read (and lock) the devices the messages name; a message for an unknown device, or one that does not
    fit its device, gets its dead-letter reason here."""
    named = [i.parsed for i in items if i.parsed is not None and not i.duplicate]
    refused = {ref for i in items if i.reason is not None and (ref := device_ref(i.message.topic))}
    rows = _device_rows(named, device, refused)
    for item in items:
        if item.reason is not None and device is None:
            ref = device_ref(item.message.topic)
            item.device = rows.get(ref) if ref is not None else None  # its dead letter is linked to it
        if item.parsed is not None and not item.duplicate and item.reason is None:
            try:
                item.device = _device_for(item.parsed, rows)
                _check_fits(item.device, item.parsed)
            except DeadLetterReason as reason:
                item.reason = reason
    return rows


def _handle(batch: _Batch, item: _Item, device: Device | None, dead_letters: bool) -> None:
    message, at = item.message, item.message.received_at
    assert at is not None
    if item.duplicate:
        batch.results.append(IngestResult(Outcome.DUPLICATE))
        return
    if item.reason is not None:
        # Raised before this message wrote anything: the batch goes on.
        if not dead_letters:
            raise item.reason
        _add_dead_letter(message, item.reason, device, item.device.id if item.device is not None else None)
        if item.key is not None:
            batch.keys[item.key] = (at, Outcome.DEAD_LETTER)
        reason = item.reason
        batch.results.append(IngestResult(Outcome.DEAD_LETTER, reason_code=reason.code, reason=reason.reason))
        return
    if item.parsed is None or item.device is None:
        batch.results.append(IngestResult(Outcome.IGNORED))
        return
    if item.device.id in batch.full:
        target = batch.loaded[item.device.id]
        changes, incidents = _apply(
            target, item.parsed, message.retained, at, batch.known, batch.observations
        )
        if incidents:
            batch.opened[len(batch.results)] = incidents
    else:
        changes = batch.routine.apply(item.device, item.parsed, message.retained, at)
    if item.key is not None:
        batch.keys[item.key] = (at, Outcome.PROCESSED)
    batch.results.append(IngestResult(Outcome.PROCESSED, item.device.device_id, tuple(changes)))


def _finish(batch: _Batch) -> list[IngestResult]:
    """Write what the batch gathered, commit, and hand on (or, embedded, open) the new incidents' cases."""
    results = batch.results
    db.session.flush()  # the batch's new alarms and incidents, a statement per table
    new_incidents: list[int] = []
    for index, incidents in batch.opened.items():
        ids = tuple(incident.id for incident in incidents)
        results[index] = replace(results[index], incident_ids=ids)
        new_incidents += ids
    batch.observations.write()
    batch.routine.write()
    remember(db.session.connection(), batch.keys)
    background = case_opening.opens_in_background()
    if background:
        case_opening.hand_on(new_incidents)
    db.session.commit()
    if background or not new_incidents:
        return results
    # Embedded mode: open the cases now, each in its own transaction, and say which.
    cases = case_opening.open_cases_now(new_incidents)
    return [replace(r, case_keys=tuple(cases[i] for i in r.incident_ids if i in cases)) for r in results]


def _parse(message: Message, max_bytes: int) -> _Item:
    key = message.key()
    try:
        return _Item(message, key, adapt(message.topic, message.payload, message.retained, max_bytes))
    except DeadLetterReason as reason:
        return _Item(message, key, reason=reason)


def _mark_duplicates(items: list[_Item], window: timedelta) -> None:
    """A redelivery whose key was processed (earlier in this batch, or within the window) is a duplicate."""
    seen = _seen_keys([i.key for i in items if i.key and i.message.redelivery])
    in_batch: set[str] = set()
    for item in items:
        if item.key is None:
            continue
        at = item.message.received_at
        assert at is not None
        if item.message.redelivery and (
            item.key in in_batch or (item.key in seen and seen[item.key] >= at - window)
        ):
            item.duplicate = True
        else:
            in_batch.add(item.key)


def _device_rows(
    parsed: list[ParsedMessage], known: Device | None, refused: set[tuple[bool, str]]
) -> dict[tuple[bool, str], DeviceRow]:
    """The devices the messages name; ``refused``: refs named by the topics of dead letters."""
    if known is not None:
        row = DeviceRow.of(known)
        return {(p.by_friendly_name, p.device_ref): row for p in parsed}
    refs = {(p.by_friendly_name, p.device_ref) for p in parsed} | refused
    return read_devices(
        {ref for by_name, ref in refs if by_name}, {ref for by_name, ref in refs if not by_name}
    )


def _load_devices(pks: set[int], known: Device | None) -> dict[int, Device]:
    """The ORM objects of the devices that take the full path (their rows are locked already)."""
    if known is not None:
        return {known.id: known}
    if not pks:
        return {}
    rows = db.session.execute(select(Device).where(Device.id.in_(pks))).scalars()
    return {row.id: row for row in rows}


def _device_for(parsed: ParsedMessage, devices: dict[tuple[bool, str], DeviceRow]) -> DeviceRow:
    device = devices.get((parsed.by_friendly_name, parsed.device_ref))
    if device is None:
        kind = "friendly name" if parsed.by_friendly_name else "device id"
        raise DeadLetterReason("unknown_device", f"no registered device with {kind} {parsed.device_ref!r}")
    return device


def _check_fits(device: DeviceRow, parsed: ParsedMessage) -> None:
    family = DEVICE_TYPES[device.device_type].family
    if family != parsed.family:
        raise DeadLetterReason(
            "device_mismatch",
            f"device {device.device_id} ({device.device_type}) speaks {family}, not {parsed.family}",
        )
    expected = GENERIC_KIND_DEVICE_TYPES.get(parsed.kind or "")
    if parsed.kind is not None and expected != device.device_type:
        raise DeadLetterReason(
            "device_mismatch", f"a {parsed.kind} payload for device {device.device_id} ({device.device_type})"
        )


def _apply(
    device: Device,
    parsed: ParsedMessage,
    retained: bool,
    at: datetime,
    known: LatestAlarms,
    observations: services.BatchObservations,
) -> tuple[list[str], list[Incident]]:
    sensors = runtime.settings().sensors
    flags = {r.alarm_type: r.active for r in parsed.readings if r.alarm_type in DEVICE_FLAGS}
    was_available = device.available
    observations.observe(
        device, at=at, available=parsed.available, flags=flags, telemetry=parsed.telemetry, retained=retained
    )
    changes: list[str] = []
    incidents: list[Incident] = []
    if parsed.network_event is not None:
        coordinator.record_network_event(device, parsed.network_event, at)
    if coordinator.is_coordinator(device) and parsed.available not in (None, was_available):
        # On a change only: the retained state replayed at each reconnect is no news.
        assert parsed.available is not None
        change = coordinator.coordinator_changed(device, parsed.available, at, sensors)
        if change is not None:
            changes.append(f"{change.alarm.alarm_type}:{change.change}")
            if change.incident is not None:
                incidents.append(change.incident)
    for reading in parsed.readings:
        change = apply_reading(
            device,
            reading.alarm_type,
            reading.active,
            dict(reading.values),
            retained=retained,
            at=at,
            settings=sensors,
            known=known,
        )
        if change is None:
            continue
        changes.append(f"{reading.alarm_type}:{change.change}")
        if reading.snapshot and change.change in (Change.OPENED, Change.REOPENED):
            snapshots.stage(reading.snapshot)  # for the case; a repeat's snapshot is not kept
        if change.change == Change.OPENED and change.incident is not None:
            incidents.append(change.incident)
        elif change.change == Change.OPENED and change.alarm.incident is not None:
            alarm_joined(change.alarm, device)  # another detector of an incident whose case is open
        elif change.change == Change.REOPENED and change.alarm.incident is not None:
            touch(change.alarm.incident, at)
    return changes, incidents


def _seen_keys(keys: list[str]) -> dict[str, datetime]:
    """When each of these redelivered messages' keys was processed, if it was."""
    if not keys:
        return {}
    rows = db.session.execute(
        select(ProcessedMessage.dedup_key, ProcessedMessage.received_at).where(
            ProcessedMessage.dedup_key.in_(keys)
        )
    ).all()
    return {key: as_utc(received_at) for key, received_at in rows}


def _add_dead_letter(
    message: Message, reason: DeadLetterReason, device: Device | None, device_pk: int | None = None
) -> None:
    """Keep the message with its reason, linked to its device when the device is known (``device``: given
    by the caller; ``device_pk``: named by the topic)."""
    limit = runtime.settings().sensors.max_payload_bytes
    db.session.add(
        DeadLetter(
            received_at=message.received_at,
            source=message.source,
            topic=message.topic[:500],
            reason_code=reason.code,
            reason=reason.reason,
            payload=bytes(message.payload[:limit]),
            payload_size=len(message.payload),
            retained=message.retained,
            device_id=device.id if device is not None else device_pk,
        )
    )
    log.info("dead letter %s on %r: %s", reason.code, message.topic, reason.reason)


def _store_dead_letter_alone(
    message: Message, reason: DeadLetterReason, device: Device | None
) -> IngestResult:
    _add_dead_letter(message, reason, device)
    key = message.key()
    if key is not None:
        assert message.received_at is not None
        remember(db.session.connection(), {key: (message.received_at, Outcome.DEAD_LETTER)})
    db.session.commit()
    return IngestResult(Outcome.DEAD_LETTER, reason_code=reason.code, reason=reason.reason)


def store_dead_letter(
    topic: str, payload: bytes, reason: DeadLetterReason, source: str = "mqtt"
) -> IngestResult:
    """Keep a message that never reached an adapter (e.g. HTTP for an unknown device), and commit."""
    return _store_dead_letter_alone(Message(topic, payload, False, now(), source), reason, None)


def prune_processed(older_than: datetime) -> int:
    """Forget message keys older than the dedup window (the listener calls this now and then)."""
    result: Any = db.session.execute(
        delete(ProcessedMessage).where(ProcessedMessage.received_at < older_than)
    )
    db.session.commit()
    return int(result.rowcount or 0)
