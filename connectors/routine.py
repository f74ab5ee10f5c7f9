"""Routine sensor messages in bulk, as plain rows: telemetry and repeats of alarms already active.

Nearly all of a listener's traffic changes nothing but a device's last-seen time and latest values, or the
count of an alarm that is already on. For a batch of messages, ``RoutineBatch.read`` locks the devices and
their active alarms (in id order, as the ORM path does) and reads them as rows; ``is_routine`` tells a
message that changes nothing else. A device whose messages in the batch are all routine is applied here, in
memory, and written by ``write()`` with one statement per table. A device with any other message in the
batch (it goes offline, a flag flips, it reports for the first time, an alarm opens, reopens or clears, a
momentary alarm triggers again, an alarm whose case was closed triggers again) takes the ORM path
(``app.devices.alarms``, with audit events and incidents) for all of its messages, so the two paths never
write the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, bindparam, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from app.cases.models import Case, CaseStatus
from app.devices.models import Alarm, Device, Incident, ProcessedMessage
from app.devices.services import is_report, iso_or_none, write_seen
from app.devices.types import MOMENTARY_ALARM_TYPES
from app.extensions import db
from connectors.adapters import ParsedMessage

DEVICE_FLAGS = ("battery_low", "tamper")


@dataclass
class DeviceRow:
    """What ingestion needs of a device, without an ORM object. ``last_values`` is read on SQLite only:
    PostgreSQL merges new values into the stored ones itself."""

    id: int
    device_id: str
    friendly_name: str
    device_type: str
    available: bool
    battery_low: bool
    tampered: bool
    never_seen: bool  # it has never reported: its first message changes its status
    last_values: dict[str, Any] | None = None

    @classmethod
    def of(cls, device: Device) -> DeviceRow:
        return cls(
            device.id,
            device.device_id,
            device.friendly_name,
            device.device_type,
            device.available,
            device.battery_low,
            device.tampered,
            device.last_seen_at is None,
            dict(device.last_values or {}),
        )


@dataclass
class ActiveAlarm:
    id: int
    values: dict[str, Any] | None = None  # read on SQLite only, as ``DeviceRow.last_values``
    case_closed: bool = False  # its incident's case was closed while it was still on


@dataclass
class _Seen:
    """A device's routine messages of the batch: when it was last heard (None: only replays) and the
    telemetry to merge into its latest values."""

    device: DeviceRow
    at: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Repeats:
    alarm: ActiveAlarm
    count: int = 0
    seen: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)  # to merge into the alarm's values


_DEVICES_PG = text(
    "SELECT id, device_id, friendly_name, device_type, available, battery_low, tampered,"
    " last_seen_at IS NULL FROM device"
    " WHERE friendly_name IN (SELECT json_array_elements_text(CAST(:names AS json)))"
    " OR device_id IN (SELECT json_array_elements_text(CAST(:ids AS json)))"
    " ORDER BY id FOR UPDATE"
)
_FINAL_STATUSES = ", ".join(f"'{status}'" for status in CaseStatus.FINAL)  # constants, not input
_ACTIVE_ALARMS_PG = text(
    "SELECT alarm.id, alarm.device_id, alarm.alarm_type,"
    f" coalesce(case_file.status IN ({_FINAL_STATUSES}), false) FROM alarm"
    " LEFT JOIN incident ON incident.id = alarm.incident_id"
    " LEFT JOIN case_file ON case_file.id = incident.case_id"
    " WHERE alarm.device_id IN (SELECT CAST(json_array_elements_text(CAST(:pks AS json)) AS integer))"
    " AND alarm.active ORDER BY alarm.id FOR UPDATE OF alarm"
)


def _on_postgresql() -> bool:
    return bool(db.session.get_bind().dialect.name == "postgresql")


def read_devices(names: set[str], ids: set[str]) -> dict[tuple[bool, str], DeviceRow]:
    """The devices named by friendly name or device id, locked in id order, keyed (by_friendly_name, ref):
    listeners sharing a subscription take turns per device instead of overwriting each other's counts."""
    if not names and not ids:
        return {}
    if _on_postgresql():
        # One constant statement, the names as one JSON parameter: no IN list to render for each batch.
        parameters = {"names": json.dumps(list(names)), "ids": json.dumps(list(ids))}
        rows: Iterable[Any] = db.session.execute(_DEVICES_PG, parameters)
        devices = [DeviceRow(*row) for row in rows]
    else:
        rows = db.session.execute(
            select(
                Device.id,
                Device.device_id,
                Device.friendly_name,
                Device.device_type,
                Device.available,
                Device.battery_low,
                Device.tampered,
                Device.last_seen_at.is_(None),
                Device.last_values,
            )
            .where(or_(Device.friendly_name.in_(names), Device.device_id.in_(ids)))
            .order_by(Device.id)
            .with_for_update()
        )
        devices = [
            DeviceRow(pk, device_id, name, kind, available, battery_low, tampered, unseen, dict(values or {}))
            for pk, device_id, name, kind, available, battery_low, tampered, unseen, values in rows
        ]
    found: dict[tuple[bool, str], DeviceRow] = {}
    for device in devices:
        if device.friendly_name in names:
            found[(True, device.friendly_name)] = device
        if device.device_id in ids:
            found[(False, device.device_id)] = device
    return found


def read_active_alarms(device_pks: Iterable[int]) -> dict[tuple[int, str], ActiveAlarm]:
    """The active alarms of these devices, locked in id order, keyed (device pk, alarm type), and whether
    their case was closed while they were on."""
    pks = set(device_pks)
    if not pks:
        return {}
    if _on_postgresql():
        rows: Iterable[Any] = db.session.execute(_ACTIVE_ALARMS_PG, {"pks": json.dumps(list(pks))})
        return {(device_pk, kind): ActiveAlarm(pk, None, closed) for pk, device_pk, kind, closed in rows}
    rows = db.session.execute(
        select(Alarm.id, Alarm.device_id, Alarm.alarm_type, Alarm.values, Case.status)
        .outerjoin(Incident, Incident.id == Alarm.incident_id)
        .outerjoin(Case, Case.id == Incident.case_id)
        .where(Alarm.device_id.in_(pks), Alarm.active.is_(True))
        .order_by(Alarm.id)
        .with_for_update(of=Alarm)
    )
    return {
        (device_pk, kind): ActiveAlarm(pk, dict(values or {}), status in CaseStatus.FINAL)
        for pk, device_pk, kind, values, status in rows
    }


def is_routine(
    device: DeviceRow,
    parsed: ParsedMessage,
    retained: bool,
    active: Mapping[tuple[int, str], ActiveAlarm],
) -> bool:
    """True when the message only refreshes the device and repeats alarms already on (the device's
    status and the set of its active alarms stay as they are, and no repeat may start a new alarm)."""
    if parsed.network_event is not None:
        return False  # zigbee2mqtt's device join / leave: recorded on the device
    if device.never_seen and is_report(device.device_type, parsed.available, retained):
        return False  # its first report: never seen → online
    online = parsed.available
    if online is None:
        online = device.available if retained else True  # a device that speaks is online
    if online != device.available:
        return False
    flags = {r.alarm_type: r.active for r in parsed.readings if r.alarm_type in DEVICE_FLAGS}
    if flags.get("battery_low", device.battery_low) != device.battery_low:
        return False
    if flags.get("tamper", device.tampered) != device.tampered:
        return False
    for reading in parsed.readings:
        alarm = active.get((device.id, reading.alarm_type))
        on = alarm is not None
        if reading.active and not retained and not on:
            return False  # opens or reopens an alarm
        if (
            reading.active
            and not retained
            and alarm is not None
            and (alarm.case_closed or reading.alarm_type in MOMENTARY_ALARM_TYPES)
        ):
            return False  # may end the alarm and open a new one (app.devices.alarms)
        if not reading.active and on:
            return False  # clears one
    return True


@dataclass
class RoutineBatch:
    """Routine messages of a batch, gathered per device and per alarm, then written at once."""

    active: dict[tuple[int, str], ActiveAlarm] = field(default_factory=dict)
    seen: dict[int, _Seen] = field(default_factory=dict)
    repeats: dict[int, _Repeats] = field(default_factory=dict)

    def apply(self, device: DeviceRow, parsed: ParsedMessage, retained: bool, at: datetime) -> list[str]:
        """Apply a message ``is_routine`` accepted; returns its changes ("water_leak:repeated", …)."""
        seen = self.seen.get(device.id)
        if seen is None:
            seen = self.seen[device.id] = _Seen(device)
        if parsed.available is None and not retained:
            seen.at = at
        seen.values.update(parsed.telemetry)
        changes = []
        for reading in parsed.readings:
            alarm = self.active.get((device.id, reading.alarm_type))
            if alarm is None or not reading.active or retained:
                continue
            repeats = self.repeats.get(alarm.id)
            if repeats is None:
                repeats = self.repeats[alarm.id] = _Repeats(alarm)
            repeats.count += 1
            repeats.seen = at
            repeats.values.update(reading.values)
            changes.append(f"{reading.alarm_type}:repeated")
        return changes

    def write(self) -> None:
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            write_seen(connection, [(s.device.id, s.at, s.values) for s in self.seen.values()])
            _write_repeats_pg(connection, self.repeats)
        else:
            seen = self.seen.values()
            write_seen(
                connection, [(s.device.id, s.at, {**(s.device.last_values or {}), **s.values}) for s in seen]
            )
            _write_repeats_sqlite(connection, self.repeats)
        self.seen.clear()
        self.repeats.clear()


# -- the statements: one per table and batch. PostgreSQL gets the rows as one JSON document (one constant
# statement, one string parameter: psycopg would dump a Python list into an array element by element), and
# merges new values into the stored ones itself; SQLite, embedded and single-writer, an executemany of one
# cached statement with values merged here.

_REPEATS_PG = text(
    'UPDATE alarm SET count = alarm.count + u.n, last_seen_at = u.seen, "values" = CAST('
    "coalesce(CAST(alarm.\"values\" AS jsonb), CAST('{}' AS jsonb)) || u.vals AS json)"
    " FROM json_to_recordset(CAST(:rows AS json)) AS u(id integer, n integer, seen timestamptz, vals jsonb)"
    " WHERE alarm.id = u.id"
)
_REMEMBER_PG = text(
    "INSERT INTO processed_message (dedup_key, received_at, outcome)"
    " SELECT k, at, outcome"
    " FROM json_to_recordset(CAST(:rows AS json)) AS r(k text, at timestamptz, outcome text)"
    " ON CONFLICT (dedup_key) DO UPDATE SET received_at = excluded.received_at, outcome = excluded.outcome"
)


def _write_repeats_pg(connection: Connection, repeats: dict[int, _Repeats]) -> None:
    if not repeats:
        return
    document = [
        {"id": pk, "n": r.count, "seen": iso_or_none(r.seen), "vals": r.values} for pk, r in repeats.items()
    ]
    connection.execute(_REPEATS_PG, {"rows": json.dumps(document)})


def _write_repeats_sqlite(connection: Connection, repeats: dict[int, _Repeats]) -> None:
    if not repeats:
        return
    connection.execute(
        update(Alarm)
        .where(Alarm.id == bindparam("pk"))
        .values(
            count=Alarm.count + bindparam("n"),
            last_seen_at=bindparam("seen", type_=DateTime(timezone=True)),
            values=bindparam("vals", type_=JSON),
        ),
        [
            {"pk": pk, "n": r.count, "seen": r.seen, "vals": {**(r.alarm.values or {}), **r.values}}
            for pk, r in repeats.items()
        ],
    )


def remember(connection: Connection, keys: Mapping[str, tuple[datetime, str]]) -> None:
    """Record processed message keys (key → (received at, outcome)); a key already there (a packet id the
    broker reused long after) now stands for this message."""
    if not keys:
        return
    if connection.dialect.name == "postgresql":
        document = [
            {"k": key, "at": at.isoformat(), "outcome": outcome} for key, (at, outcome) in keys.items()
        ]
        connection.execute(_REMEMBER_PG, {"rows": json.dumps(document)})
        return
    statement = sqlite_insert(ProcessedMessage)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[ProcessedMessage.dedup_key],
            set_={"received_at": statement.excluded.received_at, "outcome": statement.excluded.outcome},
        ),
        [{"dedup_key": k, "received_at": at, "outcome": outcome} for k, (at, outcome) in keys.items()],
    )
