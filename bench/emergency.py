"""CPU time to fan an emergency out to N responder units and to collect their acknowledgements (报到).

For N = 10, 50 and 200: a plan naming N units (each with one handler) is launched through the service layer
(``app.emergency.services.launch_plan``: the case, the process, N report-in tasks, N responder rows, audit
events, one commit), then every unit reports in through ``app.tasks.services.complete`` (form validation,
the engine step, the responder row and timings, audit, one commit each). CPU time is ``time.process_time``
of this process: the database server's own work (PostgreSQL) is not in it, SQLite's is.

Prints per N: fan-out CPU, acknowledgement CPU in total and per unit, and the per-unit ratio 200 / 10 (1.0
would be linear). Each responder reports in in an instance of its own (``app.workflow.children``): the
target (issue #19) is a ratio of at most 1.5 and a fan-out to 200 units under 2 s of CPU.
Median of ``--runs``. Run: ``python -m bench.emergency [--runs R] [--postgres URL]``
(the PostgreSQL database is emptied and rebuilt: give it one of its own).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIZES = (10, 50, 200)


@dataclass(frozen=True)
class Figures:
    units: int
    fan_out_cpu: float  # seconds: launch + commit
    ack_cpu: float  # seconds: all N completions + commits

    @property
    def ack_per_unit(self) -> float:
        return self.ack_cpu / self.units

    @property
    def fan_out_per_unit(self) -> float:
        return self.fan_out_cpu / self.units


def _app(database_url: str, folder: Path) -> Any:
    from sqlalchemy import text

    from app import create_app, runtime
    from app.clock import FrozenClock
    from app.config import Settings
    from app.extensions import db
    from app.workflow import deploy

    settings = Settings.from_env(
        database_url=database_url, redis_url=None, upload_folder=folder / "uploads", secret_key="bench"
    )
    app = create_app(settings, clock=FrozenClock())
    with app.app_context():
        from flask_migrate import upgrade

        if database_url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        deploy.deploy_folder(settings.bpmn_folder, runtime.deploy_rules(app))
        db.session.commit()
    return app


def _setup(units: int) -> None:
    """N units with a handler each, a plan naming all of them, and a dispatcher to launch it."""
    from app.auth.services import create_user
    from app.emergency.plans import create_plan
    from app.extensions import db
    from app.units.services import create_unit

    create_user("dispatcher", "bench-password", "dispatcher")
    for n in range(units):
        create_unit(f"unit-{n:03d}", f"响应单位 {n}", "district_bureau")
        create_user(f"handler{n:03d}", "bench-password", "department_handler", None, f"unit-{n:03d}")
    create_plan(
        None,
        {
            "code": f"bench_{units}",
            "name": f"基准预案 {units}",
            "name_en": f"Bench plan {units}",
            "responders": [{"unit_code": f"unit-{n:03d}", "limit": "15m"} for n in range(units)],
            "checklist": ["报到"],
        },
    )
    db.session.commit()


def measure(database_url: str, units: int) -> Figures:
    from sqlalchemy import select

    from app.auth.models import User
    from app.emergency import services
    from app.extensions import db
    from app.tasks import services as task_services
    from app.workflow.models import HumanTask, TaskStatus

    with tempfile.TemporaryDirectory(prefix="gridcase-bench-emergency-") as tmp:
        app = _app(database_url, Path(tmp))
        with app.app_context():
            _setup(units)
            dispatcher = db.session.execute(select(User).where(User.username == "dispatcher")).scalar_one()
            started = time.process_time()
            emergency = services.launch_plan(dispatcher, {"plan_code": f"bench_{units}", "title": "基准应急"})
            db.session.commit()
            fan_out = time.process_time() - started
            tasks = list(
                db.session.execute(
                    select(HumanTask.id, HumanTask.candidate_group).where(
                        HumanTask.case_id == emergency.case_id,
                        HumanTask.element_id == "emergency_report_in",
                        HumanTask.status.in_(TaskStatus.OPEN),
                    )
                ).all()
            )
            assert len(tasks) == units, f"{len(tasks)} report-in tasks for {units} units"
            handlers = {
                u.unit_code: u.id
                for u in db.session.execute(select(User).where(User.role == "department_handler")).scalars()
            }
            db.session.commit()
            ack = 0.0
            for task_id, unit in tasks:
                user = db.session.get(User, handlers[unit])
                started = time.process_time()
                task_services.complete(user, task_id, {"responsible_person": "值班负责人"})
                db.session.commit()
                ack += time.process_time() - started
            db.session.expire_all()
            emergency = services.emergency_of_case(emergency.case)
            assert emergency.all_ack_at is not None, "not every unit's report-in was recorded"
            db.session.remove()
            db.engine.dispose()
    return Figures(units, fan_out, ack)


def _median(runs: list[Figures]) -> Figures:
    return Figures(
        runs[0].units,
        statistics.median(f.fan_out_cpu for f in runs),
        statistics.median(f.ack_cpu for f in runs),
    )


def report(label: str, figures: list[Figures]) -> None:
    print(f"{label}")
    for f in figures:
        fan_out = f"{f.fan_out_cpu * 1000:8.1f} ms CPU ({f.fan_out_per_unit * 1000:6.2f} ms/unit)"
        acks = f"{f.ack_cpu * 1000:8.1f} ms CPU ({f.ack_per_unit * 1000:6.2f} ms/unit)"
        print(f"  {f.units:3d} units: fan-out {fan_out}   acknowledgements {acks}")
    small, large = figures[0], figures[-1]
    fan_out_ratio = large.fan_out_per_unit / small.fan_out_per_unit
    ack_ratio = large.ack_per_unit / small.ack_per_unit
    print(
        f"  per-unit ratio {large.units}/{small.units}: fan-out {fan_out_ratio:.2f},"
        f" acknowledgement {ack_ratio:.2f}   (1.00 = linear in the number of units)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="measurements per figure (the median is kept)")
    parser.add_argument(
        "--postgres", metavar="URL", help="also measure on this PostgreSQL database (emptied)"
    )
    args = parser.parse_args()
    backends = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    for label, url in backends:
        figures = []
        for units in SIZES:
            runs = []
            for run in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(measure(url or f"sqlite:///{tmp}/bench-{units}-{run}.sqlite3", units))
            figures.append(_median(runs))
        report(f"{label} (median of {args.runs}; time.process_time of this process)", figures)


if __name__ == "__main__":
    main()
