"""Who responds and how fast: resolve a plan's responders to units and people, keep each responder's
report-in state, and measure the emergency (first report-in, all reported in, control, close) in seconds
from the report.

A plan names responders by unit kind (the least-loaded active unit of that kind serving the case's grid, else
the first active unit of the kind), by unit code, or as ``grid_worker`` (the case's grid's least-loaded grid
worker: grid workers carry no location, so "nearest" is the worker assigned deepest on the case's grid path,
then the least loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.cases.dispatch import grid_worker_candidates, unit_candidates
from app.clock import as_utc
from app.emergency.limits import due_after
from app.emergency.models import Emergency, EmergencyResponder, ResponderStatus
from app.extensions import db
from app.units.models import UNIT_KINDS, Unit

# Each miss climbs one level; the level's coordinator is summoned (the supervisor after the district).
NEXT_LEVEL = {None: "community", "community": "street", "street": "district", "district": "supervisor"}
LEVEL_ROLES = {
    "community": "community_staff",
    "street": "street_coordinator",
    "district": "district_coordinator",
    "supervisor": "supervisor",
}


@dataclass(frozen=True)
class Resolved:
    unit: str | None
    user: str | None
    label: str
    limit: str


@dataclass(frozen=True)
class Unresolved:
    spec: dict[str, Any]
    reason: str


def _unit_of_kind(kind: str, grid_code: str | None) -> Unit | None:
    if grid_code:
        candidates = unit_candidates(grid_code, kind)
        if candidates:
            return db.session.execute(select(Unit).where(Unit.code == candidates[0].name)).scalar_one()
    return (
        db.session.execute(
            select(Unit).where(Unit.kind == kind, Unit.active.is_(True)).order_by(Unit.code).limit(1)
        )
        .scalars()
        .first()
    )


def resolve(specs: list[dict[str, Any]], grid_code: str | None) -> tuple[list[Resolved], list[Unresolved]]:
    """The responders ``specs`` name (plan entries), in order, each unit or person once."""
    found: list[Resolved] = []
    missing: list[Unresolved] = []
    taken: set[tuple[str | None, str | None]] = set()
    for spec in specs:
        limit = str(spec["limit"])
        label = spec.get("label")
        resolved: Resolved | None = None
        if spec.get("grid_worker"):
            workers = grid_worker_candidates(grid_code) if grid_code else []
            if workers:
                resolved = Resolved(None, workers[0].name, label or f"网格员 {workers[0].label}", limit)
            else:  # nobody on the grid: any grid worker who sees the case may take it
                resolved = Resolved(None, None, label or "网格员(待认领)", limit)
        elif spec.get("unit_code"):
            unit = db.session.execute(
                select(Unit).where(Unit.code == spec["unit_code"], Unit.active.is_(True))
            ).scalar_one_or_none()
            if unit is not None:
                resolved = Resolved(unit.code, None, label or unit.name, limit)
            else:
                missing.append(Unresolved(spec, f"no active unit {spec['unit_code']!r}"))
        else:
            kind = str(spec.get("unit_kind"))
            unit = _unit_of_kind(kind, grid_code)
            if unit is not None:
                resolved = Resolved(unit.code, None, label or unit.name, limit)
            else:
                missing.append(Unresolved(spec, f"no active {UNIT_KINDS.get(kind, (kind,))[0]} unit"))
        if resolved is None:
            continue
        key = (resolved.unit, resolved.user)
        if key != (None, None) and key in taken:
            continue  # two entries naming one unit: it reports in once
        taken.add(key)
        found.append(resolved)
    return found, missing


def add_responders(emergency: Emergency, resolved: list[Resolved], at: datetime) -> list[EmergencyResponder]:
    first = len(emergency.responders)
    rows = [
        EmergencyResponder(
            emergency_id=emergency.id,
            position=first + offset,
            unit_code=r.unit,
            username=r.user,
            label=r.label[:120],
            report_in_limit=r.limit,
            level=None,
            status=ResponderStatus.PENDING,
            misses=0,
            dispatched_at=at,
            report_in_due=due_after(at, r.limit),
        )
        for offset, r in enumerate(resolved)
    ]
    db.session.add_all(rows)
    emergency.responders.extend(rows)
    db.session.flush()
    return rows


def entry(row: EmergencyResponder) -> dict[str, Any]:
    """The process data of one responder: what the report-in round of the diagram runs on."""
    return {
        "responder_id": row.id,
        "position": row.position,
        "unit": row.unit_code,
        "user": row.username,
        "label": row.label,
        "limit": row.report_in_limit,
        "level": row.level,
        "misses": row.misses,
        "report_in_due": as_utc(row.report_in_due).isoformat(),
        "status": row.status,
    }


def seconds_between(start: datetime, end: datetime) -> int:
    return int((as_utc(end) - as_utc(start)).total_seconds())


def outstanding(emergency: Emergency) -> tuple[int, int]:
    """(responders not acknowledged, all responders) of ``emergency``, counted by the database."""
    rows = db.session.execute(
        select(EmergencyResponder.status, func.count())
        .where(EmergencyResponder.emergency_id == emergency.id)
        .group_by(EmergencyResponder.status)
    ).all()
    total = sum(count for _, count in rows)
    acknowledged = sum(count for status, count in rows if status == ResponderStatus.ACKNOWLEDGED)
    return total - acknowledged, total


def counts(emergency: Emergency) -> dict[str, int]:
    result = {status: 0 for status in ResponderStatus.ALL}
    for row in emergency.responders:
        result[row.status] += 1
    return result
