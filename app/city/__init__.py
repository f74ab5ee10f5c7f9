"""``flask seed-city``: a district at real scale — Pidu's territory (147 communities, 771 comprehensive
grids, 1,792 compounds, 4,786 buildings), its 1,126 grid workers and the other people and units, and
383,000 historic cases loaded in bulk (``app.city.history``), then the last days' cases played through
the real services and engine (the demo's walker), so inboxes hold real running instances.

Refuses a database that already holds a territory, units or cases (it builds a district, it does not
merge into one). Commits in three steps: territory and people; the bulk history; the live cases."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, text

from app import runtime
from app.audit.services import record
from app.auth.models import User
from app.cases import photos as photo_files
from app.cases.models import Case
from app.categories.models import Category as CategoryRow
from app.categories.services import responsibility, sync_catalogue
from app.city import history
from app.city.bulk import BulkWriter
from app.city.people import city_cast
from app.city.places import PlaceFinder, UnitFinder
from app.city.territory import city_territory
from app.clock import FrozenClock, now
from app.counters import KeyCounter
from app.demo import _active_subclasses, _ensure_deployed
from app.demo.people import Cast, ensure_people
from app.demo.photos import demo_photo
from app.demo.plans import CasePlan, make_plans
from app.demo.walker import Context, app_clock, walk_case
from app.errors import Conflict
from app.extensions import db
from app.grids.models import Grid
from app.grids.services import import_geojson
from app.jobs import run_inline_jobs
from app.units.models import Unit
from app.workflow.deploy import published_definition

PIDU_CASES = 383_000
HISTORY_DAYS = 365
LIVE_DAYS = 2  # the live cases are reported in the last two days; the bulk history ends before them
LIVE_CASES = 800  # at scale 1: most of a day of Pidu's reports
SEEDED = "city.seeded"


class Bar(Protocol):
    def update(self, n: int) -> None: ...


ProgressFactory = Callable[[str, int], Any]  # (label, total) → a context manager giving a Bar


@dataclass
class CityReport:
    grids: int = 0
    users: int = 0
    units: int = 0
    cases: int = 0
    live_cases: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    live_statuses: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class NotEmpty(Conflict):
    pass


def refuse_non_empty() -> None:
    held = {
        "grids": db.session.execute(select(func.count()).select_from(Grid)).scalar_one(),
        "units": db.session.execute(select(func.count()).select_from(Unit)).scalar_one(),
        "cases": db.session.execute(select(func.count()).select_from(Case)).scalar_one(),
    }
    if any(held.values()):
        raise NotEmpty(
            "seed-city builds a district in an empty database; this one already holds "
            + ", ".join(f"{n:,} {what}" for what, n in held.items() if n)
            + " (use a fresh database, or `flask seed-demo` to add to the demo district)",
            held,
        )


def seed_city(
    password: str = "gridcase-demo",
    *,
    scale: float = 1.0,
    seed: int = 3,
    live_cases: int | None = None,
    progress: ProgressFactory | None = None,
) -> CityReport:
    report = CityReport()
    refuse_non_empty()
    end = now()
    clock_started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock_started
        report.seconds[name] = time.perf_counter() - clock_started
        clock_started = time.perf_counter()

    territory = city_territory(scale, seed)
    cast = city_cast(territory, scale, seed)
    # The district, its people and units were there before the history began.
    with app_clock(FrozenClock(end - timedelta(days=HISTORY_DAYS + 1))):
        _ensure_deployed()
        sync_catalogue()
        report.grids = import_geojson(territory).created
        people = ensure_people(cast, password, runtime.settings().password_hash_method)
        report.users, report.units = people.users, people.units
        db.session.commit()
    lap("territory and people")

    count = round(PIDU_CASES * scale)
    rows = _bulk_history(territory, cast, count, seed, end, progress)
    report.cases, report.rows = count, rows
    record(SEEDED, entity_type="city", entity_id=seed, data={"scale": scale, "cases": count, "rows": rows})
    db.session.commit()
    lap("bulk history")

    live = round(LIVE_CASES * scale) if live_cases is None else live_cases
    report.live_statuses = _live_cases(territory, cast, live, seed, end, progress)
    report.live_cases = sum(report.live_statuses.values())
    lap("live cases")
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        lap("analyze")
    return report


# -- the bulk history -----------------------------------------------------------------------------


def _history_inputs(territory: dict[str, Any], cast: Cast) -> history.HistoryInputs:
    user_ids = {name: uid for name, uid in db.session.execute(select(User.username, User.id))}
    definition = published_definition("case_handling")
    categories = []
    for row in db.session.execute(
        select(CategoryRow).where(
            CategoryRow.active.is_(True),
            func.length(CategoryRow.code) == 5,
            CategoryRow.process_key == "case_handling",
        )
    ).scalars():
        _, unit_kind = responsibility(row)
        categories.append(
            history.Category(
                row.code, row.name, row.default_severity, history.limit_hours(row.handle_limit), unit_kind
            )
        )
    by_role: dict[str, list[str]] = {}
    for person in cast.users:
        by_role.setdefault(person.role, []).append(person.username)
    community_staff = {p.grids[0]: p.username for p in cast.users if p.role == "community_staff"}
    return history.HistoryInputs(
        user_ids=user_ids,
        workers_by_grid=cast.workers_by_grid,
        residents=cast.residents,
        dispatchers=by_role["dispatcher"],
        supervisors=by_role["supervisor"],
        community_staff=community_staff,
        handlers={u.code: list(u.handlers) for u in cast.units},
        units_for=UnitFinder(cast.units),
        places=PlaceFinder(territory).pick,
        grids=cast.grids,
        categories=sorted(categories, key=lambda c: c.code),
        definition_id=definition.id,
        definition_version=definition.version,
        user_tasks={t["element_id"]: t for t in definition.user_tasks},
        photos=_stored_photos(),
    )


def _stored_photos() -> list[history.Photo]:
    """The demo's proof photos, stored once by content hash with their thumbnails: the history's
    attachments all point at these few files."""
    folder = runtime.settings().upload_folder
    stored = []
    for variant in range(6):
        data = demo_photo(variant)
        info = photo_files.inspect_image(data, runtime.settings().max_upload_bytes)
        path = photo_files.store_blob(folder, data, info)
        thumbnail = f"thumbs/{info.sha256[:2]}/{info.sha256}.jpg"
        if not (folder / thumbnail).exists():
            photo_files.make_thumbnail(folder / path, folder / thumbnail)
        stored.append(history.Photo(info.sha256, path, thumbnail, info.size, info.width, info.height))
    return stored


def _next_id(table: str) -> int:
    return int(db.session.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one())


def _bulk_history(
    territory: dict[str, Any], cast: Cast, count: int, seed: int, end: Any, progress: ProgressFactory | None
) -> dict[str, int]:
    inputs = _history_inputs(territory, cast)
    ids = history.Ids(
        case=_next_id("case_file"),
        instance=_next_id("process_instance"),
        task=_next_id("human_task"),
        attachment=_next_id("attachment"),
    )
    history_end = end - timedelta(days=LIVE_DAYS)
    maker = history.CaseHistory(inputs, ids, history_end - timedelta(days=HISTORY_DAYS), history_end, seed)
    writer = BulkWriter(history.COLUMNS, history.JSON_COLUMNS)
    first_ids = {table: _next_id(table) for table in REFERENCES}
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Foreign keys are checked once, set-based, after the load (``_check_references``) instead of by
        # a trigger per row, which doubles the time of the COPYs.
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    with _bar(progress, "historic cases (bulk)", count) as bar:
        for table, row in maker.rows(count, bar.update):
            writer.add(table, row)
        writer.close()
    if postgres:
        db.session.execute(text("SET LOCAL session_replication_role = origin"))
        _check_references(first_ids)
    _move_sequences(["case_file", "process_instance", "human_task", "attachment"])
    for year, value in ids.keys.items():
        counter = db.session.get(KeyCounter, f"case-{year}")
        if counter is None:
            db.session.add(KeyCounter(name=f"case-{year}", value=value))
        else:
            counter.value = max(counter.value, value)
    db.session.flush()
    return writer.counts


# table → (column, referenced table) of the history's foreign keys
REFERENCES: dict[str, list[tuple[str, str]]] = {
    "case_file": [("reporter_id", "user_account"), ("duplicate_of_id", "case_file")],
    "process_instance": [("case_id", "case_file"), ("definition_id", "process_definition")],
    "human_task": [
        ("instance_id", "process_instance"),
        ("case_id", "case_file"),
        ("assignee_id", "user_account"),
        ("completed_by_id", "user_account"),
    ],
    "attachment": [("case_id", "case_file"), ("uploaded_by_id", "user_account")],
    "audit_event": [
        ("actor_id", "user_account"),
        ("case_id", "case_file"),
        ("instance_id", "process_instance"),
    ],
}


class BrokenReferences(RuntimeError):
    pass


def _check_references(first_ids: dict[str, int]) -> None:
    """Every foreign key of the loaded rows points at a row: one anti-join per table and column."""
    broken = {}
    for table, references in REFERENCES.items():
        for column, target in references:
            count = db.session.execute(
                text(
                    f"SELECT count(*) FROM {table} t WHERE t.id >= :first AND t.{column} IS NOT NULL "
                    f"AND NOT EXISTS (SELECT 1 FROM {target} r WHERE r.id = t.{column})"
                ),
                {"first": first_ids[table]},
            ).scalar_one()
            if count:
                broken[f"{table}.{column}"] = count
    if broken:
        raise BrokenReferences(f"the bulk history refers to rows that do not exist: {broken}")


def _move_sequences(tables: list[str]) -> None:
    """Rows came with explicit ids: the id sequences continue after them (PostgreSQL; SQLite's
    autoincrement follows max(id) by itself)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        )


# -- the live cases -------------------------------------------------------------------------------


def _live_cases(
    territory: dict[str, Any], cast: Cast, count: int, seed: int, end: Any, progress: ProgressFactory | None
) -> dict[str, int]:
    """``count`` cases reported in the last ``LIVE_DAYS`` days, each played through the real services up
    to now (the demo's plans and walker): the recent ones still wait in triage, dispatch, handling, proof
    or review; the older ones went on to their end."""
    if count == 0:
        return {}
    # The demo's plans put ~13 % of their reports in the last two days: draw until there are ``count``.
    drawn, recent = count * 10 + 50, list[CasePlan]()
    while len(recent) < count:
        plans = make_plans(drawn, seed, end, cast, territory, _active_subclasses())
        recent = [p for p in plans if p.reported_at >= end - timedelta(days=LIVE_DAYS)][:count]
        drawn *= 2
    context = Context(cast, end)
    clock = FrozenClock(end)
    statuses: dict[str, int] = {}
    with _bar(progress, "live cases (engine)", len(recent)) as bar, app_clock(clock):
        for n, plan in enumerate(recent, start=1):
            case = walk_case(plan, context, clock)
            statuses[case.status] = statuses.get(case.status, 0) + 1
            bar.update(1)
            if n % 100 == 0:
                db.session.commit()  # a long walk holds no transaction open for minutes
        clock.set(end)
        db.session.commit()
    run_inline_jobs()  # embedded mode: the photos' thumbnails (stack mode: the RQ workers make them)
    return statuses


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _bar(progress: ProgressFactory | None, label: str, total: int) -> Any:
    return progress(label, total) if progress is not None else _NoBar()


__all__ = ["CityReport", "NotEmpty", "seed_city"]
