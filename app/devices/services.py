"""Device registry: register (one or a CSV file, all or nothing), tokens, look-ups, and what a message says
about the device itself (seen, online / offline, low battery, tampered)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import JSON, DateTime, Select, bindparam, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.services import Actor, record
from app.clock import now
from app.devices.models import Alarm, DeadLetter, Device, DeviceToken, Incident
from app.devices.schemas import DeviceInput
from app.devices.types import COORDINATOR, DEVICE_TYPES, device_status
from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.extensions import db
from app.grids.codes import LEVEL_LENGTHS
from app.imports import ImportRejected, ImportReport, ImportRow, RowRejection, read_rows

TOKEN_PREFIX = "gcd_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- registering ---------------------------------------------------------------------------------------


def validate_device_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Load raw input (CLI options, a CSV row) the way the API does; InvalidInput names each bad field."""
    try:
        loaded: dict[str, Any] = DeviceInput().load(dict(raw))
    except ValidationError as exc:
        raise InvalidInput("invalid device", exc.messages) from exc
    return loaded


def register_device(
    fields: Mapping[str, Any], actor: Actor | None = None, with_token: bool = True
) -> tuple[Device, str | None]:
    """Register a device from validated ``fields``; returns it and its HTTP token (shown once)."""
    friendly_name = fields.get("friendly_name") or fields["device_id"]
    _check_unique(fields["device_id"], friendly_name)
    grid_code, building_code = _place(fields.get("lat"), fields.get("lon"), fields.get("building_code"))
    timestamp = now()
    device = Device(
        device_id=fields["device_id"],
        friendly_name=friendly_name,
        device_type=fields["device_type"],
        lat=fields.get("lat"),
        lon=fields.get("lon"),
        grid_code=grid_code,
        building_code=building_code,
        address=fields.get("address"),
        resident_name=fields.get("resident_name"),
        resident_phone=fields.get("resident_phone"),
        resident_notes=fields.get("resident_notes"),
        emergency_contacts=[dict(c) for c in fields.get("emergency_contacts") or []],
        status=device_status(True, False, False, seen=False),
        available=True,
        tampered=False,
        battery_low=False,
        last_values={},
        created_at=timestamp,
        updated_at=timestamp,
    )
    db.session.add(device)
    db.session.flush()
    record(
        "device.registered",
        entity_type="device",
        entity_id=device.device_id,
        actor=actor,
        after={
            "friendly_name": device.friendly_name,
            "device_type": device.device_type,
            "grid_code": grid_code,
            "building_code": building_code,
            "resident_name": device.resident_name,
        },
    )
    return device, issue_token(device, actor) if with_token else None


def _check_unique(device_id: str, friendly_name: str) -> None:
    if db.session.execute(select(Device.id).where(Device.device_id == device_id)).first():
        raise Conflict(f"device {device_id!r} is already registered", {"device_id": "taken"})
    if db.session.execute(select(Device.id).where(Device.friendly_name == friendly_name)).first():
        raise Conflict(f"friendly name {friendly_name!r} is taken", {"friendly_name": "taken"})


def _place(lat: float | None, lon: float | None, building_code: str | None) -> tuple[str | None, str | None]:
    """The deepest grid at the location, and the building (given, or the grid when it is a building)."""
    from app.grids.services import locate

    if building_code is not None:
        _check_building_exists(building_code)
    found = locate(lat, lon) if lat is not None and lon is not None else None
    grid_code = found.code if found is not None else None
    if building_code is None and grid_code is not None and len(grid_code) == LEVEL_LENGTHS["building"]:
        building_code = grid_code
    return grid_code or building_code, building_code


def _check_building_exists(code: str) -> None:
    """A device names a building of the territory: an unknown code would file its cases nowhere."""
    from app.grids.models import Grid

    level = db.session.execute(select(Grid.level).where(Grid.code == code)).scalar_one_or_none()
    if level is None:
        raise InvalidInput(f"no building {code!r}", {"building_code": f"no building with code {code}"})
    if level != "building":
        problem = f"{code} is a {level}, not a building"
        raise InvalidInput(f"{code!r} is a {level}", {"building_code": problem})


def issue_token(device: Device, actor: Actor | None = None) -> str:
    """A new HTTP ingestion token for ``device``; earlier ones stop working. Only the hash is kept."""
    timestamp = now()
    for old in db.session.execute(
        select(DeviceToken).where(DeviceToken.device_id == device.id, DeviceToken.revoked_at.is_(None))
    ).scalars():
        old.revoked_at = timestamp
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = DeviceToken(device_id=device.id, token_hash=token_hash(token), created_at=timestamp)
    db.session.add(row)
    db.session.flush()
    record("device.token_issued", entity_type="device", entity_id=device.device_id, actor=actor)
    return token


def device_for_token(token: str) -> Device | None:
    row = db.session.execute(
        select(DeviceToken).where(
            DeviceToken.token_hash == token_hash(token), DeviceToken.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    return row.device if row is not None else None


# -- CSV import ----------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "device_id",
    "friendly_name",
    "device_type",
    "lat",
    "lon",
    "address",
    "building_code",
    "resident_name",
    "resident_phone",
    "resident_notes",
    "contacts",  # "name|phone|relation; name|phone|relation", in calling order
)


def import_csv(
    data: bytes, actor: Actor | None = None, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Register every row of a CSV file (columns ``CSV_COLUMNS``, header first) or, if any row is rejected,
    none (``ImportRejected``): the report lists each rejected row with its reason. Tokens are issued per
    device later (``flask devices token``), so an import prints no secrets."""
    return register_rows(read_device_csv(data), actor, progress)


def read_device_csv(data: bytes) -> list[ImportRow]:
    """The rows of a device CSV file; ``InvalidInput`` (field ``file``) for a bad header or encoding."""
    return read_rows(data, "csv", items="devices", required=("device_id", "device_type"), columns=CSV_COLUMNS)


def register_rows(
    rows: Sequence[ImportRow],
    actor: Actor | None = None,
    progress: Callable[[int], None] | None = None,
    keep_good: bool = False,
) -> ImportReport:
    """Register the devices of CSV ``rows``. All or nothing (``ImportRejected`` if any row is rejected), or
    with ``keep_good`` each good row is kept and each rejected one is reported, every row in a savepoint of
    its own so a rejected row leaves nothing behind (the pages' import, a chunk of rows per request)."""
    report = ImportReport(rows=len(rows))
    seen: dict[tuple[str, str], int] = {}  # (column, value) → the line that has it first
    for row in rows:
        device_id = row.values.get("device_id") or None
        try:
            with db.session.begin_nested() if keep_good else nullcontext():
                fields = validate_device_fields(_csv_fields(row.values))
                if not keep_good:  # kept rows are in the database: the unique check finds them
                    _check_file_unique(fields, row.row, seen)
                # Rows go in one by one so later rows see earlier ones; all or nothing: a rejection anywhere
                # rolls all back.
                register_device(fields, actor, with_token=False)
            report.created += 1
        except (InvalidInput, Conflict) as exc:
            report.rejected.extend(_rejections(row.row, device_id, exc))
        if progress is not None:
            progress(1)
    if report.rejected and not keep_good:
        raise ImportRejected(report, "rows", position="line {}")
    return report


def _check_file_unique(fields: Mapping[str, Any], line: int, seen: dict[tuple[str, str], int]) -> None:
    friendly_name = fields.get("friendly_name") or fields["device_id"]
    for column, name in {"device_id": fields["device_id"], "friendly_name": friendly_name}.items():
        if (column, name) in seen:
            raise Conflict(f"{column} {name!r} is also on line {seen[column, name]}", {column: None})
        seen[column, name] = line


def _rejections(line: int, device_id: str | None, error: DomainError) -> list[RowRejection]:
    """A rejected row's entries: one per field the error names, each with the error's message."""
    details = error.details if isinstance(error.details, dict) and error.details else {"row": None}
    return [
        RowRejection(line, device_id, str(name), f"{error.message}: {problem}" if problem else error.message)
        for name, problem in details.items()
    ]


def _csv_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for column in CSV_COLUMNS:
        value = (row.get(column) or "").strip()
        if not value:
            continue
        if column == "contacts":
            fields["emergency_contacts"] = [
                parse_contact(entry) for entry in value.split(";") if entry.strip()
            ]
        else:
            fields[column] = value
    return fields


def parse_contact(entry: str) -> dict[str, str]:
    parts = [p.strip() for p in entry.split("|")]
    return dict(zip(("name", "phone", "relation"), parts, strict=False))


# -- reading -------------------------------------------------------------------------------------------


def list_devices(
    status: str | None = None, device_type: str | None = None, grid: str | None = None
) -> Select[Any]:
    query = select(Device)
    if status:
        query = query.where(Device.status == status)
    if device_type:
        query = query.where(Device.device_type == device_type)
    if grid:
        query = query.where(Device.grid_code.startswith(grid, autoescape=True))
    return query.order_by(Device.device_id)


def get_device(device_id: str) -> Device:
    device = db.session.execute(select(Device).where(Device.device_id == device_id)).scalar_one_or_none()
    if device is None:
        raise NotFound(f"device {device_id!r} is not registered")
    return device


def device_alarms(device_id: str) -> Select[Any]:
    device = get_device(device_id)
    return select(Alarm).where(Alarm.device_id == device.id).order_by(Alarm.id.desc())


def list_dead_letters(reason_code: str | None = None, device: str | None = None) -> Select[Any]:
    query = select(DeadLetter)
    if reason_code:
        query = query.where(DeadLetter.reason_code == reason_code)
    if device:
        query = query.where(DeadLetter.device_id == get_device(device).id)
    return query.order_by(DeadLetter.id.desc())


def dead_letter_count(device_pk: int) -> int:
    """How many messages of the device were dead letters."""
    return int(
        db.session.execute(
            select(func.count()).select_from(DeadLetter).where(DeadLetter.device_id == device_pk)
        ).scalar_one()
    )


def list_incidents(status: str | None = None, device: str | None = None) -> Select[Any]:
    """Incidents newest first; ``status`` active (an alarm still on) or cleared; ``device``: a device id."""
    query = select(Incident)
    if status:
        on = select(Alarm.id).where(Alarm.incident_id == Incident.id, Alarm.active.is_(True)).exists()
        query = query.where(on if status == "active" else ~on)
    if device:
        query = query.where(
            select(Alarm.id)
            .join(Device, Device.id == Alarm.device_id)
            .where(Alarm.incident_id == Incident.id, Device.device_id == device)
            .exists()
        )
    return query.order_by(Incident.opened_at.desc(), Incident.id.desc())


def find_device(ref: str, by_friendly_name: bool) -> Device | None:
    column = Device.friendly_name if by_friendly_name else Device.device_id
    return db.session.execute(select(Device).where(column == ref)).scalar_one_or_none()


def family_of(device: Device) -> str:
    return DEVICE_TYPES[device.device_type].family


# -- what a message says about the device ----------------------------------------------------------------


def observe(
    device: Device,
    *,
    at: datetime,
    available: bool | None = None,
    flags: Mapping[str, bool] | None = None,
    telemetry: Mapping[str, Any] | None = None,
    retained: bool = False,
) -> None:
    """Update what we know of the device: seen now (unless the broker replays an old copy), online or
    offline, low battery, tampered, latest values. A status change is audited."""
    before = device.status
    if available is not None:
        device.available = available
    elif not retained:
        device.available = True  # a device that speaks is online
    if flags:
        device.battery_low = flags.get("battery_low", device.battery_low)
        device.tampered = flags.get("tamper", device.tampered)
    if telemetry:
        device.last_values = {**(device.last_values or {}), **telemetry}
    if is_report(device.device_type, available, retained):
        device.last_seen_at = at
    device.status = device_status(
        device.available, device.tampered, device.battery_low, seen=device.last_seen_at is not None
    )
    if device.status != before:
        device.updated_at = at
        record(
            "device.status_changed",
            entity_type="device",
            entity_id=device.device_id,
            actor_label=f"device:{device.device_id}"[:80],
            before={"status": before},
            after={"status": device.status},
        )


def is_report(device_type: str, available: bool | None, retained: bool) -> bool:
    """The device itself speaks: a live state message, or the coordinator's bridge/state online (its only
    message). An availability message is zigbee2mqtt's view of a device, not a report of it."""
    if available is None:
        return not retained
    return available and device_type == COORDINATOR


@dataclass
class BatchObservations:
    """``observe`` for a batch of messages: what changes a device's status is applied (and audited) at
    once, in order; when it was last seen and its latest values are gathered and written once per device
    by ``write()`` before the batch commits, so a device heard from fifty times costs one UPDATE."""

    pending: dict[int, tuple[Device, datetime | None, dict[str, Any]]] = field(default_factory=dict)

    def observe(
        self,
        device: Device,
        *,
        at: datetime,
        available: bool | None,
        flags: Mapping[str, bool],
        telemetry: Mapping[str, Any],
        retained: bool,
    ) -> None:
        if self._changes_state(device, available, flags, retained):
            self.write(device)
            observe(device, at=at, available=available, flags=flags, telemetry=telemetry, retained=retained)
            return
        _, seen, values = self.pending.get(device.id, (device, None, {}))
        if is_report(device.device_type, available, retained):
            seen = at
        self.pending[device.id] = (device, seen, {**values, **telemetry})

    @staticmethod
    def _changes_state(
        device: Device, available: bool | None, flags: Mapping[str, bool], retained: bool
    ) -> bool:
        online = available if available is not None else (True if not retained else device.available)
        first_report = device.last_seen_at is None and is_report(device.device_type, available, retained)
        return (
            first_report
            or online != device.available
            or flags.get("battery_low", device.battery_low) != device.battery_low
            or flags.get("tamper", device.tampered) != device.tampered
        )

    def write(self, device: Device | None = None) -> None:
        """Apply what was gathered, for one device (before a state change of it) or for all: one UPDATE
        statement for all the devices (``write_seen``), and the same values set on the loaded objects as
        already saved, so the session does not write them again."""
        targets = [device.id] if device is not None else list(self.pending)
        rows = []
        for device_id in targets:
            entry = self.pending.pop(device_id, None)
            if entry is None:
                continue
            target, seen, values = entry
            merged = {**(target.last_values or {}), **values}
            rows.append((target.id, seen, merged))
            set_committed_value(target, "last_seen_at", seen or target.last_seen_at)
            set_committed_value(target, "last_values", merged)
        write_seen(db.session.connection(), rows)


# One constant statement for any number of devices: on PostgreSQL the rows travel as one JSON document
# (psycopg would dump a Python list into an array element by element) and the server merges the new values
# into the stored ones; SQLite, embedded and single-writer, gets an executemany of one cached statement.
_SEEN_PG = text(
    "UPDATE device SET last_seen_at = coalesce(u.seen, device.last_seen_at), last_values = CAST("
    "coalesce(CAST(device.last_values AS jsonb), CAST('{}' AS jsonb)) || u.vals AS json)"
    " FROM json_to_recordset(CAST(:rows AS json)) AS u(id integer, seen timestamptz, vals jsonb)"
    " WHERE device.id = u.id"
)


def iso_or_none(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def write_seen(connection: Connection, rows: list[tuple[int, datetime | None, dict[str, Any]]]) -> None:
    """Set each device's last-seen time (None: leave it) and its latest values: on PostgreSQL the given
    values are merged into the stored ones, on SQLite they replace them (the caller merged them)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        document = [{"id": pk, "seen": iso_or_none(seen), "vals": values} for pk, seen, values in rows]
        connection.execute(_SEEN_PG, {"rows": json.dumps(document)})
        return
    connection.execute(
        update(Device)
        .where(Device.id == bindparam("pk"))
        .values(
            last_seen_at=func.coalesce(bindparam("seen", type_=DateTime(timezone=True)), Device.last_seen_at),
            last_values=bindparam("vals", type_=JSON),
        ),
        [{"pk": pk, "seen": seen, "vals": vals} for pk, seen, vals in rows],
    )
