"""Unit operations: list, read with grids and members, create, update, deactivate, set the grids served,
and import a whole file (all or nothing). Each change writes its audit event; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Select, or_, select

from app.audit.services import Actor, record
from app.auth.models import User
from app.clock import now
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.grids.codes import code_problem, path_codes
from app.grids.models import Grid
from app.imports import ImportRejected, ImportReport, ImportRow, RowRejection, read_rows
from app.inputs import contains_text
from app.units.models import UNIT_KINDS, Unit, UnitGrid

# What users' unit_code and a dispatch's handler_unit accept (forms/dispatch.schema.json says the same).
UNIT_CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,39}$"
_UNIT_CODE = re.compile(UNIT_CODE_PATTERN)
MAX_NAME_LENGTH = 120
MAX_PHONE_LENGTH = 32

Progress = Callable[[int], None]


# -- reading ----------------------------------------------------------------------------------------


def list_units(
    kind: str | None = None, grid: str | None = None, q: str | None = None, active: bool | None = None
) -> Select[Any]:
    """Units by code. ``grid``: the units serving that grid, i.e. linked to it or to a grid above it
    (a unit serves the whole subtree of each of its grids)."""
    query = select(Unit).order_by(Unit.code)
    if kind is not None:
        query = query.where(Unit.kind == kind)
    if active is not None:
        query = query.where(Unit.active.is_(active))
    if q:
        query = query.where(or_(contains_text(Unit.code, q), contains_text(Unit.name, q)))
    if grid is not None:
        serving = (
            select(UnitGrid.unit_id)
            .join(Grid, Grid.id == UnitGrid.grid_id)
            .where(Grid.code.in_(path_codes(_checked_grid_code(grid, "grid"))))
        )
        query = query.where(Unit.id.in_(serving))
    return query


def units_serving(grid_code: str, kind: str | None = None) -> list[Unit]:
    """Active units serving ``grid_code`` (directly or through a grid above it), deepest link first:
    a property company linked to the compound comes before a bureau linked to the whole district."""
    query = (
        select(Unit, Grid.code)
        .join(UnitGrid, UnitGrid.unit_id == Unit.id)
        .join(Grid, Grid.id == UnitGrid.grid_id)
        .where(Grid.code.in_(path_codes(grid_code)), Unit.active.is_(True))
    )
    if kind is not None:
        query = query.where(Unit.kind == kind)
    rows = db.session.execute(query).all()
    best: dict[int, tuple[int, Unit]] = {}
    for unit, code in rows:
        if unit.id not in best or len(code) > best[unit.id][0]:
            best[unit.id] = (len(code), unit)
    return [unit for _, unit in sorted(best.values(), key=lambda pair: (-pair[0], pair[1].code))]


def get_unit(code: str) -> Unit:
    unit = db.session.execute(select(Unit).where(Unit.code == code)).scalar_one_or_none()
    if unit is None:
        raise NotFound(f"no unit with code {code!r}", {"code": "unknown"})
    return unit


def unit_exists(code: str) -> bool:
    return db.session.execute(select(Unit.id).where(Unit.code == code)).first() is not None


def require_unit(code: str | None) -> None:
    """A user's ``unit_code``, if any, must name an existing unit: its members are the users naming it."""
    if code is not None and not unit_exists(code):
        raise InvalidInput("unknown unit", {"unit_code": f"no unit with code {code!r}"})


def unit_members(unit: Unit) -> list[User]:
    """The people of a unit: users whose ``unit_code`` names it."""
    return list(
        db.session.execute(select(User).where(User.unit_code == unit.code).order_by(User.username)).scalars()
    )


# -- checks -----------------------------------------------------------------------------------------


def _checked_grid_code(code: str, name: str) -> str:
    problem = code_problem(code)
    if problem is not None:
        raise InvalidInput("invalid grid code", {name: problem})
    return code


def code_problems(code: Any) -> str | None:
    if not isinstance(code, str) or not _UNIT_CODE.match(code):
        return "must be 2-40 lowercase letters, digits, '_' or '-', starting with a letter or digit"
    return None


def kind_problem(kind: Any) -> str | None:
    if kind not in UNIT_KINDS:
        return f"{kind!r}: expected one of {', '.join(UNIT_KINDS)}"
    return None


def _grids_for(codes: Sequence[str], field_name: str = "grids") -> list[Grid]:
    """The grids named by ``codes`` (each once, in the given order); 422 naming every unknown code."""
    wanted = list(dict.fromkeys(codes))
    bad = {code: problem for code in wanted if (problem := code_problem(code)) is not None}
    if bad:
        raise InvalidInput("invalid grid code", {field_name: "; ".join(bad.values())})
    found = {g.code: g for g in db.session.execute(select(Grid).where(Grid.code.in_(wanted))).scalars()}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise InvalidInput(
            f"unknown grid code: {', '.join(unknown)}",
            {field_name: f"no grid with code {', '.join(unknown)}"},
        )
    return [found[code] for code in wanted]


def _snapshot(unit: Unit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": unit.kind,
        "phone": unit.phone,
        "active": unit.active,
        "grids": [g.code for g in unit.grids],
    }


# -- changes ----------------------------------------------------------------------------------------


def create_unit(
    code: str,
    name: str,
    kind: str,
    phone: str | None = None,
    grids: Sequence[str] = (),
    actor: Actor | None = None,
) -> Unit:
    problems = {
        key: problem
        for key, problem in (
            ("code", code_problems(code)),
            ("kind", kind_problem(kind)),
            ("name", None if name and len(name) <= MAX_NAME_LENGTH else f"1-{MAX_NAME_LENGTH} characters"),
        )
        if problem is not None
    }
    if problems:
        raise InvalidInput("invalid unit", problems)
    if unit_exists(code):
        raise Conflict(f"unit {code!r} already exists", {"code": "taken"})
    served = _grids_for(grids)
    unit = Unit(code=code, name=name, kind=kind, phone=phone, active=True, created_at=now(), grids=served)
    db.session.add(unit)
    db.session.flush()
    record("unit.created", entity_type="unit", entity_id=unit.code, actor=actor, after=_snapshot(unit))
    return unit


UPDATABLE = ("name", "kind", "phone", "active")


def update_unit(code: str, changes: dict[str, Any], actor: Actor | None = None) -> Unit:
    """Change name, kind, phone or active (reactivate); other keys are refused."""
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidInput("unknown fields", {key: "cannot be changed here" for key in unknown})
    if "kind" in changes and (problem := kind_problem(changes["kind"])):
        raise InvalidInput("unknown unit kind", {"kind": problem})
    unit = get_unit(code)
    before = _snapshot(unit)
    for key, value in changes.items():
        setattr(unit, key, value)
    after = _snapshot(unit)
    if after != before:
        record(
            "unit.updated", entity_type="unit", entity_id=unit.code, actor=actor, before=before, after=after
        )
    return unit


def deactivate_unit(code: str, actor: Actor | None = None) -> Unit:
    """Deactivate (the row stays: users, tasks and past cases still name it). Idempotent."""
    unit = get_unit(code)
    if unit.active:
        unit.active = False
        record(
            "unit.deactivated",
            entity_type="unit",
            entity_id=unit.code,
            actor=actor,
            before={"active": True},
            after={"active": False},
        )
    return unit


def set_unit_grids(code: str, grid_codes: Sequence[str], actor: Actor | None = None) -> Unit:
    """Replace the grids ``code`` serves. Unknown grid codes: 422 naming them, nothing changed."""
    unit = get_unit(code)
    served = _grids_for(grid_codes)
    before = [g.code for g in unit.grids]
    unit.grids = served
    after = [g.code for g in served]
    if sorted(before) != sorted(after):
        db.session.flush()
        record(
            "unit.grids_set",
            entity_type="unit",
            entity_id=unit.code,
            actor=actor,
            before={"grids": before},
            after={"grids": after},
        )
    return unit


# -- import -----------------------------------------------------------------------------------------

IMPORT_FIELDS = ("code", "name", "kind", "phone", "grids")


def _split_grids(value: Any) -> list[str] | None:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[\s;,|]+", value.strip()) if part]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def parse_units_file(raw: bytes, file_format: str) -> list[ImportRow]:
    """Rows of a CSV file (header ``code,name,kind,phone,grids``; grids separated by spaces or ';') or of a
    JSON file (a list of objects, or ``{"units": [...]}``; grids a list or a string)."""
    return read_rows(raw, file_format, items="units", required=("code", "name", "kind"))


def _row_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    extra = sorted(k for k in values if k not in IMPORT_FIELDS and k is not None)
    if extra:
        problems.append((extra[0], f"unknown field(s): {', '.join(map(str, extra))}"))
    if (problem := code_problems(values.get("code"))) is not None:
        problems.append(("code", problem))
    name = values.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        problems.append(("name", f"required, 1-{MAX_NAME_LENGTH} characters"))
    if (problem := kind_problem(values.get("kind"))) is not None:
        problems.append(("kind", problem))
    phone = values.get("phone")
    if phone is not None and (not isinstance(phone, str) or len(phone) > MAX_PHONE_LENGTH):
        problems.append(("phone", f"a string of at most {MAX_PHONE_LENGTH} characters"))
    grids = _split_grids(values.get("grids"))
    if grids is None:
        problems.append(("grids", "a list of grid codes, or codes separated by spaces or ';'"))
    else:
        problems.extend(("grids", p) for code in grids if (p := code_problem(code)) is not None)
    return problems


def import_units(
    rows: Sequence[ImportRow], actor: Actor | None = None, progress: Progress | None = None
) -> ImportReport:
    """Check every row, then create or update all of them, or none (``ImportRejected``, 422).

    A row whose unit exists already updates it (name, kind, phone, grids); an identical one is unchanged,
    so importing a file twice is safe. Joins the caller's transaction."""
    report = ImportReport(rows=len(rows))
    rejected = report.rejected
    seen: dict[str, int] = {}
    checked: list[tuple[ImportRow, list[str]]] = []
    for row in rows:
        problems = _row_problems(row.values)
        code = row.values.get("code") if isinstance(row.values.get("code"), str) else None
        rejected.extend(RowRejection(row.row, code, f, reason) for f, reason in problems)
        if code is not None and code in seen:
            rejected.append(RowRejection(row.row, code, "code", f"appears twice: also row {seen[code]}"))
        elif code is not None:
            seen[code] = row.row
        if not problems:
            checked.append((row, _split_grids(row.values.get("grids")) or []))
        if progress is not None:
            progress(1)
    wanted = {code for _, codes in checked for code in codes}
    known = set(db.session.execute(select(Grid.code).where(Grid.code.in_(wanted))).scalars())
    for row, codes in checked:
        unknown = [c for c in codes if c not in known]
        if unknown:
            rejected.append(
                RowRejection(row.row, row.values["code"], "grids", f"no grid with code {', '.join(unknown)}")
            )
    if rejected:
        report.rejected = sorted(rejected, key=lambda r: r.row)
        raise ImportRejected(report, "units")
    for row, codes in checked:
        _upsert(row.values, codes, report, actor)
    record(
        "units.imported",
        entity_type="unit_import",
        entity_id=len(rows),
        actor=actor,
        data={k: v for k, v in report.as_dict().items() if k != "rejected"},
    )
    return report


def _upsert(values: dict[str, Any], grid_codes: list[str], report: ImportReport, actor: Actor | None) -> None:
    code, phone = values["code"], values.get("phone") or None
    existing = db.session.execute(select(Unit).where(Unit.code == code)).scalar_one_or_none()
    if existing is None:
        create_unit(code, values["name"].strip(), values["kind"], phone, grid_codes, actor=actor)
        report.created += 1
        return
    before = _snapshot(existing)
    update_unit(code, {"name": values["name"].strip(), "kind": values["kind"], "phone": phone}, actor=actor)
    set_unit_grids(code, grid_codes, actor=actor)
    if _snapshot(existing) == before:
        report.unchanged += 1
    else:
        report.updated += 1


def ensure_units(specs: Iterable[dict[str, Any]], actor: Actor | None = None) -> int:
    """Create the units of ``specs`` that do not exist yet (code, name, kind, phone, grids); how many new."""
    created = 0
    for spec in specs:
        if not unit_exists(spec["code"]):
            create_unit(
                spec["code"], spec["name"], spec["kind"], spec.get("phone"), spec.get("grids", ()), actor
            )
            created += 1
    return created
