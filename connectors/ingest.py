"""The one narrow entry from every connector into the app: ``ingest(topic, payload, retained, received_at)``.

One message, one database transaction: de-duplicate, adapt, find the device, update its state and alarms,
correlate new alarms into incidents (a new incident opens its case), remember the message key, commit.
Needs an app context, not a request. Used by the MQTT listener, the HTTP ingestion endpoint and the tests.

Idempotency: a message's key is the hash of its source, topic, payload and broker reference (MQTT: client
id + packet id). A QoS 1 redelivery (MQTT's DUP flag; HTTP: a repeated ``Idempotency-Key``) whose key was
processed within ``SENSOR_DEDUP_WINDOW_SECONDS`` is a duplicate and changes nothing. First deliveries are
never taken for duplicates, so a packet id the broker reuses later cannot swallow a real message.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, OperationalError

from app.clock import as_utc, now
from app.config import Settings
from app.devices import services
from app.devices.alarms import Change, apply_reading
from app.devices.incidents import link_alarm, touch
from app.devices.models import DeadLetter, Device, ProcessedMessage
from app.devices.types import GENERIC_KIND_DEVICE_TYPES
from app.extensions import db
from connectors.adapters import DeadLetterReason, ParsedMessage, adapt

log = logging.getLogger(__name__)
RACE_RETRIES = 3
DEVICE_FLAGS = ("battery_low", "tamper")


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
    case_keys: tuple[str, ...] = ()  # cases opened by this message
    reason_code: str | None = None
    reason: str | None = None


def dedup_key(source: str, topic: str, payload: bytes, message_ref: str) -> str:
    digest = hashlib.sha256()
    for part in (source.encode(), topic.encode("utf-8", "surrogateescape"), message_ref.encode()):
        digest.update(part + b"\x00")
    digest.update(hashlib.sha256(payload).digest())
    return digest.hexdigest()


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
    answer 4xx and store nothing. Raises ``OperationalError`` when the database is unreachable: the caller
    keeps the message (no MQTT ack) and tries again."""
    at = received_at or now()
    key = dedup_key(source, topic, payload, message_ref) if message_ref is not None else None
    for attempt in range(RACE_RETRIES):
        try:
            return _ingest_once(topic, payload, retained, at, source, key, redelivery, device, dead_letters)
        except DeadLetterReason as reason:
            db.session.rollback()
            if not dead_letters:
                raise
            return _dead_letter(topic, payload, retained, at, source, key, reason, device)
        except IntegrityError:
            # Another listener took the same alarm key or message key first: redo it on top of theirs.
            db.session.rollback()
            if attempt == RACE_RETRIES - 1:
                raise
        except OperationalError:
            db.session.rollback()
            raise
        except Exception as exc:
            db.session.rollback()
            log.exception("ingesting a message on %r failed", topic)
            if not dead_letters:
                raise
            internal = DeadLetterReason("internal_error", f"{exc.__class__.__name__}: {exc}"[:2000])
            return _dead_letter(topic, payload, retained, at, source, key, internal, device)
    raise AssertionError("unreachable")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gridcase.settings"]
    return settings


def _ingest_once(
    topic: str,
    payload: bytes,
    retained: bool,
    at: datetime,
    source: str,
    key: str | None,
    redelivery: bool,
    device: Device | None,
    dead_letters: bool,
) -> IngestResult:
    sensors = _settings().sensors
    if key is not None and redelivery and _seen(key, at, sensors.dedup_window_seconds):
        db.session.rollback()
        return IngestResult(Outcome.DUPLICATE)
    parsed = adapt(topic, payload, retained, sensors.max_payload_bytes)
    if parsed is None:
        db.session.rollback()
        return IngestResult(Outcome.IGNORED)
    device = device or services.find_device(parsed.device_ref, parsed.by_friendly_name)
    if device is None:
        kind = "friendly name" if parsed.by_friendly_name else "device id"
        raise DeadLetterReason("unknown_device", f"no registered device with {kind} {parsed.device_ref!r}")
    _check_fits(device, parsed)
    changes, case_keys = _apply(device, parsed, retained, at)
    if key is not None:
        _remember(key, at, Outcome.PROCESSED)
    db.session.commit()
    return IngestResult(Outcome.PROCESSED, device.device_id, tuple(changes), tuple(case_keys))


def _check_fits(device: Device, parsed: ParsedMessage) -> None:
    family = services.family_of(device)
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
    device: Device, parsed: ParsedMessage, retained: bool, at: datetime
) -> tuple[list[str], list[str]]:
    sensors = _settings().sensors
    flags = {r.alarm_type: r.active for r in parsed.readings if r.alarm_type in DEVICE_FLAGS}
    services.observe(
        device, at=at, available=parsed.available, flags=flags, telemetry=parsed.telemetry, retained=retained
    )
    changes: list[str] = []
    case_keys: list[str] = []
    for reading in parsed.readings:
        change = apply_reading(
            device,
            reading.alarm_type,
            reading.active,
            dict(reading.values),
            retained=retained,
            at=at,
            settings=sensors,
        )
        if change is None:
            continue
        changes.append(f"{reading.alarm_type}:{change.change}")
        if change.change == Change.OPENED:
            opened_case = link_alarm(change.alarm, device, at, sensors)
            if opened_case is not None:
                case_keys.append(opened_case.key)
        elif change.change == Change.REOPENED and change.alarm.incident is not None:
            touch(change.alarm.incident, at)
    return changes, case_keys


def _seen(key: str, at: datetime, window_seconds: int) -> bool:
    row = db.session.get(ProcessedMessage, key)
    return row is not None and as_utc(row.received_at) >= at - timedelta(seconds=window_seconds)


def _remember(key: str, at: datetime, outcome: str) -> None:
    row = db.session.get(ProcessedMessage, key)
    if row is None:
        db.session.add(ProcessedMessage(dedup_key=key, received_at=at, outcome=outcome))
    else:  # a packet id reused by the broker long after: the key now stands for this message
        row.received_at = at
        row.outcome = outcome
    db.session.flush()


def _dead_letter(
    topic: str,
    payload: bytes,
    retained: bool,
    at: datetime,
    source: str,
    key: str | None,
    reason: DeadLetterReason,
    device: Device | None,
) -> IngestResult:
    limit = _settings().sensors.max_payload_bytes
    letter = DeadLetter(
        received_at=at,
        source=source,
        topic=topic[:500],
        reason_code=reason.code,
        reason=reason.reason,
        payload=bytes(payload[:limit]),
        payload_size=len(payload),
        retained=retained,
        device_id=device.id if device is not None else None,
    )
    db.session.add(letter)
    if key is not None:
        _remember(key, at, Outcome.DEAD_LETTER)
    db.session.commit()
    log.info("dead letter %s on %r: %s", reason.code, topic, reason.reason)
    return IngestResult(Outcome.DEAD_LETTER, reason_code=reason.code, reason=reason.reason)


def store_dead_letter(
    topic: str, payload: bytes, reason: DeadLetterReason, source: str = "mqtt"
) -> IngestResult:
    """Keep a message that never reached an adapter (e.g. HTTP for an unknown device), and commit."""
    return _dead_letter(topic, payload, False, now(), source, None, reason, None)


def prune_processed(older_than: datetime) -> int:
    """Forget message keys older than the dedup window (the listener calls this now and then)."""
    result: Any = db.session.execute(
        delete(ProcessedMessage).where(ProcessedMessage.received_at < older_than)
    )
    db.session.commit()
    return int(result.rowcount or 0)
