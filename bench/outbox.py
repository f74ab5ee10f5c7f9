"""What the transactional outbox costs a committing transaction, per enqueued job, against sending the job
to Redis after the commit as ``app.jobs`` did before (f2ffa8f: kept in memory, one RQ pipeline after the
commit, nothing written to the database).

Stack mode on PostgreSQL and Redis. Each transaction makes a small change (an audit event) and enqueues K
jobs (K = 0, 1, 10): **before** sends them with RQ after the commit exactly as the old code did; **after** is
``app.jobs.enqueue`` (the row in the transaction, the send after the commit, the rows marked sent on a
connection of their own). Nothing runs the jobs: the cost measured is the committing side's. Prints the wall
time per transaction (median of ``--transactions``), the added cost per job over K = 0, and the ratio
after / before per transaction and per job. The database is emptied and rebuilt by the migrations and the
Redis database flushed: give both of their own. Run:
``python -m bench.outbox [--transactions N] [--database-url URL] [--redis-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get(
    "GRIDCASE_BENCH_OUTBOX_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_bench3"
)
REDIS_URL = os.environ.get("GRIDCASE_BENCH_OUTBOX_REDIS_URL", "redis://127.0.0.1:6379/13")
JOBS_PER_TRANSACTION = (0, 1, 10)


def bench_job(tag: int) -> None:
    """The enqueued job (never run here)."""


def _app(database_url: str, redis_url: str, folder: Path) -> Any:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.clock import SystemClock
    from app.config import Settings
    from app.extensions import db

    settings = Settings.from_env(
        database_url=database_url, redis_url=redis_url, upload_folder=folder / "uploads", secret_key="bench"
    )
    app = create_app(settings, clock=SystemClock())
    with app.app_context():
        db.session.execute(text("DROP SCHEMA public CASCADE"))
        db.session.execute(text("CREATE SCHEMA public"))
        db.session.commit()
        upgrade()
    return app


def _change(n: int) -> None:
    from app.audit.services import record

    record("bench.change", entity_type="bench", entity_id=n)


def _before(n: int, jobs: int) -> None:
    """The old path: the change commits, then its jobs go to RQ in one pipeline (nothing in the database)."""
    from rq import Queue

    from app import runtime
    from app.extensions import db
    from app.jobs import ENGINE_QUEUE, job_path, run_job

    _change(n)
    pending = [(ENGINE_QUEUE, job_path(bench_job), (n,)) for _ in range(jobs)]
    db.session.commit()
    if not pending:
        return
    connection = runtime.redis()
    datas = [
        Queue.prepare_data(
            run_job, (path, *args), timeout=queue.timeout_seconds, result_ttl=3600, failure_ttl=7 * 86400
        )
        for queue, path, args in pending
    ]
    with connection.pipeline() as pipeline:
        Queue(ENGINE_QUEUE.name, connection=connection).enqueue_many(datas, pipeline=pipeline)
        pipeline.execute()


def _after(n: int, jobs: int) -> None:
    from app.extensions import db
    from app.jobs import ENGINE_QUEUE, enqueue

    _change(n)
    for _ in range(jobs):
        enqueue(ENGINE_QUEUE, bench_job, n)
    db.session.commit()


def _median_ms(step: Callable[[int, int], None], jobs: int, transactions: int) -> float:
    from app.extensions import db

    timings = []
    for n in range(transactions):
        started = time.perf_counter()
        step(n, jobs)
        timings.append(time.perf_counter() - started)
        db.session.remove()
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=300, help="transactions per case (median)")
    parser.add_argument("--database-url", default=POSTGRES_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app = _app(args.database_url, args.redis_url, Path(folder))
        with app.app_context():
            from app import runtime

            connection = runtime.redis()
            connection.flushdb()
            figures: dict[tuple[str, int], float] = {}
            for _warm_up in range(2):  # the first pass warms caches and the connection pool; the second counts
                for jobs in JOBS_PER_TRANSACTION:
                    for name, step in (("before", _before), ("after", _after)):
                        figures[name, jobs] = _median_ms(step, jobs, args.transactions)
                        connection.flushdb()
    print(f"cost of enqueueing, stack mode (PostgreSQL + Redis), median of {args.transactions} transactions")
    print("  jobs/txn  before ms/txn  after ms/txn  ratio   before ms/job  after ms/job  ratio")
    base_before, base_after = figures["before", 0], figures["after", 0]
    for jobs in JOBS_PER_TRANSACTION:
        before, after = figures["before", jobs], figures["after", jobs]
        line = f"  {jobs:>8}  {before:>13.2f}  {after:>12.2f}  {after / before:>5.2f}"
        if jobs:
            per_before, per_after = (before - base_before) / jobs, (after - base_after) / jobs
            line += f"   {per_before:>13.3f}  {per_after:>12.3f}  {per_after / per_before:>5.2f}"
        print(line)


if __name__ == "__main__":
    main()
