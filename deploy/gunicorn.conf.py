"""gunicorn settings of gridcase's web process: ``gunicorn -c deploy/gunicorn.conf.py -w N wsgi:app``.

Threads per worker (gthread) because requests wait on PostgreSQL more than they compute. Logs are JSON
(app.logs) like every other process; the app writes the access line itself (with the request id), so
gunicorn's own access log is off. Metrics: with PROMETHEUS_MULTIPROC_DIR every worker writes its counts
there and any worker's /metrics sums them (app.metrics); the folder is emptied when the server starts
(unless the stack launcher did so for all its processes: GRIDCASE_METRICS_PREPARED=1), and a worker that
exits takes its live gauges with it.
"""

import os
import shutil
from pathlib import Path

if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "x").strip() == "":
    # Empty means not set (as in app/metrics.py); dropped before prometheus-client reads it.
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]

from prometheus_client import multiprocess

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# SIGTERM: stop accepting, let requests in flight finish for up to this long, then exit.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = None
# gunicorn's control socket has one default path per user ($HOME/.gunicorn/gunicorn.ctl): two servers on one
# machine (two stacks, a test beside a stack) would take it from each other. Nothing here uses it.
control_socket_disable = True
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": []},  # the app puts its own JSON handler there (app.logs)
    "formatters": {"json": {"()": "app.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


# Nothing of the app is imported here: the master would write its own metric files into the folder.
METRICS_FOLDER = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server: object) -> None:
    """Empty the metrics folder: files of a previous run would be summed into this one's counts."""
    if METRICS_FOLDER and os.environ.get("GRIDCASE_METRICS_PREPARED") != "1":
        shutil.rmtree(METRICS_FOLDER, ignore_errors=True)
        Path(METRICS_FOLDER).mkdir(parents=True)


def child_exit(server: object, worker: object) -> None:
    """A worker exited: its counts stay in the sums, its live gauges go."""
    if METRICS_FOLDER:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def post_worker_init(worker: object) -> None:
    """The worker has loaded the app and takes requests next: build what its first report would otherwise
    wait for (the grid index), so a worker restarted under load answers like the others."""
    from app.grids.index import warm  # here, in the worker: the master imports nothing of the app

    warm(worker.wsgi)  # type: ignore[attr-defined]
