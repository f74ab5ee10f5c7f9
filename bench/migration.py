"""Time to dry-run and to migrate 1,000 running case_handling instances to a compatible next version.

Sets up its own database (the schema is dropped and rebuilt: never point it at the tests' database), files
``--instances`` cases through the services and walks a third of them to dispatch and a third to handle
(the rest wait at triage), deploys case_handling.bpmn with the handle task relabelled and a script task
added after the photo proof (``tests/workflow/migration_diagrams.py``), then measures:

(a) baseline: restore and dump every instance's state, the least any migration pays per instance;
(b) the dry run of all of them (``migration.dry_run``, pages of 500);
(c) the migration of all of them, each under its lock in its own transaction (``migration.migrate_each``,
    what ``flask instances migrate`` and the API run): diff, move, state, human tasks, audit, undo record;
(d) the undo of the whole batch.

Prints seconds, milliseconds per instance and the ratios to (a). Target: (c) under 60 s on PostgreSQL.
Run: ``GRIDCASE_BENCH_POSTGRES_URL=postgresql://…/gridcase_bench python -m bench.migration``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get(
    "GRIDCASE_BENCH_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_bench"
)
PAGE = 500


def _populate(count: int) -> None:
    """``count`` running instances: a third at triage, a third at dispatch, a third at handle."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.cases import services as case_services
    from app.extensions import db
    from app.tasks import services as task_services
    from app.workflow.models import HumanTask, TaskStatus

    people = {u.username: u for u in db.session.execute(select(User)).scalars()}

    def complete(case_id: int, element_id: str, who: str, data: dict[str, Any]) -> None:
        task_id = db.session.execute(
            select(HumanTask.id).where(
                HumanTask.case_id == case_id,
                HumanTask.element_id == element_id,
                HumanTask.status.in_(TaskStatus.OPEN),
            )
        ).scalar_one()
        task_services.complete(db.session.get(User, people[who].id), task_id, data)
        db.session.commit()

    for n in range(count):
        case = case_services.report_case(people["resident"], {"title": f"垃圾满溢 {n}", "severity": "yellow"})
        db.session.commit()
        if n % 3 >= 1:
            complete(case.id, "triage", "dispatcher", {"triage_decision": "accept"})
        if n % 3 == 2:
            complete(case.id, "dispatch", "dispatcher", {"handler_user": "worker", "time_limit_hours": 24})


def _baseline(ids: list[int]) -> float:
    """Restore and dump every state (read in pages), no writes."""
    from sqlalchemy import select

    from app.extensions import db
    from app.workflow import instances
    from app.workflow.models import ProcessInstance

    started = time.perf_counter()
    for start in range(0, len(ids), PAGE):
        rows = db.session.execute(
            select(ProcessInstance.definition_id, ProcessInstance.state).where(
                ProcessInstance.id.in_(ids[start : start + PAGE])
            )
        ).all()
        for definition_id, state in rows:
            instances.restored_engine(definition_id, state).dump()
        db.session.rollback()
    return time.perf_counter() - started


def _settle(ok: bool) -> None:
    from app.extensions import db

    if ok:
        db.session.commit()
    else:
        db.session.rollback()


def measure(database_url: str, count: int) -> dict[str, float]:
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select, text

    from app import create_app, runtime
    from app.auth.models import User
    from app.auth.services import create_user
    from app.clock import FrozenClock
    from app.config import Settings
    from app.extensions import db
    from app.workflow import deploy, migration, migration_undo
    from app.workflow.models import ProcessInstance
    from tests.workflow.migration_diagrams import case_handling_compatible

    folder = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    settings = Settings.from_env(
        database_url=database_url, redis_url=None, upload_folder=folder / "uploads", secret_key="bench"
    )
    app = create_app(settings, clock=FrozenClock())
    figures: dict[str, float] = {}
    with app.app_context():
        if database_url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        deploy.deploy_folder(settings.bpmn_folder, runtime.deploy_rules(app))
        for username, role in [
            ("resident", "resident"),
            ("dispatcher", "dispatcher"),
            ("worker", "grid_worker"),
            ("admin", "admin"),
        ]:
            create_user(username, "bench-password", role)
        db.session.commit()
        started = time.perf_counter()
        _populate(count)
        figures["setup"] = time.perf_counter() - started
        deploy.deploy_file("case_handling.bpmn", case_handling_compatible(), runtime.deploy_rules(app))
        db.session.commit()
        admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
        ids = list(db.session.execute(select(ProcessInstance.id).order_by(ProcessInstance.id)).scalars())

        figures["baseline"] = _baseline(ids)

        target = migration.target_definition("case_handling", 2)
        started = time.perf_counter()
        movable, after_id = 0, None
        while True:
            page = migration.dry_run(
                migration.Selection("case_handling", 2, after_id=after_id, limit=PAGE), admin
            )
            db.session.rollback()
            if not page:
                break
            movable += sum(1 for result in page if result.code == migration.MOVABLE)
            after_id = page[-1].instance_id
        figures["dry_run"] = time.perf_counter() - started
        assert movable == count, f"only {movable} of {count} can move"

        started = time.perf_counter()
        ids_to_move = migration.selected_ids(migration.Selection("case_handling", 2), target)
        db.session.rollback()
        batch_id = migration.new_batch_id()
        moved = sum(
            1
            for result in migration.migrate_each(ids_to_move, target, admin, _settle, batch_id=batch_id)
            if result.code == migration.MIGRATED
        )
        figures["migrate"] = time.perf_counter() - started
        assert moved == count, f"only {moved} of {count} migrated"

        started = time.perf_counter()
        undone = 0
        for migration_id in migration_undo.batch_migration_ids(batch_id):
            undone += migration_undo.undo(migration_id, admin).ok
            db.session.commit()
        figures["undo"] = time.perf_counter() - started
        assert undone == count, f"only {undone} of {count} undone"

        if database_url.startswith("postgresql"):
            downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1000, help="running instances to migrate")
    parser.add_argument(
        "--sqlite", action="store_true", help="also measure on a SQLite file (embedded mode's database)"
    )
    args = parser.parse_args()
    targets = [("PostgreSQL", POSTGRES_URL)]
    if args.sqlite:
        targets.append(("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='gridcase-bench-')}/bench.sqlite3"))
    for name, url in targets:
        try:
            f = measure(url, args.instances)
        except Exception as exc:  # report, don't hide: the figure is missing and why
            print(f"{name}: unavailable ({exc.__class__.__name__}: {exc})")
            continue
        n = args.instances
        print(f"{name}, {n} running case_handling instances (set up in {f['setup']:.0f} s):")
        for key, label in [
            ("baseline", "(a) restore + dump every state (baseline)"),
            ("dry_run", "(b) dry run"),
            ("migrate", "(c) migrate, one transaction each"),
            ("undo", "(d) undo the batch"),
        ]:
            ratio = "" if key == "baseline" else f"   x{f[key] / f['baseline']:.1f} of (a)"
            print(f"  {label:44} {f[key]:7.2f} s  {1000 * f[key] / n:6.1f} ms/instance{ratio}")
        verdict = "met" if f["migrate"] < 60 else "MISSED"
        print(f"  target: migrate {n} in under 60 s: {verdict}")


if __name__ == "__main__":
    main()
