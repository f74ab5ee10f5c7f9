"""What the transactional outbox costs a committing transaction, per enqueued job, against sending the job
to Redis after the commit as ``app.jobs`` did before (f2ffa8f: kept in memory, one RQ pipeline after the
commit, nothing written to the database).

Stack mode on PostgreSQL and Redis. Each transaction makes a small change (an audit event) and enqueues K
jobs (K = 0, 1, 10): **before** sends them with RQ after the commit exactly as the old code did; **after** is
``app.jobs.enqueue`` (the rows written in the transaction, sent after the commit). Nothing runs the jobs:
the cost measured is the committing side's. Before and after alternate transaction by transaction, so a
machine whose load changes meanwhile weighs on both alike. Prints the wall time per transaction (median of
``--transactions``, after a warm-up), the added cost per job over K = 0, and the ratio after / before per
transaction and per job. The database is emptied and rebuilt by the migrations and the
Redis database flushed: give both of their own. Run:
``python -m bench.outbox [--transactions N] [--database-url URL] [--redis-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
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


def _medians_ms(jobs: int, transactions: int) -> tuple[float, float]:
    """Median wall time of a transaction with ``jobs`` jobs, (before, after), alternating the two."""
    from app import runtime
    from app.extensions import db

    timings: dict[str, list[float]] = {"before": [], "after": []}
    for n in range(transactions):
        for name, step in (("before", _before), ("after", _after)):
            started = time.perf_counter()
            step(n, jobs)
            timings[name].append(time.perf_counter() - started)
            db.session.remove()
        if n % 100 == 99:
            runtime.redis().flushdb()  # the queues would only grow
    return statistics.median(timings["before"]) * 1000, statistics.median(timings["after"]) * 1000


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

            runtime.redis().flushdb()
            _medians_ms(1, 50)  # warm-up: caches, statements, the connection pool
            figures = {jobs: _medians_ms(jobs, args.transactions) for jobs in JOBS_PER_TRANSACTION}
            runtime.redis().flushdb()
    print(f"cost of enqueueing, stack mode (PostgreSQL + Redis), median of {args.transactions} transactions")
    print("  jobs/txn  before ms/txn  after ms/txn  ratio   before ms/job  after ms/job  ratio")
    base_before, base_after = figures[0]
    for jobs in JOBS_PER_TRANSACTION:
        before, after = figures[jobs]
        line = f"  {jobs:>8}  {before:>13.2f}  {after:>12.2f}  {after / before:>5.2f}"
        if jobs:
            per_before, per_after = (before - base_before) / jobs, (after - base_after) / jobs
            line += f"   {per_before:>13.3f}  {per_after:>12.3f}  {per_after / per_before:>5.2f}"
        print(line)


if __name__ == "__main__":
    main()
