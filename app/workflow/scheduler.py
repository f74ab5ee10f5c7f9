"""Fire due timers. The database says what is due (``process_instance.next_timer_at``); Redis only carries
the work, so losing Redis loses no timer: the next tick finds it again."""

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
from app.workflow import instances
from app.workflow.engine import EngineError
from app.workflow.models import IncidentKind

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
        db.session.commit()
        if outcome is not None:
            metrics.TIMERS_FIRED.labels("ok").inc()
        return outcome is not None
    except (EngineError, DomainError) as exc:
        metrics.TIMERS_FIRED.labels("failed").inc()
        db.session.rollback()
        element_id = exc.element_id if isinstance(exc, EngineError) else None
        instances.mark_failed(instance_id, IncidentKind.TIMER, str(exc), element_id)
        db.session.commit()
        log.warning("instance %s failed on a timer: %s", instance_id, exc)
        return False


def tick(limit: int = 500) -> int:
    """Find instances with due timers and fire them (embedded) or queue them (stack), then run the periodic
    checks. Returns how many timers and how much periodic work."""
    due = instances.due_instance_ids(limit)
    db.session.rollback()  # end the read transaction before doing work
    if runtime.settings().redis_url:
        queued = 0
        for instance_id in due:
            queued += enqueue_now(ENGINE_QUEUE, fire_timers_job, instance_id, job_id=f"timers-{instance_id}")
        return queued + run_periodic()
    for instance_id in due:
        fire_timers_job(instance_id)
    return len(due) + run_periodic()


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
                except Exception:  # keep ticking: one bad round must not stop all timers
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
