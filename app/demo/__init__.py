"""The demo district for ``make run`` (``flask seed-demo``): 郫都区 with one street, two communities and
sixteen comprehensive grids; grid workers, leaders, community staff, coordinators, a dispatcher and a
supervisor on their grids; units of every kind with their handlers; the category catalogue; and a few
hundred historic cases over the last three months, played through the real services with the clock set
back, so rows, tasks, timers and the audit trail agree.

Idempotent: what exists is kept; the historic cases are made once (an audit event marks it). Reproducible:
the same seed gives the same people, titles, places and outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app import runtime
from app.audit.models import AuditEvent
from app.audit.services import record
from app.categories.models import Category
from app.categories.services import sync_catalogue
from app.clock import FrozenClock, now
from app.demo.people import Cast, DemoUser, cast_for, ensure_people, ensure_territory
from app.demo.places import ensure_places
from app.demo.plans import DAYS, make_plans
from app.demo.walker import Context, app_clock, walk_case
from app.extensions import db
from app.jobs import run_inline_jobs
from app.workflow import deploy
from app.workflow.models import ProcessDefinition

DEFAULT_CASES = 300
DEFAULT_SEED = 7
TERRITORY_SEED = 7  # the territory never changes with --seed: an existing tree must stay importable
SEEDED = "demo.seeded"

Progress = Callable[[int], None]


@dataclass
class DemoReport:
    grids: int = 0
    units: int = 0
    users: int = 0
    categories: int = 0
    places: int = 0  # inspection places
    cases: int = 0
    cases_skipped: bool = False
    statuses: dict[str, int] = field(default_factory=dict)
    cast: Cast | None = None


def _ensure_deployed() -> None:
    if not db.session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one():
        deploy.deploy_folder(
            runtime.settings().bpmn_folder,
            runtime.deploy_rules(),
        )


def _active_subclasses() -> list[tuple[str, str, str]]:
    rows = db.session.execute(
        select(Category.code, Category.name, Category.default_severity)
        .where(Category.active.is_(True), func.length(Category.code) == 5)
        .order_by(Category.code)
    ).all()
    return [(row.code, row.name, row.default_severity) for row in rows]


def already_seeded() -> bool:
    return db.session.execute(select(AuditEvent.id).where(AuditEvent.action == SEEDED)).first() is not None


def seed_demo(
    password: str = "gridcase-demo",
    *,
    cases: int = DEFAULT_CASES,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    on_plans: Callable[[int], Any] | None = None,
) -> DemoReport:
    """Load the demo district. Commits: first the territory, people, units and catalogue, then all the
    historic cases at once (a failure leaves none of them). ``on_plans(n)`` is told how many cases will be
    walked, ``progress(1)`` after each."""
    report = DemoReport()
    end = now()
    _ensure_deployed()
    # The district, its people and units were there before the history began.
    with app_clock(FrozenClock(end - timedelta(days=DAYS + 1))):
        territory, report.grids = ensure_territory(TERRITORY_SEED)
        cast = cast_for(territory, seed)
        report.cast = cast
        method = runtime.settings().password_hash_method
        people = ensure_people(cast, password, method)
        report.users, report.units = people.users, people.units
        report.categories = len(sync_catalogue().created)
        report.places = ensure_places(territory, seed)
        db.session.commit()

    if cases == 0:
        return report  # people only: a later run may still make the history
    if already_seeded():
        report.cases_skipped = True
        return report
    plans = make_plans(cases, seed, end, cast, territory, _active_subclasses())
    if on_plans is not None:
        on_plans(len(plans))
    context = Context(cast, end)
    clock = FrozenClock(end)
    try:
        with app_clock(clock):
            statuses: dict[str, int] = {}
            for plan in plans:
                case = walk_case(plan, context, clock)
                statuses[case.status] = statuses.get(case.status, 0) + 1
                if progress is not None:
                    progress(1)
            clock.set(end)
            record(
                SEEDED, entity_type="demo", entity_id=seed, data={"cases": len(plans), "statuses": statuses}
            )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    report.cases, report.statuses = len(plans), statuses
    run_inline_jobs()  # embedded mode: the photos' thumbnails, queued by the commit (stack mode: RQ has them)
    return report


def demo_logins(cast: Cast) -> list[DemoUser]:
    """The cast in the order the login table lists them."""
    order = [
        "admin",
        "designer",
        "dispatcher",
        "supervisor",
        "district_coordinator",
        "street_coordinator",
        "community_staff",
        "grid_leader",
        "grid_worker",
        "department_handler",
        "resident",
    ]
    return sorted(cast.users, key=lambda u: order.index(u.role) if u.role in order else 99)


__all__ = ["DEFAULT_CASES", "DEFAULT_SEED", "DemoReport", "demo_logins", "seed_demo"]
