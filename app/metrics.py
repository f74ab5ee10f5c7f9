"""Prometheus metrics every process writes: requests, engine steps, jobs, timers, the MQTT listener.

Under gunicorn several worker processes serve ``/metrics``; each counts only its own requests. With
``PROMETHEUS_MULTIPROC_DIR`` set (before this module is first imported) every process writes its values to
files there, and a scrape sums the files of all processes (``scrape_registry``), including processes that
have exited (their counts stay; gunicorn's ``child_exit`` drops their live gauges). In the stack every
process of one machine shares the folder, so one scrape of the web port covers the worker, scheduler and
listener of that machine too. The folder must exist, and is emptied before the processes start (by
``deploy/stack.py`` for the stack, by gunicorn's ``on_starting`` in ``deploy/gunicorn.conf.py`` otherwise).

Figures that live in the database (open incidents, due and late timers) or in Redis (waiting and failed
jobs) are read at scrape time by ``app.ops.collector``, not counted here.
"""

from __future__ import annotations

import os
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV, "x").strip() == "":
    # prometheus-client switches to multiprocess mode when the variable merely exists, and an empty one
    # would write its files into the working folder: empty means "not set" (a container's override).
    del os.environ[MULTIPROC_ENV]

from prometheus_client import (  # noqa: E402  (reads the variable when first imported)
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)

if os.environ.get(MULTIPROC_ENV):
    # The metrics below write there as soon as they are made: a missing folder would stop the process.
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)

# Buckets in seconds: requests and engine steps are milliseconds to seconds; the listener's lag and a
# timer's lateness run from sub-second to minutes when something is down.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SLOW = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

HTTP_REQUESTS = Counter(
    "gridcase_http_requests",
    "HTTP requests answered, by endpoint and status",
    ["method", "endpoint", "status"],
)
HTTP_LATENCY = Histogram(
    "gridcase_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint",
    ["method", "endpoint"],
    buckets=_FAST,
)
ENGINE_STEPS = Counter(
    "gridcase_engine_steps",
    "Engine runs of one instance (a start, a completion, a message, timers)",
    ["outcome"],
)
ENGINE_STEP_LATENCY = Histogram(
    "gridcase_engine_step_duration_seconds", "Time of one engine run of one instance", buckets=_FAST
)
JOBS_QUEUED = Counter("gridcase_jobs_queued", "Jobs handed to a queue after their commit", ["queue"])
JOBS_RUN = Counter(
    "gridcase_jobs_run", "Jobs run by a worker (or in-process), by outcome", ["job", "outcome"]
)
JOB_LATENCY = Histogram("gridcase_job_duration_seconds", "Time to run one job", ["job"], buckets=_FAST)
TIMERS_FIRED = Counter("gridcase_timers_fired", "Instances whose due timers ran, by outcome", ["outcome"])
LISTENER_MESSAGES = Counter(
    "gridcase_listener_messages", "MQTT messages the listener ingested (committed), by outcome", ["outcome"]
)
LISTENER_LAG = Histogram(
    "gridcase_listener_lag_seconds",
    "From a message reaching the listener to its batch being committed",
    buckets=_SLOW,
)
LISTENER_BACKLOG = Gauge(
    "gridcase_listener_backlog",
    "Messages received by the listener and not yet committed",
    multiprocess_mode="livesum",
)


def multiprocess_folder() -> Path | None:
    folder = os.environ.get(MULTIPROC_ENV)
    return Path(folder) if folder else None


def serve_if_configured() -> None:
    """Processes without a web port (RQ worker, scheduler, listener) serve their own metrics on
    ``METRICS_PORT`` when it is set (a container of its own, scraped by Prometheus on the internal
    network); on one machine the stack's processes share PROMETHEUS_MULTIPROC_DIR with the web instead."""
    port = os.environ.get("METRICS_PORT", "").strip()
    if port:
        from prometheus_client import start_http_server

        start_http_server(
            int(port), addr=os.environ.get("METRICS_ADDR") or "0.0.0.0", registry=scrape_registry()
        )


def scrape_registry() -> CollectorRegistry:
    """What one scrape reads: every process's files in multiprocess mode, else this process's registry."""
    folder = multiprocess_folder()
    if folder is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    return registry
