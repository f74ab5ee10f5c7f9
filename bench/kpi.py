"""KPI and task-inbox query times with 1,000,000 cases on PostgreSQL, with and without the indexes of
migration ``kpi_and_inbox_indexes``.

Fills a database (schema by the real migrations) in SQL with ``generate_series``: a district of 10 streets,
80 communities and 800 grids with one grid worker each, 20 units, N cases over two years (2025-2026; the
last 60 days partly open), a process instance per case and two human tasks per dispatched case (~2M task
rows; each grid worker holds ~50 open ones). Then ANALYZE, and times (median of ``--runs`` warm runs) the
statements the API runs, built by the app's own code:

- KPIs (``app.kpi.services.kpi_statement``): a street coordinator's street by community over a month and
  over a year; a community's staff over a month; a supervisor's whole district per unit over a month;
- the task inbox (``app.tasks.services.inbox``: count + first page) of
  one grid worker.

Targets: KPI < 500 ms, inbox < 50 ms. The baseline, in the same run, drops the new indexes, times the same
statements and recreates them; the ratio is baseline / indexed.

Run: ``python -m bench.kpi [--cases N] [--reuse] [--runs R] [--database-url URL]``. ``--reuse`` keeps a
database already filled with N cases (filling 1M takes a few minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from app import create_app
from app.auth.models import User
from app.clock import FrozenClock
from app.config import Settings
from app.extensions import db
from app.kpi.services import KpiQuery, execute_kpi_statement, kpi_statement
from app.tasks.services import inbox, inbox_query

DATABASE_URL = os.environ.get(
    "GRIDCASE_BENCH_KPI_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_bench_kpi"
)
DISTRICT = "510124"
STREET = "510124003"
COMMUNITY = "510124003004"
WORKER = "w0001"
PASSWORD_HASH = "bench-users-cannot-sign-in"
SPAN_START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 31, tzinfo=UTC)  # the span ends here
OPEN_DAYS = 60  # cases younger than this may still be open; triage and dispatch wait at most 2 days
KPI_TARGET_MS, INBOX_TARGET_MS = 500.0, 50.0
CHUNK = 100_000

# The indexes migration c42265aab60e (kpi and inbox indexes) adds: name → CREATE statement (PostgreSQL).
NEW_INDEXES = {
    **{
        f"ix_case_file_{column}": f"CREATE INDEX ix_case_file_{column} ON case_file ({column})"
        for column in ("filed_at", "dispatched_at", "due_at", "handled_at", "close_due_at", "closed_at")
    },
    "ix_human_task_candidate_user_status": (
        "CREATE INDEX ix_human_task_candidate_user_status ON human_task (candidate_user, status)"
    ),
    "ix_human_task_candidate_group_status": (
        "CREATE INDEX ix_human_task_candidate_group_status ON human_task (candidate_group, status)"
    ),
    "ix_human_task_completed_by_id": (
        "CREATE INDEX ix_human_task_completed_by_id ON human_task (completed_by_id)"
    ),
    "ix_human_task_status_candidate_user_candidate_group": (
        "CREATE INDEX ix_human_task_status_candidate_user_candidate_group"
        " ON human_task (status, candidate_user, candidate_group)"
    ),
    "ix_case_file_handler_unit": "CREATE INDEX ix_case_file_handler_unit ON case_file (handler_unit)",
}
# ... and the one it replaces, which the baseline restores.
OLD_INDEXES = {
    "ix_human_task_status_candidate_user": (
        "CREATE INDEX ix_human_task_status_candidate_user ON human_task (status, candidate_user)"
    ),
}


# -- filling ----------------------------------------------------------------------------------------

_GRIDS = f"""
INSERT INTO grid (code, name, level, parent_id, geometry, min_lon, min_lat, max_lon, max_lat, created_at)
SELECT code, name, level, NULL, '{{"type": "Polygon", "coordinates": []}}', 0, 0, 1, 1, now()
FROM (
  SELECT '{DISTRICT}' AS code, '郫都区' AS name, 'district' AS level
  UNION ALL SELECT '{DISTRICT}' || lpad(s::text, 3, '0'), '街道' || s, 'street' FROM generate_series(1, 10) s
  UNION ALL SELECT '{DISTRICT}' || lpad(s::text, 3, '0') || lpad(c::text, 3, '0'), '社区' || s || '-' || c,
                   'community'
            FROM generate_series(1, 10) s, generate_series(1, 8) c
  UNION ALL SELECT '{DISTRICT}' || lpad((g / 80 + 1)::text, 3, '0') || lpad((g / 10 % 8 + 1)::text, 3, '0')
                   || lpad((g % 10 + 1)::text, 3, '0'), '网格' || (g + 1), 'grid'
            FROM generate_series(0, 799) g
) grids
"""

_USERS = f"""
INSERT INTO user_account (username, display_name, role, unit_code, password_hash, active, created_at)
SELECT 'w' || lpad(g::text, 4, '0'), '网格员' || g, 'grid_worker', NULL, '{PASSWORD_HASH}', true, now()
FROM generate_series(1, 800) g
UNION ALL SELECT 'street3', '街道协调员', 'street_coordinator', NULL, '{PASSWORD_HASH}', true, now()
UNION ALL SELECT 'community34', '社区工作人员', 'community_staff', NULL, '{PASSWORD_HASH}', true, now()
UNION ALL SELECT 'supervisor', '督办员', 'supervisor', NULL, '{PASSWORD_HASH}', true, now()
UNION ALL SELECT 'dispatcher', '调度员', 'dispatcher', NULL, '{PASSWORD_HASH}', true, now()
"""

_UNITS = """
INSERT INTO unit (code, name, kind, active, created_at)
SELECT 'u' || lpad(u::text, 2, '0'), '单位' || u, 'property', true, now() FROM generate_series(1, 20) u
"""

# Each grid worker patrols one grid (w0001: the first grid by code); the others watch their subtree.
_MEMBERS = f"""
INSERT INTO grid_member (user_id, grid_id, created_at)
SELECT u.id, g.id, now()
FROM user_account u
JOIN (SELECT id, row_number() OVER (ORDER BY code) AS n FROM grid WHERE level = 'grid') g
  ON u.role = 'grid_worker' AND g.n = substr(u.username, 2)::int
UNION ALL
SELECT u.id, g.id, now()
FROM user_account u JOIN grid g
  ON g.code = CASE u.username WHEN 'street3' THEN '{STREET}' WHEN 'community34' THEN '{COMMUNITY}'
                              WHEN 'supervisor' THEN '{DISTRICT}' END
"""

# One row per case; columns depend on the case's age (the last 60 days partly open) and a few dice.
_CASES = """
INSERT INTO case_file (key, title, description, category_code, grid_code, source_channel, severity, status,
  handler_user, handler_unit, rework_count, redispatch_count, postponed_count, due_at, close_due_at,
  created_at, updated_at, filed_at, dispatched_at, handled_at, closed_at)
SELECT 'GC-B-' || lpad(i::text, 9, '0'), '案件' || i, '', 'E0102',
  CASE WHEN unlocated THEN NULL ELSE :district || lpad((g / 80 + 1)::text, 3, '0')
       || lpad((g / 10 % 8 + 1)::text, 3, '0') || lpad((g % 10 + 1)::text, 3, '0') END,
  'grid_worker', (ARRAY['red', 'orange', 'yellow', 'blue'])[1 + (i % 4)], status,
  CASE WHEN dispatched AND NOT to_unit THEN 'w' || lpad((g + 1)::text, 4, '0') END,
  CASE WHEN dispatched AND to_unit THEN 'u' || lpad((g % 20 + 1)::text, 2, '0') END,
  CASE WHEN handled AND d1 < 0.05 THEN 1 ELSE 0 END,
  CASE WHEN dispatched AND d2 < 0.08 THEN 1 ELSE 0 END,
  CASE WHEN dispatched AND d3 < 0.03 THEN 1 ELSE 0 END,
  CASE WHEN dispatched THEN created + interval '40 minutes' + limit_hours * interval '1 hour' END,
  CASE WHEN dispatched THEN created + interval '40 minutes' + interval '5 days' END,
  created, created,
  CASE WHEN filed THEN created + interval '15 minutes' END,
  CASE WHEN dispatched THEN created + interval '40 minutes' END,
  CASE WHEN handled THEN created + interval '40 minutes' + d4 * 1.2 * limit_hours * interval '1 hour' END,
  CASE WHEN status = 'closed' THEN created + interval '40 minutes'
                                   + (d4 * 1.2 * limit_hours + 2 + d1 * 48) * interval '1 hour'
       WHEN status = 'rejected' THEN created + interval '1 hour' END
FROM (
  SELECT *, status NOT IN ('triage', 'rejected') AS filed,
         status IN ('handling', 'feedback', 'review', 'closed') AS dispatched,
         status IN ('review', 'closed') AS handled
  FROM (
    SELECT i, g, unlocated, to_unit, created, d1, d2, d3, d4, limit_hours,
      CASE WHEN created < :open_since THEN
             CASE WHEN d5 < 0.04 THEN 'rejected' ELSE 'closed' END
           WHEN created >= :now - interval '2 days' AND d5 < 0.3 THEN
             CASE WHEN d5 < 0.2 THEN 'triage' ELSE 'dispatching' END
           ELSE (ARRAY['handling', 'handling', 'handling', 'handling', 'handling', 'feedback', 'feedback',
                       'review', 'review', 'closed'])[1 + floor(d5 * 10)::int] END AS status
    FROM (
      SELECT i, floor(random() * 800)::int AS g, random() < 0.03 AS unlocated, random() < 0.2 AS to_unit,
        :span_start + (i::float8 / :n) * (:now - :span_start) AS created,
        random() AS d1, random() AS d2, random() AS d3, random() AS d4, random() AS d5,
        (ARRAY[4, 8, 24, 48, 72])[1 + floor(random() * 5)::int] AS limit_hours
      FROM generate_series(:first, :last) i
    ) dice
  ) staged
) cooked
"""

_DEFINITION = """
INSERT INTO process_definition (key, name, version, content_hash, frozen_hash, file_name, kind, bpmn_xml,
  spec_document, user_tasks, start_messages, deployed_at)
VALUES ('case_handling', '案件处置 (bench)', 1, 'bench', 'bench', 'case_handling.bpmn', 'bpmn', '', '{}',
        '[]', '[]', now())
"""

_INSTANCES = """
INSERT INTO process_instance (definition_id, process_key, business_key, case_id, status, state, started_at,
  updated_at, completed_at)
SELECT :definition_id, 'case_handling', key, id,
  CASE WHEN status IN ('closed', 'rejected') THEN 'completed' ELSE 'running' END, '', created_at,
  updated_at, closed_at
FROM case_file
"""

# The triage task of every case (open while the case waits for triage), and the handling task of every
# dispatched case (open while it is handled or its proof is due: claimed half the time).
_TASKS = """
INSERT INTO human_task (instance_id, case_id, spiff_task_id, element_id, name, form_key, candidate_roles,
  candidate_user, candidate_group, assignee_id, status, case_status, created_at, claimed_at, completed_at,
  due_at, completed_by_id)
SELECT p.id, c.id, 'triage', 'triage', '受理立案', 'triage.json', ',dispatcher,', NULL::varchar,
  NULL::varchar, NULL::int, CASE WHEN c.status = 'triage' THEN 'ready' ELSE 'completed' END, 'triage',
  c.created_at, NULL::timestamptz,
  CASE WHEN c.status = 'triage' THEN NULL ELSE c.created_at + interval '15 minutes' END, NULL::timestamptz,
  CASE WHEN c.status = 'triage' THEN NULL ELSE (SELECT id FROM user_account WHERE username = 'dispatcher') END
FROM case_file c JOIN process_instance p ON p.case_id = c.id
UNION ALL
SELECT p.id, c.id, 'handle', 'handle', '处置', 'handle.json', ',grid_worker,department_handler,',
  c.handler_user, c.handler_unit,
  CASE WHEN c.status IN ('handling', 'feedback') AND c.id % 2 = 0 THEN u.id END,
  CASE WHEN c.status IN ('handling', 'feedback') THEN CASE WHEN c.id % 2 = 0 THEN 'claimed' ELSE 'ready' END
       ELSE 'completed' END,
  'handling', c.dispatched_at, NULL, c.handled_at, c.due_at,
  CASE WHEN c.status IN ('handling', 'feedback') THEN NULL ELSE u.id END
FROM case_file c JOIN process_instance p ON p.case_id = c.id
LEFT JOIN user_account u ON u.username = c.handler_user
WHERE c.dispatched_at IS NOT NULL
"""


def _timed_step(label: str, statement: str, **params: Any) -> None:
    started = time.perf_counter()
    db.session.execute(text(statement), params)
    db.session.commit()
    print(f"  {label:<40} {time.perf_counter() - started:6.1f} s", flush=True)


def fill(cases: int) -> None:
    from flask_migrate import upgrade

    db.session.execute(text("DROP SCHEMA public CASCADE"))
    db.session.execute(text("CREATE SCHEMA public"))
    db.session.commit()
    print("filling: schema by the migrations", flush=True)
    upgrade()
    # The instances only need a definition row to point to; the queries never read it.
    db.session.execute(text(_DEFINITION))
    db.session.commit()
    _timed_step("grids, users, units, assignments", _GRIDS)
    for statement in (_USERS, _UNITS, _MEMBERS):
        db.session.execute(text(statement))
    db.session.commit()
    params = {
        "district": DISTRICT,
        "n": cases,
        "span_start": SPAN_START,
        "now": NOW,
        "open_since": NOW - timedelta(days=OPEN_DAYS),
    }
    for first in range(1, cases + 1, CHUNK):
        last = min(first + CHUNK - 1, cases)
        _timed_step(f"cases {first:,}-{last:,} of {cases:,}", _CASES, first=first, last=last, **params)
    definition_id = db.session.execute(
        text("SELECT id FROM process_definition WHERE key = 'case_handling' ORDER BY version DESC LIMIT 1")
    ).scalar_one()
    _timed_step("process instances", _INSTANCES, definition_id=definition_id)
    _timed_step("human tasks", _TASKS)
    _timed_step("ANALYZE", "ANALYZE")


# -- timing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    label: str
    target_ms: float
    run: Callable[[], Any]


def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _kpi(username: str, query: KpiQuery) -> Callable[[], Any]:
    def run() -> Any:
        statement, _ = kpi_statement(_user(username), query)
        return execute_kpi_statement(statement)

    return run


def _inbox() -> Any:
    return inbox(_user(WORKER), "all", 1, 20)


def _local(year: int, month: int, day: int = 1) -> datetime:
    from app.kpi.periods import parse_bound

    return parse_bound(f"{year:04d}-{month:02d}-{day:02d}")


def measures() -> list[Measure]:
    month = (_local(2026, 11), _local(2026, 12))
    year = (_local(2026, 1), _local(2027, 1))
    street, community, supervisor = "street3", "community34", "supervisor"
    return [
        Measure(
            "KPI street by community, a month", KPI_TARGET_MS, _kpi(street, KpiQuery("community", *month))
        ),
        Measure("KPI street by community, a year", KPI_TARGET_MS, _kpi(street, KpiQuery("community", *year))),
        Measure("KPI community by grid, a month", KPI_TARGET_MS, _kpi(community, KpiQuery("grid", *month))),
        Measure(
            "KPI street by worker, a month",
            KPI_TARGET_MS,
            _kpi(supervisor, KpiQuery("worker", *month, grid=STREET)),
        ),
        Measure("KPI district by unit, a month", KPI_TARGET_MS, _kpi(supervisor, KpiQuery("unit", *month))),
        Measure(
            "KPI district overall, weekly, a month",
            KPI_TARGET_MS,
            _kpi(supervisor, KpiQuery("overall", *month, granularity="week")),
        ),
        Measure("task inbox of one grid worker (count + page)", INBOX_TARGET_MS, _inbox),
    ]


def median_ms(run: Callable[[], Any], runs: int) -> float:
    run()  # warm: caches, plans, the user's scope
    db.session.rollback()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return statistics.median(times)


def time_all(runs: int) -> dict[str, float]:
    return {m.label: median_ms(m.run, runs) for m in measures()}


def _set_indexes(present: bool) -> None:
    """The schema with the migration's indexes (``present``) or as it was before the migration."""
    for name, create in NEW_INDEXES.items():
        db.session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        if present:
            db.session.execute(text(create))
    for name, create in OLD_INDEXES.items():
        db.session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        if not present:
            db.session.execute(text(create))
    db.session.commit()
    db.session.execute(text("ANALYZE case_file"))
    db.session.execute(text("ANALYZE human_task"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep a database holding --cases cases")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure (the median is printed)")
    parser.add_argument("--database-url", default=DATABASE_URL, help="a PostgreSQL database it may empty")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="gridcase-bench-kpi-"))
    settings = Settings.from_env(
        database_url=args.database_url, redis_url=None, upload_folder=folder / "uploads", secret_key="bench"
    )
    app = create_app(settings, clock=FrozenClock(NOW))
    with app.app_context():
        if not args.database_url.startswith("postgresql"):
            raise SystemExit("bench.kpi measures PostgreSQL: pass a postgresql:// --database-url")
        existing = 0
        if args.reuse:
            try:
                existing = db.session.execute(text("SELECT count(*) FROM case_file")).scalar_one()
            except Exception:
                db.session.rollback()
        if existing == args.cases:
            print(f"reusing {existing:,} cases in {args.database_url.rsplit('/', 1)[-1]}")
        else:
            fill(args.cases)
        tasks = db.session.execute(text("SELECT count(*) FROM human_task")).scalar_one()
        worker = _user(WORKER)
        open_tasks = len(db.session.execute(inbox_query(worker, "all")).all())
        print(f"{args.cases:,} cases, {tasks:,} human tasks; {WORKER}'s inbox holds {open_tasks} open tasks")

        _set_indexes(present=True)
        indexed = time_all(args.runs)
        _set_indexes(present=False)
        baseline = time_all(args.runs)
        _set_indexes(present=True)
        print(f"\nmedian of {args.runs} warm runs, ms (baseline: without the new indexes)")
        print(f"{'query':<46} {'indexed':>9} {'target':>8} {'':>4} {'baseline':>9} {'ratio':>7}")
        for measure in measures():
            fast, slow = indexed[measure.label], baseline[measure.label]
            verdict = "ok" if fast < measure.target_ms else "SLOW"
            print(
                f"{measure.label:<46} {fast:9.1f} {'<' + format(measure.target_ms, '.0f'):>8} {verdict:>4}"
                f" {slow:9.1f} {slow / fast:6.1f}x"
            )
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
