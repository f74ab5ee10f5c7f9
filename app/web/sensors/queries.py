"""What the sensor pages read, always within the user's scope (``app.devices.visibility``): the devices list
and its filters, the map's points, a device with its alarms, active alarms, incidents with the cases the user
may open, and the dead letters. The filters are the API's (``app.devices.services``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select

from app.auth.models import User
from app.cases.models import Case
from app.cases.services import case_visible_to
from app.devices import services
from app.devices.models import Alarm, DeadLetter, Device, Incident
from app.devices.types import DEVICE_TYPES, DeviceStatus
from app.devices.visibility import dead_letter_in_scope, located_in_scope
from app.errors import InvalidInput
from app.extensions import db
from app.grids.models import Grid
from app.http import paginate
from app.inputs import contains_text
from app.web.sensors import labels

PAGE_SIZE = 25
MAP_POINTS = 2000  # the map draws at most this many devices (the list pages through all of them)


@dataclass(frozen=True)
class DeviceQuery:
    status: str = ""
    device_type: str = ""
    grid: str = ""
    q: str = ""
    page: int = 1

    def as_args(self, **changes: Any) -> dict[str, Any]:
        values = {**asdict(self), **changes}
        return {key: value for key, value in values.items() if value not in ("", None, 1)}


def parse_device_query(args: dict[str, str], grid_codes: set[str]) -> tuple[DeviceQuery, dict[str, str]]:
    """The list's filters from the query string; a bad one is dropped and named with the page's words."""
    errors: dict[str, str] = {}
    status = args.get("status", "")
    if status and status not in DeviceStatus.ALL:
        errors["status"], status = str(labels.CHOOSE_LISTED), ""
    device_type = args.get("device_type", "")
    if device_type and device_type not in DEVICE_TYPES:
        errors["device_type"], device_type = str(labels.FIELD_HINTS["device_type"]), ""
    grid = args.get("grid", "")
    if grid and grid not in grid_codes:
        errors["grid"], grid = str(labels.CHOOSE_LISTED), ""
    return (
        DeviceQuery(status, device_type, grid, args.get("q", "").strip()[:100], page_number(args)),
        errors,
    )


def page_number(args: dict[str, str]) -> int:
    raw = args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def visible_devices(user: User, query: DeviceQuery) -> Select[Any]:
    statement = services.list_devices(query.status or None, query.device_type or None, query.grid or None)
    statement = statement.where(located_in_scope(user, Device.grid_code))
    if query.q:
        statement = statement.where(
            or_(
                *(
                    contains_text(column, query.q)
                    for column in (
                        Device.device_id,
                        Device.friendly_name,
                        Device.address,
                        Device.resident_name,
                    )
                )
            )
        )
    return statement


def device_page(user: User, query: DeviceQuery) -> dict[str, Any]:
    return paginate(visible_devices(user, query), query.page, PAGE_SIZE)


def map_points(user: User, query: DeviceQuery) -> dict[str, Any]:
    """The filtered devices that have a place, as GeoJSON points (names are text, the script escapes)."""
    statement = visible_devices(user, query).where(Device.lat.is_not(None), Device.lon.is_not(None))
    devices = db.session.execute(statement.limit(MAP_POINTS + 1)).scalars().all()
    return {
        "type": "FeatureCollection",
        "truncated": len(devices) > MAP_POINTS,
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [device.lon, device.lat]},
                "properties": {
                    "device_id": device.device_id,
                    "name": device.friendly_name,
                    "status": device.status,
                    "status_label": labels.status(device.status),
                    "type_label": labels.device_type(device.device_type),
                },
            }
            for device in devices[:MAP_POINTS]
        ],
    }


def device_alarms(device: Device, page: int) -> dict[str, Any]:
    return paginate(services.device_alarms(device.device_id), page, PAGE_SIZE)


def active_alarms(user: User, page: int) -> dict[str, Any]:
    """The alarms still on, of the devices the user sees, newest first."""
    statement = (
        select(Alarm)
        .join(Device, Device.id == Alarm.device_id)
        .where(Alarm.active.is_(True), located_in_scope(user, Device.grid_code))
        .order_by(Alarm.started_at.desc(), Alarm.id.desc())
    )
    return paginate(statement, page, PAGE_SIZE)


def incident_page(user: User, state: str, page: int) -> dict[str, Any]:
    if state not in labels.INCIDENT_STATES:
        raise InvalidInput("unknown incident state", {"state": str(labels.CHOOSE_LISTED)})
    statement = services.list_incidents(state).where(located_in_scope(user, Incident.grid_code))
    return paginate(statement, page, PAGE_SIZE)


def incident_cases(incident_ids: set[int | None]) -> dict[int, int | None]:
    """incident id → the id of the case it opened (None: not opened yet, or never)."""
    ids = {pk for pk in incident_ids if pk is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Incident.id, Incident.case_id).where(Incident.id.in_(ids))).all())


def visible_case_keys(user: User, case_ids: set[int | None]) -> dict[int, str]:
    """The keys of those cases the user may open (an incident's case outside their scope is not linked)."""
    ids = {case_id for case_id in case_ids if case_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(Case.id, Case.key).where(Case.id.in_(ids), case_visible_to(user)))
    return {case_id: key for case_id, key in rows}


def dead_letter_page(user: User, reason_code: str, device: Device | None, page: int) -> dict[str, Any]:
    """Dead letters newest first (of ``device``, if given): those of no device, and those of the devices
    the user sees."""
    statement = services.list_dead_letters(reason_code or None, device.device_id if device else None)
    statement = statement.where(dead_letter_in_scope(user))
    return paginate(statement, page, PAGE_SIZE)


def payload_text(letter: DeadLetter) -> str:
    """The raw payload as text (bad bytes replaced); the template escapes it like any text."""
    return bytes(letter.payload).decode("utf-8", errors="replace")


def grid_name(code: str | None) -> str | None:
    if not code:
        return None
    return db.session.execute(select(Grid.name).where(Grid.code == code)).scalar_one_or_none()


def dead_letter_counts(devices: list[Device]) -> dict[int, int]:
    """How many dead letters each of ``devices`` has (one query for a page of them)."""
    pks = [device.id for device in devices]
    if not pks:
        return {}
    rows = db.session.execute(
        select(DeadLetter.device_id, func.count())
        .where(DeadLetter.device_id.in_(pks))
        .group_by(DeadLetter.device_id)
    ).all()
    return {pk: int(total) for pk, total in rows if pk is not None}


def device_ids(pks: set[int | None]) -> dict[int, str]:
    ids = {pk for pk in pks if pk is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Device.id, Device.device_id).where(Device.id.in_(ids))).all())
