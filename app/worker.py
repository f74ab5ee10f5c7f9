"""The RQ worker of stack mode.

Workers run no RQ scheduler of their own (``with_scheduler=False``: no process forked beside one that holds
database connections): a failed job waiting for its retry (``rq.Retry``) is put back on its queue by the
``flask scheduler`` round (``app.jobs.recovery.move_due_retries``), which a stack runs anyway for timers."""

from __future__ import annotations

from flask import Flask
from rq import Queue, SimpleWorker
from rq.job import Job

from app import logs, runtime
from app.extensions import db
from app.jobs import QUEUES


class AppWorker(SimpleWorker):
    """Runs jobs in this process, inside the app context, with a fresh database session per job.

    SimpleWorker (no fork per job) because engine jobs are short and forking a process that holds a
    database connection pool would share sockets between parent and child.
    """

    def perform_job(self, job: Job, queue: Queue) -> bool:
        # The request id of whoever queued the job (app.jobs puts it in the meta) on the job's log lines.
        with logs.bound((job.meta or {}).get("request_id")):
            try:
                result: bool = super().perform_job(job, queue)
                return result
            finally:
                db.session.remove()


def run_worker(app: Flask, queue_names: list[str], burst: bool = False) -> bool:
    unknown = [name for name in queue_names if name not in QUEUES]
    if unknown:
        raise SystemExit(f"unknown queue(s): {unknown}; known: {sorted(QUEUES)}")
    connection = runtime.redis(app)
    queues = [Queue(name, connection=connection) for name in queue_names]
    worker = AppWorker(queues, connection=connection)
    with app.app_context():
        return bool(worker.work(burst=burst, with_scheduler=False))
