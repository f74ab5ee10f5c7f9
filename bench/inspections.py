"""An inspection campaign over N places: the launch's time, and the CPU time of one inspection's completion.

For N = 50 and 5,000 places (in ten comprehensive grids, one grid worker each): an admin launches one
campaign over all of them through the service layer (``app.inspections.campaigns.launch``: N items, the
campaign's instance and one child instance per place with its inspection task, audit, one commit), then the
grid workers complete inspections through ``app.tasks.services.complete`` (form validation, the place's
engine step, the item row, audit, one commit each): up to 500, never the campaign's last (that one also
finishes the campaign). CPU time is ``time.process_time`` of this process (the database server's own work is
not in it on PostgreSQL; SQLite's is).

Prints per N: the launch (wall clock, CPU, and SQL statements per place: the launch writes its places in
bulk), the completions' CPU per inspection, and the ratio 5,000 / 50 of that cost (1.0: independent of the
campaign's size). Targets (issue #19): launch under 30 s, a completion under 50 ms of CPU at 5,000 places,
ratio at most 1.5.
Run: ``python -m bench.inspections [--sizes 50 5000] [--completions 500] [--postgres URL] [--no-sqlite]``
(``--postgres`` defaults to ``GRIDCASE_BENCH_POSTGRES_URL``; that database is emptied and rebuilt: give it
one of its own).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.emergency import _app

SIZES = (50, 5000)
GRIDS = 10
DISTRICT, STREET, COMMUNITY = "510124", "510124001", "510124001001"
CHECKLIST = [
    {"key": "fire_extinguisher", "title": "灭火器在有效期内"},
    {"key": "exits", "title": "安全出口畅通"},
]


@dataclass(frozen=True)
class Figures:
    places: int
    launch_wall: float  # seconds, launch + commit
    launch_cpu: float
    launch_statements: int  # SQL statements the launch sent (an executemany counts once)
    completions: int
    completion_cpu: float  # seconds, all completions + commits

    @property
    def per_completion(self) -> float:
        return self.completion_cpu / self.completions

    @property
    def statements_per_place(self) -> float:
        return self.launch_statements / self.places


def _box(code: str, name: str, west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _grid_code(n: int) -> str:
    return f"{COMMUNITY}{n + 1:03d}"


def _setup(places: int) -> None:
    """A district of ten grids with a grid worker each, ``places`` restaurants spread over them."""
    from app.auth.services import create_user
    from app.clock import now
    from app.extensions import db
    from app.grids.models import Grid, GridMember
    from app.grids.services import import_geojson
    from app.inspections.models import Place

    width = 0.01
    features = [
        _box(DISTRICT, "郫都区", 103.0, 30.0, 103.0 + width * GRIDS, 30.1),
        _box(STREET, "郫筒街道", 103.0, 30.0, 103.0 + width * GRIDS, 30.1),
        _box(COMMUNITY, "望丛社区", 103.0, 30.0, 103.0 + width * GRIDS, 30.1),
    ]
    features += [
        _box(_grid_code(n), f"第{n + 1}网格", 103.0 + width * n, 30.0, 103.0 + width * (n + 1), 30.1)
        for n in range(GRIDS)
    ]
    import_geojson({"type": "FeatureCollection", "features": features})
    create_user("admin", "bench-password", "admin")
    grids = {g.code: g.id for g in db.session.query(Grid).all()}
    timestamp = now()
    for n in range(GRIDS):
        worker = create_user(f"worker{n}", "bench-password", "grid_worker")
        db.session.add(GridMember(user_id=worker.id, grid_id=grids[_grid_code(n)], created_at=timestamp))
    db.session.add_all(
        Place(
            code=f"P{i:05d}",
            name=f"餐馆 {i}",
            place_type="restaurant",
            grid_code=_grid_code(i % GRIDS),
            lat=30.05,
            lon=103.0 + 0.01 * (i % GRIDS) + 0.005,
            address=f"测试路 {i} 号",
            responsible_person="负责人",
            blacklisted=False,
            active=True,
            created_at=timestamp,
            updated_at=timestamp,
        )
        for i in range(places)
    )
    db.session.commit()


class _StatementCount:
    """SQL statements sent through ``engine`` while counting (one per execute, executemany included)."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.count = engine, 0

    def _seen(self, *args: Any) -> None:
        self.count += 1

    def __enter__(self) -> _StatementCount:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def measure(database_url: str, places: int, completions: int) -> Figures:
    from sqlalchemy import select

    from app.auth.models import User
    from app.clock import now
    from app.extensions import db
    from app.inspections import campaigns
    from app.inspections.models import CampaignItem, ItemStatus
    from app.tasks import services as task_services
    from app.workflow.models import HumanTask, ProcessInstance, TaskStatus

    with tempfile.TemporaryDirectory(prefix="gridcase-bench-inspections-") as tmp:
        app = _app(database_url, Path(tmp))
        with app.app_context():
            _setup(places)
            admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
            fields = {
                "title": "消防安全专项检查",
                "unit_code": None,
                "checklist": CHECKLIST,
                "grid_codes": [DISTRICT],
                "place_types": ["restaurant"],
                "deadline": now() + timedelta(days=30),
                "rectify_days": 5,
            }
            _unit(fields)
            with _StatementCount(db.engine) as statements:
                wall, cpu = time.perf_counter(), time.process_time()
                campaign = campaigns.launch(admin, fields)
                db.session.commit()
                launch_wall, launch_cpu = time.perf_counter() - wall, time.process_time() - cpu
            children = select(ProcessInstance.id).where(ProcessInstance.parent_id == campaign.instance_id)
            tasks = list(
                db.session.execute(
                    select(HumanTask.id, HumanTask.candidate_user)
                    .where(HumanTask.instance_id.in_(children), HumanTask.status.in_(TaskStatus.OPEN))
                    .order_by(HumanTask.id)
                ).all()
            )
            assert len(tasks) == places, f"{len(tasks)} inspection tasks for {places} places"
            users = {u.username: u.id for u in db.session.execute(select(User)).scalars()}
            db.session.commit()
            done = min(completions, places - 1)
            form = {"results": {item["key"]: {"result": "pass"} for item in CHECKLIST}}
            spent = 0.0
            for task_id, username in tasks[:done]:
                user = db.session.get(User, users[username])
                started = time.process_time()
                task_services.complete(user, task_id, form)
                db.session.commit()
                spent += time.process_time() - started
            passed = db.session.execute(
                select(CampaignItem.id).where(
                    CampaignItem.campaign_id == campaign.id, CampaignItem.status == ItemStatus.PASSED
                )
            ).all()
            assert len(passed) == done, f"{len(passed)} items passed after {done} inspections"
            db.session.remove()
            db.engine.dispose()
    return Figures(places, launch_wall, launch_cpu, statements.count, done, spent)


def _unit(fields: dict[str, Any]) -> None:
    """The launching unit (an admin names one)."""
    from app.extensions import db
    from app.units.services import create_unit

    create_unit("safety", "应急管理局", "district_bureau")
    db.session.commit()
    fields["unit_code"] = "safety"


def report(label: str, figures: list[Figures]) -> None:
    print(label)
    for f in figures:
        print(
            f"  {f.places:5d} places: launch {f.launch_wall:6.2f} s wall ({f.launch_cpu:6.2f} s CPU,"
            f" {f.launch_statements} statements: {f.statements_per_place:.3f} per place)"
            f"   {f.completions:3d} inspections {f.per_completion * 1000:6.2f} ms CPU each"
        )
    small, large = figures[0], figures[-1]
    print(
        f"  completion cost ratio {large.places}/{small.places}: "
        f"{large.per_completion / small.per_completion:.2f}   (1.00 = independent of the campaign's size)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="places per campaign")
    parser.add_argument("--completions", type=int, default=500, help="inspections completed per campaign")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("GRIDCASE_BENCH_POSTGRES_URL"),
        help="also measure on this PostgreSQL database (emptied); default: $GRIDCASE_BENCH_POSTGRES_URL",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="measure on PostgreSQL only")
    args = parser.parse_args()
    backends = [] if args.no_sqlite else [("SQLite", None)]
    backends += [("PostgreSQL", args.postgres)] if args.postgres else []
    if not backends:
        parser.error("--no-sqlite needs a PostgreSQL database: --postgres URL or GRIDCASE_BENCH_POSTGRES_URL")
    for label, url in backends:
        figures = []
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                figures.append(
                    measure(url or f"sqlite:///{tmp}/bench-{size}.sqlite3", size, args.completions)
                )
        report(f"{label} (time.process_time of this process)", figures)


if __name__ == "__main__":
    main()
