"""Fire due timers. The database says what is due (``process_instance.next_timer_at``); Redis only carries
the work, so losing Redis loses no timer: the next tick finds it again. The same round looks after the job
outbox (``app.jobs.recovery``): jobs Redis did not take or lost, retries that are due."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from app import metrics, runtime
from app.errors import DomainError
from app.extensions import db
from app.jobs import ENGINE_QUEUE, enqueue_now, run_inline_jobs
from app.jobs.recovery import outbox_round
from app.workflow import incidents, instances, timer_starts
from app.workflow.engine import EngineError
from app.workflow.models import IncidentKind, InstanceStatus

log = logging.getLogger(__name__)

# Periodic checks other packages hook into the scheduler's round (the workflow package imports no domain
# package): name → a function that does its work in the current transaction and returns how much it did.
PERIODIC: dict[str, Callable[[], int]] = {}


def register_periodic(name: str, check: Callable[[], int]) -> None:
    PERIODIC[name] = check


def run_periodic() -> int:
    """Run every periodic check in its own transaction; one failing check does not stop the others."""
    done = 0
    for name, check in PERIODIC.items():
        try:
            done += check()
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("periodic check %s failed", name)
    return done


def fire_timers_job(instance_id: int) -> bool:
    """Job: run one instance's due timers in its own transaction. A failing step parks the instance."""
    try:
        outcome = instances.fire_due_timers(instance_id)
        parked = outcome.incident.reason if outcome is not None and outcome.incident is not None else None
        db.session.commit()
        if parked is not None:  # the step is stored with its incident: an operator repairs it
            log.warning("instance %s parked by a timer: %s", instance_id, parked)
        if outcome is not None:
            metrics.TIMERS_FIRED.labels("failed" if parked is not None else "ok").inc()
        return outcome is not None
    except (EngineError, DomainError) as exc:
        metrics.TIMERS_FIRED.labels("failed").inc()
        db.session.rollback()
        element_id = exc.element_id if isinstance(exc, EngineError) else None
        instances.mark_failed(instance_id, IncidentKind.TIMER, str(exc), element_id)
        db.session.commit()
        log.warning("instance %s failed on a timer: %s", instance_id, exc)
        return False


def park_on_job_failure(instance_id: int, reason: str, details: dict[str, Any]) -> None:
    """A job concerning ``instance_id`` failed after its last retry (``app.jobs.on_instance_job_failed``): an
    incident of kind ``job`` parks the instance, in the transaction recording the failure. Not when it is
    over (completed, terminated) or parked already: the failed job is listed for admins either way."""
    instance = instances.lock_instance_where(instance_id)
    if instance is None or instance.status not in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED):
        return
    if incidents.open_incident_of(instance_id) is not None:
        return
    incidents.open_incident(
        instance, kind=IncidentKind.JOB, reason=f"后台任务重试后仍失败: {reason}", details=details
    )


def tick(limit: int = 500) -> int:
    """Find instances with due timers and fire them (embedded) or queue them (stack), start the processes
    whose timer start is due (in this round, both modes: ``timer_starts``), then run the periodic checks
    and the outbox's round. Returns how many timers and how much periodic work (the outbox's work is
    logged, not counted)."""
    due = instances.due_instance_ids(limit)
    db.session.rollback()  # end the read transaction before doing work
    done = 0
    if runtime.settings().redis_url:
        for instance_id in due:
            done += enqueue_now(
                ENGINE_QUEUE,
                fire_timers_job,
                instance_id,
                job_id=f"timers-{instance_id}",
                instance_id=instance_id,
            )
    else:
        for instance_id in due:
            # Each instance's failure is its own: the round goes on with the next one.
            try:
                fire_timers_job(instance_id)
                done += 1
            except Exception:
                db.session.rollback()
                log.exception("timers of instance %s could not be fired", instance_id)
    done += timer_starts.run_round()  # processes started by a timer: planned and fired in the database
    done += run_periodic()
    _outbox_round()
    return done


def _outbox_round() -> None:
    try:
        report = outbox_round()
    except Exception:
        db.session.rollback()
        log.exception("the job outbox round failed")
        return
    if report.total():
        log.info("job outbox round: %s", report)


class EmbeddedRunner(threading.Thread):
    """Embedded mode's stand-in for the scheduler and workers: ticks timers and runs queued jobs."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(name="gridcase-embedded-runner", daemon=True)
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            with self.app.app_context():
                try:
                    tick()
                    run_inline_jobs()
                # Keep ticking: one bad round must not stop all timers. The sandbox turns designer code's
                # SystemExit and GeneratorExit into errors; caught here too, should anything else raise them.
                except (Exception, SystemExit, GeneratorExit):
                    log.exception("embedded runner round failed")
                finally:
                    db.session.remove()

    def stop(self) -> None:
        self.stopping.set()


def start_embedded_runner(app: Flask) -> EmbeddedRunner:
    runner = EmbeddedRunner(app, runtime.settings(app).scheduler_interval_seconds)
    runner.start()
    return runner


def run_scheduler_forever(app: Any, interval: float) -> None:
    """``flask scheduler``: tick every ``interval`` seconds until SIGTERM or SIGINT, which let the round in
    progress finish (its transactions commit or roll back whole) and then end the loop."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(interval):
        with app.app_context():
            try:
                queued = tick()
                if queued:
                    log.info("queued %d instances with due timers", queued)
            except Exception:
                log.exception("scheduler tick failed")
            finally:
                db.session.remove()
