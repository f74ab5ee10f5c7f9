"""The place registry: create, read (within the reader's territory), import a whole file (every row or none),
put a place on the blacklist and take it off. Each change writes its audit event; the caller commits."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select

from app.audit.services import Actor, record
from app.auth.models import User
from app.auth.roles import Role
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.grids.scope import in_subtrees
from app.grids.services import locate
from app.imports import ImportRejected, ImportReport, ImportRow, RowRejection, read_rows
from app.inputs import contains_text
from app.inspections.models import PLACE_TYPES, Place
from app.inspections.territory import territory_of

PLACE_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
_PLACE_CODE = re.compile(PLACE_CODE_PATTERN)
# Who keeps the registry; everybody who works on cases but residents reads the places of their territory.
PLACE_EDITORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
PLACE_READERS = frozenset(
    {
        Role.GRID_WORKER,
        Role.GRID_LEADER,
        Role.COMMUNITY_STAFF,
        Role.STREET_COORDINATOR,
        Role.DISTRICT_COORDINATOR,
        Role.DISPATCHER,
        Role.DEPARTMENT_HANDLER,
        Role.SUPERVISOR,
        Role.ADMIN,
    }
)
# field: maximum length (strings)
_LENGTHS = {"name": 120, "address": 300, "responsible_person": 80, "responsible_phone": 32}
REQUIRED = ("code", "name", "place_type", "lat", "lon", "address", "responsible_person")
FIELDS = (*REQUIRED, "responsible_phone")
# A type may be given by its key or by its zh-CN label (餐饮 → restaurant).
_TYPE_BY_LABEL = {zh: key for key, (zh, _) in PLACE_TYPES.items()}

Progress = Callable[[int], None]


def place_type_key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value in PLACE_TYPES else _TYPE_BY_LABEL.get(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def row_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for each problem of one place's values; empty when it can be saved."""
    problems: list[tuple[str, str]] = []
    unknown = sorted(str(k) for k in values if k not in FIELDS)
    if unknown:
        problems.append((unknown[0], f"unknown field(s): {', '.join(unknown)}"))
    for name in REQUIRED:
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append((name, "required"))
    code = values.get("code")
    if code is not None and (not isinstance(code, str) or not _PLACE_CODE.fullmatch(code)):
        problems.append(("code", "1-40 letters, digits, '_' or '-', starting with a letter or digit"))
    if values.get("place_type") is not None and place_type_key(values["place_type"]) is None:
        allowed = ", ".join(f"{key} ({zh})" for key, (zh, _) in PLACE_TYPES.items())
        problems.append(("place_type", f"unknown type {values['place_type']!r}; expected one of {allowed}"))
    for name, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        if values.get(name) is None or values.get(name) == "":
            continue
        number = _number(values[name])
        if number is None or not low <= number <= high:
            problems.append((name, f"a number from {low:g} to {high:g}"))
    for name, length in _LENGTHS.items():
        value = values.get(name)
        if value is not None and (not isinstance(value, str) or len(value.strip()) > length):
            problems.append((name, f"a string of at most {length} characters"))
    return problems


def _locate(values: dict[str, Any]) -> str | None:
    found = locate(float(values["lat"]), float(values["lon"]))
    return found.code if found is not None else None


def _outside(values: dict[str, Any]) -> str:
    return f"({values['lat']}, {values['lon']}) lies outside every grid"


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    phone = values.get("responsible_phone")
    return {
        "code": values["code"],
        "name": values["name"].strip(),
        "place_type": place_type_key(values["place_type"]),
        "lat": float(values["lat"]),
        "lon": float(values["lon"]),
        "address": values["address"].strip(),
        "responsible_person": values["responsible_person"].strip(),
        "responsible_phone": phone.strip() or None if isinstance(phone, str) else None,
    }


def snapshot(place: Place) -> dict[str, Any]:
    return {name: getattr(place, name) for name in (*FIELDS, "grid_code")}


# -- reading ----------------------------------------------------------------------------------------


def visible_places(user: User) -> Select[Any]:
    """The places of ``user``'s territory (admins: all), by code."""
    if user.role not in PLACE_READERS:
        raise Forbidden(f"a {user.role} may not read the place registry", {"role": user.role})
    return select(Place).where(territory_of(user).condition(Place.grid_code)).order_by(Place.code)


def list_places(
    user: User,
    place_type: str | None = None,
    grid: str | None = None,
    blacklisted: bool | None = None,
    q: str | None = None,
) -> Select[Any]:
    query = visible_places(user)
    if place_type is not None:
        query = query.where(Place.place_type == place_type)
    if grid is not None:
        query = query.where(in_subtrees(Place.grid_code, [grid]))
    if blacklisted is not None:
        query = query.where(Place.blacklisted.is_(blacklisted))
    if q:
        query = query.where(
            or_(contains_text(Place.name, q), contains_text(Place.address, q), Place.code == q)
        )
    return query


def get_place(user: User, place_id: int) -> Place:
    place = db.session.execute(visible_places(user).where(Place.id == place_id)).scalar_one_or_none()
    if place is None:
        raise NotFound(f"place {place_id} does not exist")
    return place


# -- changes ----------------------------------------------------------------------------------------


def _require_editor(user: User) -> None:
    if user.role not in PLACE_EDITORS:
        raise Forbidden(f"a {user.role} may not change the place registry", {"role": user.role})


def create_place(user: User, values: dict[str, Any]) -> Place:
    """Register one place; its grid comes from its location (422 outside every grid, or for a known code)."""
    _require_editor(user)
    problems = row_problems(values)
    if problems:
        raise InvalidInput("invalid place", dict(reversed(problems)))
    clean = _clean(values)
    if db.session.execute(select(Place.id).where(Place.code == clean["code"])).first() is not None:
        raise InvalidInput("place exists", {"code": f"a place with code {clean['code']!r} exists already"})
    grid_code = _locate(clean)
    if grid_code is None:
        raise InvalidInput("place outside every grid", {"lat": _outside(clean), "lon": _outside(clean)})
    place = _insert(clean, grid_code)
    record(
        "place.created", entity_type="inspection_place", entity_id=place.id, actor=user, after=snapshot(place)
    )
    return place


def _insert(clean: dict[str, Any], grid_code: str) -> Place:
    timestamp = now()
    place = Place(
        **clean,
        grid_code=grid_code,
        blacklisted=False,
        active=True,
        created_at=timestamp,
        updated_at=timestamp,
    )
    db.session.add(place)
    db.session.flush()
    return place


def blacklist(place: Place, reason: str, at: datetime, actor: Actor | None, **data: Any) -> None:
    """Put ``place`` on the blacklist (列入黑名单) with ``reason``."""
    before = {"blacklisted": place.blacklisted, "blacklist_reason": place.blacklist_reason}
    place.blacklisted, place.blacklist_reason, place.blacklisted_at = True, reason[:500], at
    place.updated_at = at
    record(
        "place.blacklisted",
        entity_type="inspection_place",
        entity_id=place.id,
        actor=actor,
        before=before,
        after={
            "blacklisted": True,
            "blacklist_reason": place.blacklist_reason,
            "blacklisted_at": at.isoformat(),
        },
        data=data or None,
    )


REASON_LENGTH = 500


def _unblacklist_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(
            "a reason is required", {"reason": "required: why the place comes off the blacklist"}
        )
    if len(reason.strip()) > REASON_LENGTH:
        raise InvalidInput("reason too long", {"reason": f"at most {REASON_LENGTH} characters"})
    return reason.strip()


def unblacklist(user: User | None, place: Place, reason: Any) -> Place:
    """Take ``place`` off the blacklist (移出黑名单) with ``reason``, audited with before and after.
    ``user`` None: the command line. 422 without a reason, 409 if it is not blacklisted; nothing changes then.
    """
    if user is not None:
        _require_editor(user)
    clean = _unblacklist_reason(reason)
    if not place.blacklisted:
        raise Conflict(f"place {place.code} is not blacklisted", {"blacklisted": False})
    before = {
        "blacklisted": True,
        "blacklist_reason": place.blacklist_reason,
        "blacklisted_at": place.blacklisted_at.isoformat() if place.blacklisted_at else None,
    }
    timestamp = now()
    place.blacklisted, place.blacklist_reason, place.blacklisted_at = False, None, None
    place.updated_at = timestamp
    record(
        "place.unblacklisted",
        entity_type="inspection_place",
        entity_id=place.id,
        actor=user,
        before=before,
        after={"blacklisted": False, "blacklist_reason": None, "blacklisted_at": None},
        data={"reason": clean},
    )
    return place


def unblacklist_place(user: User, place_id: int, reason: Any) -> Place:
    """The API's way: only place editors, and only a place of their territory (else 404, as if missing)."""
    _require_editor(user)
    return unblacklist(user, get_place(user, place_id), reason)


# -- import -----------------------------------------------------------------------------------------


def parse_places_file(raw: bytes, file_format: str) -> list[ImportRow]:
    """Rows of a CSV file (header ``code,name,place_type,lat,lon,address,responsible_person`` and optionally
    ``responsible_phone``) or of a JSON file (a list of objects, or ``{"places": [...]}``)."""
    return read_rows(raw, file_format, items="places", required=REQUIRED)


def import_places(
    user: User | None, rows: Sequence[ImportRow], progress: Progress | None = None
) -> ImportReport:
    """Check every row (fields, duplicate codes, a grid at the location), then create or update all of them,
    or none (``ImportRejected``, 422). An existing code updates that place; an identical row is
    unchanged, so importing a file twice is safe. ``user`` None: the command line. Joins the caller's
    transaction."""
    if user is not None:
        _require_editor(user)
    report = ImportReport(rows=len(rows))
    seen: dict[str, int] = {}
    checked: list[tuple[dict[str, Any], str]] = []
    for row in rows:
        values = row.values
        code = values.get("code") if isinstance(values.get("code"), str) else None
        problems = row_problems(values)
        if code is not None and code in seen:
            problems.append(("code", f"appears twice: also row {seen[code]}"))
        elif code is not None:
            seen[code] = row.row
        grid_code = None
        if not problems:
            clean = _clean(values)
            grid_code = _locate(clean)
            if grid_code is None:
                problems.append(("lat", _outside(clean)))
            else:
                checked.append((clean, grid_code))
        report.rejected.extend(RowRejection(row.row, code, f, reason) for f, reason in problems)
        if progress is not None:
            progress(1)
    if report.rejected:
        raise ImportRejected(report, "places")
    existing = {
        p.code: p
        for p in db.session.execute(
            select(Place).where(Place.code.in_([c["code"] for c, _ in checked]))
        ).scalars()
    }
    for clean, grid_code in checked:
        place = existing.get(clean["code"])
        if place is None:
            _insert(clean, grid_code)
            report.created += 1
            continue
        before = snapshot(place)
        for name, value in {**clean, "grid_code": grid_code}.items():
            setattr(place, name, value)
        if snapshot(place) == before:
            report.unchanged += 1
        else:
            place.updated_at = now()
            report.updated += 1
    record(
        "places.imported",
        entity_type="inspection_place_import",
        entity_id=len(rows),
        actor=user,
        data={k: v for k, v in report.as_dict().items() if k != "rejected"},
    )
    return report
