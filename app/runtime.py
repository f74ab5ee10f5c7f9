"""The app's settings, clock and registries, typed: the one place that knows where ``create_app`` keeps them.

Every accessor reads the current app (or the ``app`` given) once. Outside an app context, or on an app that
``create_app`` did not build, it raises :class:`RuntimeUnavailable` naming what was asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from flask import Flask, current_app, has_app_context

if TYPE_CHECKING:
    from redis import Redis

    from app.clock import Clock
    from app.config import Settings
    from app.jobs.outbox import UnsentJobs
    from app.jobs.running import OutboxJob
    from app.timelimits.calendar import WorkingCalendar
    from app.workflow.engine import SpecCache, ValidationRules
    from app.workflow.forms import FormRegistry

# Committed outbox jobs for the embedded runner; see app.jobs.
InlineJobs: TypeAlias = "SimpleQueue[OutboxJob]"

_SETTINGS = "gridcase.settings"
_CLOCK = "gridcase.clock"
_CALENDAR = "gridcase.calendar"
_SPEC_CACHE = "gridcase.spec_cache"
_FORMS = "gridcase.forms"
_DEPLOY_RULES = "gridcase.deploy_rules"
_INLINE_JOBS = "gridcase.inline_jobs"
_REDIS = "gridcase.redis"
_UNSENT_JOBS = "gridcase.unsent_jobs"


class RuntimeUnavailable(RuntimeError):
    """Asked for a part of the app where there is no app (or not one made by ``create_app``)."""


def _app(app: Flask | None, what: str) -> Flask:
    if app is not None:
        return app
    if not has_app_context():
        raise RuntimeUnavailable(f"gridcase {what}: no app context (use `with app.app_context():`)")
    return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]


def _get(app: Flask | None, key: str) -> Any:
    what = key.removeprefix("gridcase.")
    extensions = _app(app, what).extensions
    if key not in extensions:
        raise RuntimeUnavailable(f"gridcase {what}: this app has none (was it made by create_app?)")
    return extensions[key]


# -- reading ---------------------------------------------------------------------------------------


def settings(app: Flask | None = None) -> Settings:
    return cast("Settings", _get(app, _SETTINGS))


# A test run's simulated clock (app.tasks.test_runs): while set, everything in this context (the
# engine's timers and scripts, services' timestamps) reads it instead of the app's clock.
_SIMULATED_CLOCK: ContextVar[Clock | None] = ContextVar("gridcase_simulated_clock", default=None)


def clock(app: Flask | None = None) -> Clock:
    simulated = _SIMULATED_CLOCK.get()
    if simulated is not None:
        return simulated
    return cast("Clock", _get(app, _CLOCK))


@contextmanager
def simulated_clock(simulated: Clock) -> Iterator[None]:
    """Read ``simulated`` as the clock inside the block (this context only: other requests, the scheduler
    and the workers keep the app's clock)."""
    token = _SIMULATED_CLOCK.set(simulated)
    try:
        yield
    finally:
        _SIMULATED_CLOCK.reset(token)


def clock_is_simulated() -> bool:
    return _SIMULATED_CLOCK.get() is not None


def working_calendar(app: Flask | None = None) -> WorkingCalendar:
    """The configured working hours and holidays: time limits count working time. The holiday schedule
    file is re-read here when it changed (a year saved in the admin pages counts at once)."""
    calendar = cast("WorkingCalendar", _get(app, _CALENDAR))
    refresh = getattr(calendar.workday_source, "refresh", None)
    if refresh is not None and refresh():
        calendar.forget_workdays()
    return calendar


def spec_cache(app: Flask | None = None) -> SpecCache:
    """Deployed specs, per app: a definition id is unique only within one database."""
    return cast("SpecCache", _get(app, _SPEC_CACHE))


def forms(app: Flask | None = None) -> FormRegistry:
    return cast("FormRegistry", _get(app, _FORMS))


def deploy_rules(app: Flask | None = None) -> ValidationRules:
    """Fresh validation rules for deploying diagrams (the operators, forms and roles that exist now)."""
    make: Callable[[], ValidationRules] = _get(app, _DEPLOY_RULES)
    return make()


def inline_jobs(app: Flask | None = None) -> InlineJobs:
    return cast(InlineJobs, _get(app, _INLINE_JOBS))


def unsent_jobs(app: Flask | None = None) -> UnsentJobs:
    """Jobs of committed transactions that Redis did not take yet (see app.jobs.UnsentJobs)."""
    return cast("UnsentJobs", _get(app, _UNSENT_JOBS))


def redis(app: Flask | None = None) -> Redis:
    """The Redis connection (stack mode only: ``settings().redis_url`` is set)."""
    return cast("Redis", _get(app, _REDIS))


# -- installing (create_app and its init steps) -----------------------------------------------------


def install_core(app: Flask, settings: Settings, clock: Clock) -> None:
    app.extensions[_SETTINGS] = settings
    app.extensions[_CLOCK] = clock
    app.extensions[_CALENDAR] = settings.working_calendar()


def install_workflow(
    app: Flask, spec_cache: SpecCache, forms: FormRegistry, deploy_rules: Callable[[], ValidationRules]
) -> None:
    app.extensions[_SPEC_CACHE] = spec_cache
    app.extensions[_FORMS] = forms
    app.extensions[_DEPLOY_RULES] = deploy_rules


def install_jobs(app: Flask, inline_jobs: InlineJobs, unsent_jobs: UnsentJobs, redis: Redis | None) -> None:
    app.extensions[_INLINE_JOBS] = inline_jobs
    app.extensions[_UNSENT_JOBS] = unsent_jobs
    if redis is not None:
        app.extensions[_REDIS] = redis


def swap_clock(app: Flask, clock: Clock) -> Clock:
    """Make ``clock`` the app's clock (services, workflow timers and script ``now()`` all ask it); returns
    the previous one so the caller can put it back."""
    previous = cast("Clock", app.extensions[_CLOCK])
    app.extensions[_CLOCK] = clock
    return previous
