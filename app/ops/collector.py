"""Figures read at scrape time from where they live: open incidents, instances and due timers from the
database, waiting and failed jobs from Redis. Counted once per scrape, by the process that answers it, so
they are the same whichever gunicorn worker answers (no per-process sums)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app import runtime
from app.clock import as_utc
from app.extensions import db
from app.jobs import QUEUES
from app.workflow.models import EngineIncident, InstanceStatus, ProcessInstance


def engine_figures() -> dict[str, Any]:
    """Open incidents by kind, instances by status, due and late timers (also the admin JSON endpoint)."""
    settings = runtime.settings()
    now = runtime.clock().now()
    late_before = now - timedelta(seconds=settings.observability.timer_late_after_seconds)
    try:
        incidents = dict(
            db.session.execute(
                select(EngineIncident.kind, func.count())
                .where(EngineIncident.resolved_at.is_(None))
                .group_by(EngineIncident.kind)
            ).all()
        )
        instances = dict(
            db.session.execute(
                select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
            ).all()
        )
        running_due = (
            ProcessInstance.status == InstanceStatus.RUNNING,
            ProcessInstance.next_timer_at.is_not(None),
        )
        due, oldest = db.session.execute(
            select(func.count(), func.min(ProcessInstance.next_timer_at)).where(
                *running_due, ProcessInstance.next_timer_at <= now
            )
        ).one()
        late = db.session.execute(
            select(func.count()).where(*running_due, ProcessInstance.next_timer_at <= late_before)
        ).scalar_one()
    finally:
        db.session.rollback()
    return {
        "incidents_open": {str(kind): int(n) for kind, n in incidents.items()},
        "instances": {str(status): int(n) for status, n in instances.items()},
        "timers_due": int(due),
        "timers_late": int(late),
        "timer_late_after_seconds": settings.observability.timer_late_after_seconds,
        "oldest_due_timer_seconds": (now - as_utc(oldest)).total_seconds() if oldest is not None else 0.0,
    }


def job_figures() -> dict[str, Any]:
    """Stack mode: jobs waiting and failed per queue, as RQ holds them in Redis."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    connection = runtime.redis()
    waiting, failed = {}, {}
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        waiting[name] = queue.count
        failed[name] = FailedJobRegistry(queue=queue).count
    return {"jobs_waiting": waiting, "jobs_failed": failed}


def read_figures() -> dict[str, Any]:
    """Every scrape-time figure, in the current app context (the scrape's request); a source that does not
    answer is marked down instead of failing the scrape."""
    figures: dict[str, Any] = {"up": {}}
    try:
        figures["engine"] = engine_figures()
        figures["up"]["database"] = 1
    except Exception:
        figures["up"]["database"] = 0
    if runtime.settings().redis_url:
        try:
            figures["jobs"] = job_figures()
            figures["up"]["redis"] = 1
        except Exception:
            figures["up"]["redis"] = 0
    return figures


class AppFigures(Collector):
    """``read_figures`` as gauges (read once, before the registry asks; it asks more than once)."""

    def __init__(self, figures: dict[str, Any]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if "engine" in self.figures:
            yield from _engine_gauges(self.figures["engine"])
        if "jobs" in self.figures:
            yield from _job_gauges(self.figures["jobs"])
        up = GaugeMetricFamily(
            "gridcase_source_up", "Whether a scrape could read a source", labels=["source"]
        )
        for source, value in sorted(self.figures["up"].items()):
            up.add_metric([source], value)
        yield up


def _engine_gauges(figures: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    incidents = GaugeMetricFamily(
        "gridcase_incidents_open",
        "Engine incidents not resolved (resolved_at IS NULL), by kind",
        labels=["kind"],
    )
    for kind, n in sorted(figures["incidents_open"].items()):
        incidents.add_metric([kind], n)
    yield incidents
    yield GaugeMetricFamily(
        "gridcase_incidents_open_all",
        "Engine incidents not resolved",
        value=sum(figures["incidents_open"].values()),
    )
    instances = GaugeMetricFamily("gridcase_instances", "Process instances by status", labels=["status"])
    for status, n in sorted(figures["instances"].items()):
        instances.add_metric([status], n)
    yield instances
    yield GaugeMetricFamily(
        "gridcase_timers_due", "Running instances with a timer due now", value=figures["timers_due"]
    )
    yield GaugeMetricFamily(
        "gridcase_timers_late",
        "Running instances with a timer due for longer than TIMER_LATE_AFTER_SECONDS",
        value=figures["timers_late"],
    )
    yield GaugeMetricFamily(
        "gridcase_timer_oldest_due_seconds",
        "How long the oldest due timer has waited (0 when none is due)",
        value=figures["oldest_due_timer_seconds"],
    )


def _job_gauges(jobs: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    waiting = GaugeMetricFamily("gridcase_jobs_waiting", "Jobs waiting in an RQ queue", labels=["queue"])
    failed = GaugeMetricFamily(
        "gridcase_jobs_failed", "Jobs in an RQ queue's failed registry", labels=["queue"]
    )
    for name in sorted(jobs["jobs_waiting"]):
        waiting.add_metric([name], jobs["jobs_waiting"][name])
        failed.add_metric([name], jobs["jobs_failed"][name])
    yield waiting
    yield failed
